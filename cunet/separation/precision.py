"""The network's compute precision at separation: bfloat16 where the CPU has native bf16 units; int8 on request."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512-BF16 or AMX), which oneDNN then uses."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve(precision: str) -> str:
    """``auto`` -> bfloat16 on the TensorFlow backend over a CPU with native bf16, float32 elsewhere."""
    import keras

    if precision != "auto":
        return precision
    return "bfloat16" if keras.backend.backend() == "tensorflow" and native_bfloat16() else "float32"


def _output_layers(model) -> set[str]:
    """The layers that make the model's outputs and, for a weightless one (a product, a concatenation),
    the layers feeding it: cunet's builders keep these in float32 under mixed precision (masks, logits)."""
    keep = set()
    for tensor in model.outputs:
        layer = tensor._keras_history.operation
        keep.add(layer.name)
        if not layer.weights:
            for node in layer._inbound_nodes:
                keep |= {t._keras_history.operation.name for t in node.input_tensors}
    return keep


def with_precision(model, card, precision: str, batch_size: int | None = None):
    """``model`` computing in ``precision`` (float32 or bfloat16), same weights; variables, and the layers
    that make the outputs (``card``'s masks or logits), stay float32. int8 (a U-Net's or C-U-Net's): the
    network converted to LiteRT for batches of ``batch_size`` (quantized.py), which predicts as the Keras
    model does.

    Raises:
        InputError: int8 asked of another model family, or off the TensorFlow backend.
    """
    if precision == "int8":
        if card.model not in ("unet", "cunet"):
            raise InputError(None, f"--precision int8 is for U-Nets and C-U-Nets, not a {card.model}")
        if batch_size is None:
            raise ValueError("int8 converts the network for one batch size: give batch_size")
        from .quantized import QuantizedNetwork

        return QuantizedNetwork(model, batch_size)
    import keras

    policy = "float32" if precision == "float32" else "mixed_bfloat16"
    wanted = {name: "float32" for name in _output_layers(model)}

    def layers(m):  # every computing layer, those of nested models (a Y-Net's visual branch) included
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                yield from layers(layer)
            elif not isinstance(layer, keras.layers.InputLayer):
                yield layer

    if all(layer.dtype_policy.name == wanted.get(layer.name, policy) for layer in layers(model)):
        return model

    def rebuild(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": wanted.get(layer.name, policy)})

    clone = keras.models.clone_model(model, clone_function=rebuild, recursive=True)
    clone.set_weights(model.get_weights())
    return clone
