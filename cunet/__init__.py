"""cunet: conditioned source separation (C-U-Net, Y-Net) in Keras 3."""

__version__ = "0.1.0"
