"""Y-Net-g's visual front end: a spatial-temporal graph network (ST-GCN, Yan et al. 2018) on the 68
face landmarks, 8 blocks from 32 to 256 channels, averaged over the joints and resampled to 16 steps.

Input (B, T, 68, 2) pixel coordinates -> (B, 16, 256).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .config import ModelConfig
from .resample import TimeResample

BN = {"momentum": 0.9, "epsilon": 1e-5}
# Chains of the 68-point (iBUG) face, each open: jaw, brows, nose bridge, nostrils, eyes, outer and inner lips.
FACE_PARTS = ((0, 16), (17, 21), (22, 26), (27, 30), (31, 35), (36, 41), (42, 47), (48, 59), (60, 67))
CENTER = 0
# (out channels, temporal stride, residual) of the 8 blocks
BLOCKS = (
    (32, 1, False),
    (32, 1, True),
    (64, 2, True),
    (64, 1, True),
    (128, 2, True),
    (128, 1, True),
    (256, 2, True),
    (256, 1, True),
)


def face_adjacency(n: int = 68) -> np.ndarray:
    """(3, 68, 68) spatial-partition adjacency: root, closer to and further from the centre node.

    Edges join consecutive points within each part; self-loops are included; columns are normalised
    by node degree (A D^-1), as in ST-GCN's "spatial" strategy with max_hop 1. As there, distances to
    the centre are only known up to max_hop: every node further away counts as infinitely far, so
    edges between such nodes fall in the "root" partition.
    """
    edges = [(i, i + 1) for a, b in FACE_PARTS for i in range(a, b)]
    link = np.eye(n, dtype=bool)
    for i, j in edges:
        link[i, j] = link[j, i] = True
    hop = np.full(n, np.inf)
    hop[link[CENTER]] = 1
    hop[CENTER] = 0
    norm = link / link.sum(0, keepdims=True)
    root, closer, further = (np.zeros((n, n), np.float32) for _ in range(3))
    for j, i in zip(*np.nonzero(link)):
        if hop[j] == hop[i]:
            root[j, i] = norm[j, i]
        elif hop[j] > hop[i]:
            closer[j, i] = norm[j, i]
        else:
            further[j, i] = norm[j, i]
    self_loops = np.diag(np.diag(root))  # hop 0: the node itself
    return np.stack([self_loops, root - self_loops + closer, further]).astype(np.float32)


@keras.saving.register_keras_serializable(package="cunet")
class GraphConv(keras.layers.Layer):
    """x (B, T, V, C) -> (B, T, V, out): a 1x1 conv to K*out channels, summed over partitions k through
    the fixed adjacency A_k times a learnt edge importance (initialised to ones)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, shape):
        adjacency = face_adjacency(shape[2])
        self.k = adjacency.shape[0]
        self.kernel = self.add_weight(
            name="kernel", shape=(shape[-1], self.k * self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.k * self.units,), initializer="zeros")
        self.importance = self.add_weight(name="edge_importance", shape=adjacency.shape, initializer="ones")
        self.adjacency = self.add_weight(
            name="adjacency", shape=adjacency.shape, trainable=False, initializer=keras.initializers.Constant(adjacency)
        )

    def call(self, x):
        y = ops.einsum("btvc,cd->btvd", x, self.kernel) + self.bias
        y = ops.reshape(y, (-1, x.shape[1], x.shape[2], self.k, self.units))
        return ops.einsum("btvkc,kvw->btwc", y, self.adjacency * self.importance)

    def compute_output_shape(self, shape):
        return (*shape[:3], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _block(x, units, stride, residual, name):
    if not residual:
        shortcut = None
    elif stride == 1 and x.shape[-1] == units:
        shortcut = x
    else:
        # The stride is taken by a 1x1 pooling (a plain subsampling) before a 1x1 convolution of stride 1,
        # which is the same function: oneDNN's weight gradient of a strided 1x1 convolution with fewer than
        # 16 channels in and out crashes the process (SIGSEGV, TensorFlow 2.21 on CPU), which narrowed
        # graph_widths reach.
        step = x if stride == 1 else layers.MaxPooling2D((1, 1), strides=(stride, 1), name=f"{name}_res_step")(x)
        shortcut = layers.Conv2D(units, 1, name=f"{name}_res_conv")(step)
        shortcut = layers.BatchNormalization(**BN, name=f"{name}_res_bn")(shortcut)
    y = GraphConv(units, name=f"{name}_gcn")(x)
    y = layers.BatchNormalization(**BN, name=f"{name}_tcn_bn1")(y)
    y = layers.ReLU(name=f"{name}_tcn_relu")(y)
    y = layers.ZeroPadding2D(((2, 2), (0, 0)), name=f"{name}_tcn_pad")(y)
    y = layers.Conv2D(units, (5, 1), strides=(stride, 1), name=f"{name}_tcn_conv")(y)
    y = layers.BatchNormalization(**BN, name=f"{name}_tcn_bn2")(y)
    if shortcut is not None:
        y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def build_graph_net(cfg: ModelConfig) -> keras.Model:
    """The ST-GCN as a model of its own: (B, video_frames, 68, 2) landmarks -> (B, visual_steps, C), C the last
    block's width (256, or the last of ``graph_widths``)."""
    marks = keras.Input((cfg.video_frames, 68, 2), name="graph_net_input")
    # Batch norm over the 136 (joint, coordinate) features, joint-major as the original lays them out.
    x = layers.Reshape((cfg.video_frames, 136), name="data_flatten")(marks)
    x = layers.BatchNormalization(**BN, name="data_bn")(x)
    x = layers.Reshape((cfg.video_frames, 68, 2), name="data_unflatten")(x)
    widths = cfg.graph_widths or [units for units, _, _ in BLOCKS]
    for i, ((_, stride, residual), units) in enumerate(zip(BLOCKS, widths)):
        x = _block(x, units, stride, residual, f"st_gcn{i}")
    x = JointMean(name="joint_mean")(x)
    return keras.Model(marks, TimeResample(cfg.visual_steps, "nearest", name="time_resample")(x), name="graph_net")


@keras.saving.register_keras_serializable(package="cunet")
class JointMean(keras.layers.Layer):
    """(B, T, V, C) -> (B, T, C): the mean over the graph's nodes."""

    def call(self, x):
        return ops.mean(x, axis=2)

    def compute_output_shape(self, shape):
        return (shape[0], shape[1], shape[3])
