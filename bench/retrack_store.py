"""A singing store whose faces are the face front end's: what a landmark Y-Net meant for raw videos trains on.

    python bench/retrack_store.py --store quality_work/small-seed0/stores/acappella \
        --out quality_work/small-seed0/stores/acappella-tracked [--splits train val_seen] [--stride 5]

The original project re-detected its training landmarks on the warped faces with the same detector it ran on
test videos; the embedded dataset's landmarks come from its generator instead, noise-free and placed where a
drawn face has them, which is not where a face tracker puts them (bench/results/faces_cpu.md). This copies a
store and, for every recording of ``--splits``, films its generated face into a 640 x 480 scene at a position,
size and small angle of its own (``datasets/scene.py``, seeded by the recording's place in the store), runs the
front end on that video (``faces.front_end.face_track``) and stores its aligned crops and 68 points in place of the
generator's. Audio, accompaniment, indexes and manifest are the store's: the copy is a store like any other.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--splits", nargs="+", default=["train", "val_seen"])
    parser.add_argument("--stride", type=int, default=5, help="the detector's stride (faces tracked between)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from cunet.datasets import scene
    from cunet.faces.front_end import face_track
    from cunet.fileio import save_npy
    from cunet.store import Store

    out = Path(args.out)
    if out.exists():
        sys.exit(f"error: {out}: exists; choose another --out")
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(args.store, partial)
    store = Store(partial, "singing")
    work = Path(tempfile.mkdtemp(prefix="cunet-retrack-"))
    start, seconds, errors = time.perf_counter(), 0.0, []
    for i, track in enumerate(store.tracks):
        if track.split not in args.splits:
            continue
        folder = partial / track.folder
        faces = np.load(folder / "frames.npy", allow_pickle=False)
        generated = np.load(folder / "landmarks.npy", allow_pickle=False).astype(np.float32)
        rng = np.random.default_rng([args.seed, i])
        video = work / f"{i}.mp4"
        scene.write_video(video, scene.render_scene([faces], scene.placements(rng, 1, len(faces)), rng), 25)
        found = face_track(video, "largest", stride=args.stride)
        n = len(faces)
        if len(found.frames) < n:  # the tracker's last frame held, should the decoder give fewer
            pad = n - len(found.frames)
            found_frames = np.concatenate([found.frames, np.repeat(found.frames[-1:], pad, 0)])
            found_marks = np.concatenate([found.landmarks, np.repeat(found.landmarks[-1:], pad, 0)])
        else:
            found_frames, found_marks = found.frames[:n], found.landmarks[:n]
        save_npy(folder / "frames.npy", np.ascontiguousarray(found_frames, np.uint8))
        save_npy(folder / "landmarks.npy", np.ascontiguousarray(found_marks, np.int16))
        errors.append(float(np.linalg.norm(found_marks.astype(np.float32) - generated, axis=-1).mean()))
        seconds += n / 25
        print(f"{track.name}: {errors[-1]:.2f} px from the generator's points", file=sys.stderr)
        video.unlink()
    Store(partial, "singing").check()
    partial.rename(out)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"{out}: {len(errors)} recordings ({seconds:.0f} s) re-tracked in {time.perf_counter() - start:.0f} s; "
        f"the front end's points lie a median {np.median(errors):.2f} px from the generator's"
    )


if __name__ == "__main__":
    main()
