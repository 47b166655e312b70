"""Faces followed through a video: detection, the mesh on each face, and tracks from frame to frame.

Every ``stride``-th frame the detector finds the faces; a detection continues the track whose last region it
overlaps most (else it starts a track). Between detections each track's mesh is taken in the region its
previous points give (MediaPipe's own tracking), and a face whose mesh presence falls below one half is
lost in that frame. A detection within a second of a track's last frame, inside its last box, continues it;
tracks that follow one another in the same place are joined. A track keeps the 68 iBUG points of every frame
it was seen in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import numpy as np

from .detect import FaceDetector
from .ibug import ibug68
from .mesh import MIN_PRESENCE, FaceMesh, Region

MIN_SHARE = 0.25  # a track seen in fewer of the frames is a passer-by or a false detection, not a singer


@dataclasses.dataclass
class Track:
    """One face through time: its iBUG points by frame, and the mesh and region of its last frame."""

    points: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    mesh: np.ndarray | None = None
    last: int = -1

    @property
    def centre_x(self) -> float:
        return float(np.median([p[:, 0].mean() for p in self.points.values()]))

    @property
    def centre(self) -> np.ndarray:
        return np.median([p.mean(0) for p in self.points.values()], axis=0)

    @property
    def size(self) -> float:
        return float(np.median([np.ptp(p, axis=0).max() for p in self.points.values()]))

    def box(self) -> np.ndarray:
        assert self.mesh is not None
        return np.concatenate([self.mesh.min(0), self.mesh.max(0)])


def follow(
    pictures: Iterable[np.ndarray],
    stride: int = 1,
    threads: int = 2,
    reconnect: int = 25,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Track], int, tuple[int, int]]:
    """The faces of a sequence of RGB pictures.

    Args:
        pictures: the frames, in order.
        stride: run the detector on every ``stride``-th frame (1: every frame), tracking in between.
        threads: for each model's interpreter (2: the two cores; 2.7x real time against 2.4x with 1, measured).
        reconnect: frames after which a lost face that is detected again starts a new track.
        progress: called with each frame's index once it is done.

    Returns:
        The tracks seen in at least a quarter of the frames, left to right; the number of frames; the
        pictures' (rows, columns).
    """
    detector, mesh = FaceDetector(threads=threads), FaceMesh(threads=threads)
    tracks: list[Track] = []
    n, shape = 0, (0, 0)
    for k, picture in enumerate(pictures):
        n, shape = k + 1, picture.shape[:2]
        regions: list[tuple[Track | None, Region]] = []
        if k % stride == 0:
            # a detection continues a track seen in the last second (a face hidden for a moment is the same
            # face when it comes back where it was), the most recently seen first
            recent = [t for t in tracks if k - t.last <= reconnect and t.mesh is not None]
            live = sorted(recent, key=lambda t: k - t.last)
            claimed: set[int] = set()
            for face in detector(picture):
                # the nearest live track whose last mesh holds the detection's centre continues
                owner, nearest = None, np.inf
                for t in live:
                    lo, hi = t.box()[:2], t.box()[2:]
                    distance = float(np.linalg.norm(face.centre - (lo + hi) / 2))
                    if id(t) not in claimed and np.all(face.centre >= lo) and np.all(face.centre <= hi):
                        owner, nearest = (t, distance) if distance < nearest else (owner, nearest)
                        break  # the most recently seen track that holds it
                if owner is not None:
                    claimed.add(id(owner))
                regions.append((owner, Region.of_detection(face)))
            regions += [
                (t, Region.of_mesh(t.mesh))
                for t in live
                if id(t) not in claimed and t.last == k - 1 and t.mesh is not None
            ]
        else:
            regions = [(t, Region.of_mesh(t.mesh)) for t in tracks if t.last == k - 1 and t.mesh is not None]
        for owner, region in regions:
            points, presence = mesh(picture, region)
            if presence < MIN_PRESENCE:
                continue
            if owner is None:
                owner = Track()
                tracks.append(owner)
            owner.points[k], owner.mesh, owner.last = ibug68(points), points, k
        if progress:
            progress(k)
    kept = [t for t in joined(tracks) if len(t.points) >= MIN_SHARE * n]
    return sorted(kept, key=lambda t: t.centre_x), n, shape


def joined(tracks: list[Track]) -> list[Track]:
    """Tracks that follow one another in time, the later starting inside the box where the earlier ended, made
    one: a face lost for longer than tracking bridges is still the same face (its gap is then the front end's
    to judge)."""
    out: list[Track] = []
    for track in sorted(tracks, key=lambda t: min(t.points)):
        first = track.points[min(track.points)].mean(0)
        for earlier in out:
            end = earlier.points[earlier.last]
            if earlier.last < min(track.points) and np.all(first >= end.min(0)) and np.all(first <= end.max(0)):
                earlier.points.update(track.points)
                earlier.mesh, earlier.last = track.mesh, track.last
                break
        else:
            out.append(track)
    return out
