"""Load weights of the original PyTorch Y-Net (a ``state_dict``) into cunet's Y-Net.

The state dict comes from a ``.npz`` of arrays, or from a ``.pth`` checkpoint when torch is installed
(the authors' released ``y_net_*7.pth`` files). Every entry must find its place, and every weight of
the Keras model must be set, or loading fails with the names that did not match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from ..errors import InputError
from .graph_net import face_adjacency

IGNORED = re.compile(r"(num_batches_tracked$|^wav2sp|^sp2mel|^mel2sp|^sp2wav|^graph_net\.A$)")


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an original Y-Net ``state_dict``, by name, from a ``.npz`` or (with torch) a ``.pth`` or
    ``.pt`` checkpoint; a checkpoint's ``state_dict`` entry is unwrapped and DataParallel's ``module.`` prefix
    dropped.

    Raises:
        InputError: another suffix, or a checkpoint without torch installed.
    """
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    if path.suffix in (".pth", ".pt"):
        try:
            import torch
        except ImportError:
            raise InputError(path, "reading a .pth checkpoint needs torch; or convert it to .npz") from None
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state)
        return {k.removeprefix("module."): v.detach().cpu().numpy() for k, v in state.items()}
    raise InputError(path, "expected a .npz of arrays or a .pth state_dict")


def _bn(prefix):
    return [f"{prefix}.weight", f"{prefix}.bias", f"{prefix}.running_mean", f"{prefix}.running_var"]


def _as_list(*arrays):
    return list(arrays)


def _conv(w):
    return w.transpose(*range(2, w.ndim), 1, 0)  # (out, in, *k) -> (*k, in, out)


def _plan(model: keras.Model) -> list[tuple[keras.layers.Layer, list[str], Callable[..., list]]]:
    """(layer, state-dict keys, how to turn those arrays into the layer's weights) for every layer."""
    plan: list[tuple[keras.layers.Layer, list[str], Callable[..., list]]] = []
    layers = {layer.name: layer for layer in model.layers}
    n = sum(1 for name in layers if re.fullmatch(r"encoder\d+_conv", name))
    for i in range(n):
        plan += [
            (layers[f"encoder{i}_conv"], [f"encoder.{i}.layer.0.weight"], lambda w: [_conv(w)]),
            (layers[f"encoder{i}_bn"], _bn(f"encoder.{i}.layer.1"), _as_list),
        ]
    for i in range(n + 1):
        plan += [
            (layers[f"decoder{i}_conv"], [f"decoder.{i}.layer.0.weight"], lambda w: [_conv(w)]),
            (layers[f"decoder{i}_bn"], _bn(f"decoder.{i}.layer.1"), _as_list),
        ]
    plan.append((layers["mask"], ["final_conv.weight", "final_conv.bias"], lambda w, b: [_conv(w), b]))
    if "film_scale" in layers:
        for ours, theirs in (("film_scale", "scaling"), ("film_shift", "bias")):
            plan.append(
                (layers[ours], [f"fusion_layer.{theirs}.weight", f"fusion_layer.{theirs}.bias"], lambda w, b: [w.T, b])
            )
    if "graph_net" in layers:
        plan += _graph_plan(layers["graph_net"])
    if "video_net" in layers:
        plan += _video_plan(layers["video_net"])
    return plan


def _graph_plan(net):
    get, p = net.get_layer, "graph_net"
    plan = [(get("data_bn"), _bn(f"{p}.data_bn"), _as_list)]
    for i in range(8):
        q, ours = f"{p}.st_gcn_networks.{i}", f"st_gcn{i}"
        plan += [
            (
                get(f"{ours}_gcn"),
                [f"{q}.gcn.conv.weight", f"{q}.gcn.conv.bias", f"{q}.edge_importance"],
                lambda w, b, imp: [w[:, :, 0, 0].T, b, imp, face_adjacency()],
            ),
            (get(f"{ours}_tcn_bn1"), _bn(f"{q}.tcn.0"), _as_list),
            (get(f"{ours}_tcn_conv"), [f"{q}.tcn.2.weight", f"{q}.tcn.2.bias"], lambda w, b: [_conv(w), b]),
            (get(f"{ours}_tcn_bn2"), _bn(f"{q}.tcn.3"), _as_list),
        ]
        if f"{ours}_res_conv" in [layer.name for layer in net.layers]:
            plan += [
                (
                    get(f"{ours}_res_conv"),
                    [f"{q}.residual.0.weight", f"{q}.residual.0.bias"],
                    lambda w, b: [_conv(w), b],
                ),
                (get(f"{ours}_res_bn"), _bn(f"{q}.residual.1"), _as_list),
            ]
    return plan


def _video_plan(net):
    names = {layer.name for layer in net.layers}
    p = "motion_net"
    plan = [
        (net.get_layer("stem_conv"), [f"{p}.stem.0.weight"], lambda w: [_conv(w)]),
        (net.get_layer("stem_bn"), _bn(f"{p}.stem.1"), _as_list),
    ]
    for stage in (1, 2, 3):
        for block in (0, 1):
            ours, theirs = f"layer{stage}_{block}", f"{p}.layer{stage}.{block}"
            for conv in ("conv1", "conv2"):
                plan += [
                    (net.get_layer(f"{ours}_{conv}_conv"), [f"{theirs}.{conv}.0.weight"], lambda w: [_conv(w)]),
                    (net.get_layer(f"{ours}_{conv}_bn"), _bn(f"{theirs}.{conv}.1"), _as_list),
                ]
            if f"{ours}_down_conv" in names:
                plan += [
                    (net.get_layer(f"{ours}_down_conv"), [f"{theirs}.downsample.0.weight"], lambda w: [_conv(w)]),
                    (net.get_layer(f"{ours}_down_bn"), _bn(f"{theirs}.downsample.1"), _as_list),
                ]
    return plan


def load_original_ynet(model: keras.Model, state: dict[str, np.ndarray], source: str = "state_dict") -> None:
    """Copy an original Y-Net ``state_dict`` into ``model`` (built with the matching config)."""
    if "graph_net.A" in state and not np.allclose(state["graph_net.A"], face_adjacency(), atol=1e-6):
        raise InputError(source, "the checkpoint's face graph differs from cunet's 68-point layout")
    used = set()
    for layer, keys, convert in _plan(model):
        missing = [k for k in keys if k not in state]
        if missing:
            raise InputError(source, f"missing {missing} for layer {layer.name!r}; is the model config right?")
        arrays = convert(*(np.asarray(state[k], dtype=np.float32) for k in keys))
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            raise InputError(
                source,
                f"{keys[0]}: shapes {[a.shape for a in arrays]} do not fit layer "
                f"{layer.name!r} {expected}; are the widths and depth right?",
            )
        layer.set_weights(arrays)
        used.update(keys)
    left = sorted(k for k in state if k not in used and not IGNORED.search(k))
    if left:
        raise InputError(source, f"{len(left)} checkpoint entries have no place in this model, e.g. {left[:4]}")
