"""The face front end on faces no one here drew: scikit-image's astronaut photograph, moved, scaled and turned
through a 640 x 480 H.264 video."""

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("ai_edge_litert")

N_FRAMES, SHAPE = 100, (480, 640)


def _placements(n: int) -> list[np.ndarray]:
    """(2, 3) maps from the photograph's pixels into each frame: it drifts, grows and turns."""
    maps = []
    for k in range(n):
        s = 0.55 + 0.25 * k / (n - 1)
        angle = np.radians(12 * np.sin(2 * np.pi * k / n))
        centre = np.array([320 + 120 * np.sin(2 * np.pi * k / n), 240 + 40 * np.cos(2 * np.pi * k / n)])
        linear = s * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        maps.append(np.concatenate([linear, (centre - linear @ np.array([256.0, 256.0]))[:, None]], axis=1))
    return maps


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory):
    import av
    import skimage.data

    from cunet.faces import geometry

    photo = skimage.data.astronaut()
    rng = np.random.default_rng(0)
    clutter = rng.integers(0, 256, (SHAPE[0] // 16, SHAPE[1] // 16, 3)).repeat(16, 0).repeat(16, 1)
    path = tmp_path_factory.mktemp("faces") / "astronaut.mp4"
    maps = _placements(N_FRAMES)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SHAPE[1], SHAPE[0], "yuv420p"
        for m in maps:
            # the photograph over a checkered background: where the inverse map falls outside it, clutter shows
            yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
            src = geometry.apply(geometry.invert(m), np.stack([xx, yy], -1).astype(np.float64))
            inside = ((src >= 0) & (src <= 511)).all(-1)[..., None]
            picture = np.where(inside, geometry.warp(photo, geometry.invert(m), SHAPE), clutter).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path, maps


def test_the_astronaut_is_found_in_every_frame_with_anatomically_ordered_points(astronaut_video):
    from cunet.faces.track import follow
    from cunet.faces.video import timed_frames

    path, _ = astronaut_video
    tracks, n, shape = follow(timed_frames(path, 25))
    assert (n, shape) == (N_FRAMES, SHAPE)
    assert len(tracks) == 1 and sorted(tracks[0].points) == list(range(N_FRAMES))
    for k, p in tracks[0].points.items():
        # in the face's own upright frame: the eyes' line horizontal
        d = p[42:48].mean(0) - p[36:42].mean(0)
        c, s = d / np.linalg.norm(d)
        up = p @ np.array([[c, -s], [s, c]])
        eyes, nose, mouth, chin = up[36:48, 1].mean(), up[30, 1], up[48:68, 1].mean(), up[8, 1]
        assert up[17:27, 1].mean() < eyes < nose < mouth < chin, k  # brows, eyes, nose, mouth, chin: downwards
        assert up[36:42, 0].mean() < up[27:36, 0].mean() < up[42:48, 0].mean(), k  # right eye left of the nose
        assert up[0, 0] < up[8, 0] < up[16, 0] and up[48, 0] < up[51, 0] < up[54, 0], k
        assert up[62, 1] <= up[66, 1] and up[51, 1] < up[62, 1] and up[66, 1] < up[57, 1], k  # lips' layers


def test_aligned_crops_hold_the_face_still_whatever_its_place_size_and_angle(astronaut_video):
    from cunet.faces import align, geometry
    from cunet.faces.front_end import face_track
    from cunet.faces.ibug import STABLE
    from cunet.faces.track import follow
    from cunet.faces.video import timed_frames

    path, maps = astronaut_video
    result = face_track(path)
    assert result.frames.shape == (N_FRAMES, 128, 96, 3) and result.frames.dtype == np.uint8
    assert result.landmarks.shape == (N_FRAMES, 68, 2) and result.landmarks.dtype == np.int16
    assert result.faces == 1 and result.warnings == ()
    # the same points of the photograph (frame 0's five stable points) land on the same crop pixels in
    # every frame: the crop map of frame k after the placement of frame k is the same map as frame 0's
    (track,), _, _ = follow(timed_frames(path, 25))
    photo_points = geometry.apply(geometry.invert(maps[0]), track.points[0][list(STABLE)])
    crop_maps = align.warps(np.stack([track.points[k] for k in range(N_FRAMES)]))
    first = geometry.apply(crop_maps[0], geometry.apply(maps[0], photo_points))
    for k in range(N_FRAMES):
        moved = geometry.apply(crop_maps[k], geometry.apply(maps[k], photo_points))
        assert np.abs(moved - first).max() < 3.0, (k, np.abs(moved - first).max())
    # and each crop is frame 0's picture, within a pixel or two: the best shift of its face region onto frame 0's
    grey = result.frames.astype(np.float32).mean(-1)
    face = (slice(40, 100), slice(20, 76))
    for k in range(0, N_FRAMES, 9):
        errors = {
            (dy, dx): np.abs(np.roll(grey[k], (dy, dx), axis=(0, 1))[face] - grey[0][face]).mean()
            for dy in range(-4, 5)
            for dx in range(-4, 5)
        }
        dy, dx = min(errors, key=errors.get)
        assert max(abs(dy), abs(dx)) <= 2, (k, dy, dx)
    # the stable points sit near the reference face (a similarity cannot make a real face's proportions the
    # drawn average face's: a few pixels remain)
    assert np.abs(result.landmarks[:, list(STABLE)] - align.REFERENCE).max() <= 8


def test_a_phone_video_turned_by_its_track_matrix_is_read_upright(tmp_path):
    """A portrait phone video is stored landscape with a matrix in its track header (a quarter turn clockwise,
    as ffprobe's "rotation of -90 degrees"): the pictures come back turned, as a player shows them."""
    import struct

    import av

    from cunet.faces.video import timed_frames

    path = tmp_path / "stored.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        picture = np.zeros((48, 64, 3), np.uint8)
        picture[:8, :8] = 255  # the stored picture's top-left corner
        for _ in range(5):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert data[at + 4] == 0  # version 0: the matrix follows 5 words, 8 reserved bytes and 4 half-words
    at += 8 + 20 + 8 + 8
    one = 1 << 16
    data[at : at + 36] = struct.pack(">9i", 0, one, 0, -one, 0, 0, 0, 0, 1 << 30)
    turned = tmp_path / "portrait.mp4"
    turned.write_bytes(bytes(data))
    pictures = list(timed_frames(turned, 25))
    assert len(pictures) == 5 and pictures[0].shape == (64, 48, 3)
    rows, cols = np.nonzero(pictures[0][..., 0] > 200)
    assert rows.max() < 10 and cols.min() > 38  # the corner is now the top-right one: turned clockwise
    sizes = list(timed_frames(turned, 25, size=(24, 32)))
    assert sizes[0].shape == (32, 24, 3)  # a size asked for is the upright picture's
