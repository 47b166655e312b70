"""The store: what ``python -m cunet.preprocess`` writes and training, separation and scoring read.

``manifest.py`` holds the format (its name and version, the fields every part of a manifest has, and the
functions that write a manifest); ``reader.py`` reads a store and checks it against that format.
"""

from .reader import Store

__all__ = ["Store"]
