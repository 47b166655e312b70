"""The 68 iBUG (300-W) points the Y-Net was trained on, taken from MediaPipe's 468-point face mesh.

Each iBUG point is the mesh vertex at the same place on the face, chosen from the mesh's published
contours (face oval, eyebrows, eyes, lips; MediaPipe's ``face_mesh_connections``): iBUG's order runs along
each contour as 300-W annotates it, the subject's right side (the image's left) first. The five points the
alignment uses are 33 (below the nose), 36 and 39 (the right eye's corners), 42 and 45 (the left eye's).
"""

from __future__ import annotations

import numpy as np

JAW = (127, 234, 93, 132, 58, 172, 136, 149, 152, 378, 365, 397, 288, 361, 323, 454, 356)  # 0-16, chin 8
RIGHT_BROW = (70, 63, 105, 66, 107)  # 17-21, outer end to inner
LEFT_BROW = (336, 296, 334, 293, 300)  # 22-26, inner end to outer
NOSE_BRIDGE = (168, 197, 5, 4)  # 27-30, between the eyes down to the tip
NOSE_BASE = (98, 97, 2, 326, 327)  # 31-35, right nostril wing, below the tip, left wing
RIGHT_EYE = (33, 160, 158, 133, 153, 144)  # 36-41: outer corner, upper lid, inner corner, lower lid
LEFT_EYE = (362, 385, 387, 263, 373, 380)  # 42-47: inner corner, upper lid, outer corner, lower lid
OUTER_LIPS = (61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91)  # 48-59: right corner, over the top, back
INNER_LIPS = (78, 81, 13, 311, 308, 402, 14, 178)  # 60-67: right corner, over the top, back under

MESH_TO_IBUG = np.array(
    JAW + RIGHT_BROW + LEFT_BROW + NOSE_BRIDGE + NOSE_BASE + RIGHT_EYE + LEFT_EYE + OUTER_LIPS + INNER_LIPS
)
STABLE = (33, 36, 39, 42, 45)  # the points the original aligned on: they move least when a face speaks


def ibug68(mesh: np.ndarray) -> np.ndarray:
    """(..., 468, 2) mesh points -> (..., 68, 2) iBUG points."""
    return mesh[..., MESH_TO_IBUG, :]
