"""A synthetic singing face: 68 iBUG landmarks and the 128x96 aligned crop drawn from the same geometry.

Coordinates are (x, y) pixels in the 96-wide, 128-high crop, as the Acappella landmarks. The mouth
opening (inner-lip gap, points 62 and 66) and width follow the voice controls of ``voice.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

HEIGHT, WIDTH = 128, 96
CX = WIDTH / 2


@dataclasses.dataclass(frozen=True)
class FaceStyle:
    """What makes two synthetic faces look different."""

    skin: tuple[float, float, float]
    lips: tuple[float, float, float]
    hair: tuple[float, float, float]
    background: tuple[float, float, float]
    face_half_width: float
    eye_y: float
    eye_dx: float
    mouth_y: float
    mouth_half_width: float
    max_open: float  # inner-lip gap in pixels at full opening

    @staticmethod
    def random(rng: np.random.Generator) -> FaceStyle:
        tone = rng.uniform(0.35, 0.95)
        skin = (tone * 235, tone * 190 + 10, tone * 160 + 15)
        return FaceStyle(
            skin=skin,
            lips=(rng.uniform(150, 210), rng.uniform(50, 90), rng.uniform(60, 100)),
            hair=tuple(rng.uniform(10, 120, 3) * [1.0, 0.8, 0.6]),
            background=tuple(rng.uniform(30, 220, 3)),
            face_half_width=float(rng.uniform(33, 40)),
            eye_y=float(rng.uniform(48, 54)),
            eye_dx=float(rng.uniform(14, 17)),
            mouth_y=float(rng.uniform(90, 96)),
            mouth_half_width=float(rng.uniform(10, 13)),
            max_open=float(rng.uniform(13, 17)),
        )


def _geometry(style: FaceStyle, mouth_open: np.ndarray, mouth_width: np.ndarray, blink: np.ndarray) -> dict:
    """Per-frame shape parameters, shared by the landmarks and the drawing."""
    gap = style.max_open * np.clip(mouth_open, 0, 1)
    return {
        "gap": gap,
        "jaw": 0.6 * gap,
        "half_width": style.mouth_half_width * (0.75 + 0.35 * np.clip(mouth_width, 0, 1)) * (1 - 0.01 * gap),
        "eye_half_height": 2.8 * (1 - np.clip(blink, 0, 1)) + 0.2,
        "face_top": 14.0,
        "face_cy": style.eye_y + 4,
        "chin": HEIGHT - 10 - style.eye_y - 4,
    }


def landmarks(style: FaceStyle, mouth_open: np.ndarray, mouth_width: np.ndarray, blink: np.ndarray) -> np.ndarray:
    """(T, 68, 2) float landmarks in the iBUG order."""
    g = _geometry(style, mouth_open, mouth_width, blink)
    t = len(g["gap"])
    pts = np.zeros((t, 68, 2))
    th = np.pi * np.arange(17) / 16
    pts[:, :17, 0] = CX - style.face_half_width * np.cos(th)
    pts[:, :17, 1] = g["face_cy"] + (g["chin"] + g["jaw"][:, None]) * np.sin(th)
    for side, first in ((-1, 17), (1, 22)):  # eyebrows, drawn left to right
        x = CX + side * style.eye_dx + np.linspace(-7, 7, 5)
        pts[:, first : first + 5, 0] = x
        pts[:, first : first + 5, 1] = style.eye_y - 8 - 2 * np.cos((x - CX - side * style.eye_dx) / 7 * np.pi / 2)
    pts[:, 27:31, 0] = CX
    pts[:, 27:31, 1] = np.linspace(style.eye_y, style.mouth_y - 16, 4)
    pts[:, 31:36, 0] = CX + np.linspace(-6, 6, 5)
    pts[:, 31:36, 1] = style.mouth_y - 13 + np.abs(np.linspace(-2, 2, 5))
    eye_angles = np.radians([180, 120, 60, 0, -60, -120])
    for side, first in ((-1, 36), (1, 42)):
        ex = CX + side * style.eye_dx
        angles = eye_angles if side < 0 else np.pi - eye_angles[[3, 2, 1, 0, 5, 4]]
        pts[:, first : first + 6, 0] = ex + 6 * np.cos(angles)
        pts[:, first : first + 6, 1] = style.eye_y - g["eye_half_height"][:, None] * np.sin(angles)
    hw, half_gap = g["half_width"][:, None], g["gap"][:, None] / 2
    outer = np.radians([180, 150, 120, 90, 60, 30, 0, -30, -60, -90, -120, -150])
    lip = np.where(np.sin(outer) > 0, 3.0, 4.0)  # upper and lower lip thickness
    pts[:, 48:60, 0] = CX + hw * np.cos(outer)
    pts[:, 48:60, 1] = style.mouth_y - (half_gap + lip) * np.sin(outer)
    inner = np.radians([180, 135, 90, 45, 0, -45, -90, -135])
    pts[:, 60:68, 0] = CX + 0.8 * hw * np.cos(inner)
    pts[:, 60:68, 1] = style.mouth_y - half_gap * np.sign(np.round(np.sin(inner), 6)) * np.abs(np.sin(inner)) ** 0.5
    return pts


def _ellipse(xx, yy, cx, cy, a, b_top, b_bottom=None):
    """Soft (anti-aliased) filled ellipse; parameters broadcast over frames."""
    b = b_top if b_bottom is None else np.where(yy < cy, b_top, b_bottom)
    r = np.sqrt(((xx - cx) / a) ** 2 + ((yy - cy) / np.maximum(b, 1e-3)) ** 2)
    return np.clip((1 - r) * np.minimum(a, np.maximum(b, 0.3)) + 0.5, 0, 1)[..., None]


def _paint(img, xx, yy, colour, cx, cy, a, b_top, b_bottom=None):
    """Paint a soft ellipse, computing only inside its bounding box (the face is mostly static)."""
    reach_y = float(np.max(b_top if b_bottom is None else np.maximum(b_top, b_bottom))) + 2
    reach_x = float(np.max(a)) + 2
    rows = slice(max(0, int(cy - reach_y)), min(HEIGHT, int(np.ceil(cy + reach_y)) + 1))
    cols = slice(max(0, int(cx - reach_x)), min(WIDTH, int(np.ceil(cx + reach_x)) + 1))
    alpha = _ellipse(xx[rows, cols], yy[rows, cols], cx, cy, a, b_top, b_bottom)
    region = img[:, rows, cols]
    region *= 1 - alpha
    region += alpha * np.asarray(colour, dtype=np.float32)
    return alpha, rows, cols


def render(
    style: FaceStyle,
    mouth_open: np.ndarray,
    mouth_width: np.ndarray,
    blink: np.ndarray,
    rng: np.random.Generator,
    chunk: int = 250,
) -> np.ndarray:
    """(T, 128, 96, 3) uint8 frames of the face."""
    g = _geometry(style, mouth_open, mouth_width, blink)
    t = len(g["gap"])
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    background = np.asarray(style.background, np.float32) * (0.85 + 0.15 * yy / HEIGHT)[None, ..., None]
    out = np.empty((t, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for s in range(0, t, chunk):
        sl = slice(s, min(t, s + chunk))
        col = lambda v, sl=sl: np.asarray(v[sl], dtype=np.float32)[:, None, None]  # noqa: E731
        img = np.repeat(background, sl.stop - sl.start, axis=0)
        jaw = col(g["jaw"])
        _paint(
            img, xx, yy, style.hair, CX, g["face_cy"], style.face_half_width + 2, g["face_cy"] - 6, g["chin"] + jaw + 1
        )
        _paint(
            img,
            xx,
            yy,
            style.skin,
            CX,
            g["face_cy"],
            style.face_half_width,
            g["face_cy"] - g["face_top"],
            g["chin"] + jaw,
        )
        for side in (-1, 1):
            ex = CX + side * style.eye_dx
            _paint(img, xx, yy, style.hair, ex, style.eye_y - 9, 7.5, 1.6)
            lid, rows, cols = _paint(img, xx, yy, (235, 235, 230), ex, style.eye_y, 6.5, col(g["eye_half_height"]))
            iris = _ellipse(xx[rows, cols], yy[rows, cols], ex, style.eye_y, 2.6, 2.6) * lid
            region = img[:, rows, cols]
            region *= 1 - iris
            region += iris * np.float32(30)
        _paint(img, xx, yy, np.asarray(style.skin) * 0.8, CX, style.mouth_y - 13, 5, 3)
        hw, half_gap = col(g["half_width"]), col(g["gap"]) / 2
        _paint(img, xx, yy, style.lips, CX, style.mouth_y, hw, half_gap + 3, half_gap + 4)
        cavity, rows, cols = _paint(img, xx, yy, (60, 15, 20), CX, style.mouth_y, 0.8 * hw, half_gap)
        teeth = cavity * (yy[rows, cols] < style.mouth_y - half_gap + 2.5)[..., None]
        region = img[:, rows, cols]
        region *= 1 - teeth
        region += teeth * np.float32(225)
        img += 2.0 * rng.standard_normal(img.shape[:3], dtype=np.float32)[..., None]
        out[sl] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def blinks(rng: np.random.Generator, n_frames: int, fps: float) -> np.ndarray:
    """Eyelid closure per frame: a blink (about 0.15 s) every 2-6 s."""
    lid = np.zeros(n_frames)
    t = rng.uniform(0.5, 3.0)
    while t * fps < n_frames:
        i = int(t * fps)
        lid[i : i + 4] = [0.6, 1.0, 0.7, 0.3][: len(lid[i : i + 4])]
        t += rng.uniform(2.0, 6.0)
    return lid
