"""The face front end on the embedded singers filmed in a scene: landmark error, separation from the raw video
against separation from the generator's own landmarks, two faces, and speed.

    python bench/faces.py --store quality_work/small-seed0/stores/acappella \
        --run quality_work/small-seed0/runs/ynet-landmarks [--clips 12] [--out bench/results/faces_cpu.md] \
        [--truth-run RUN]

Each test clip of the store (4 s) is mixed as the results command mixes it (an accompaniment of its split,
alone and with a second singer: ``evaluation/examples.py``). Its singer's generated frames are placed, at a
position, size and small angle of their own, into 640 x 480 pictures with a tiled background
(``datasets/scene.py``), beside the second singer in the two-singer case (the target on the left), and
encoded as H.264. The front end reads that video back (``--face largest``, or ``left`` and ``right``), and
the Y-Net separates the clip's mixture once with the front end's landmarks and once with the generator's.
Scores are SI-SDR of the target voice (dB); differences are paired per clip: their median with its distribution-free
interval and the sign test (``evaluation/stats.py``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True)
    parser.add_argument("--run", required=True, help="a landmark Y-Net (Y-Net-g) run folder")
    parser.add_argument(
        "--truth-run",
        help="the Y-Net-g that separates from the generator's landmarks (default: --run); one trained on them, "
        "when --run was trained on the front end's points (bench/retrack_store.py)",
    )
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--out")
    args = parser.parse_args()

    from cunet.datasets import scene
    from cunet.evaluation.examples import singing_examples
    from cunet.evaluation.metrics import si_sdr
    from cunet.evaluation.stats import paired_difference
    from cunet.faces.front_end import face_track
    from cunet.separation.load import load_separator
    from cunet.store import Store

    separator = load_separator(args.run)
    truth_separator = load_separator(args.truth_run) if args.truth_run else separator
    target = separator.targets[0]
    rows = {"landmark error": [], "mouth error": [], "raw": [], "truth": [], "own": [], "other": []}
    speed: dict = {}
    work = Path(tempfile.mkdtemp(prefix="cunet-bench-faces-"))
    for i, ex in enumerate(singing_examples(Store(args.store), max_tracks=args.clips)):
        rng = np.random.default_rng(i)
        two = ex.singers == 2
        faces = [ex.visual["video"]] + ([ex.other_visual["video"]] if two else [])
        maps = scene.placements(rng, len(faces), len(faces[0]))
        path = work / f"clip{i}.mp4"
        scene.write_video(path, scene.render_scene(faces, maps, rng), 25)
        timings = {}
        for stride in (1, 5):
            start = time.perf_counter()
            found = face_track(path, "left" if two else "largest", stride=stride)
            timings[stride] = time.perf_counter() - start
        seconds = len(faces[0]) / 25
        for stride, t in timings.items():
            speed.setdefault(stride, []).append(seconds / t)
        truth_marks = ex.visual["landmarks"].astype(np.float32)
        error = np.linalg.norm(found.landmarks.astype(np.float32) - truth_marks, axis=-1)
        rows["landmark error"].append(float(error.mean()))
        rows["mouth error"].append(float(error[:, 48:].mean()))
        mix = ex.mixture.astype(np.float32)
        start = time.perf_counter()
        raw = separator.separate(mix, ex.rate, visual=found.landmarks.astype(np.float32))[target]
        speed.setdefault("separation", []).append(seconds / (time.perf_counter() - start))
        truth = truth_separator.separate(mix, ex.rate, visual=truth_marks)[target]
        rows["raw"].append(si_sdr(ex.sources[0], raw))
        rows["truth"].append(si_sdr(ex.sources[0], truth))
        if two:
            other = face_track(path, "right").landmarks.astype(np.float32)
            est = separator.separate(mix, ex.rate, visual=other)[target]
            # each face's separation against its own singer and against the other singer
            rows["own"] += [rows["raw"][-1], si_sdr(ex.sources[-1], est)]
            rows["other"] += [si_sdr(ex.sources[-1], raw), si_sdr(ex.sources[0], est)]
        print(
            f"clip {i} ({ex.singers} singer(s)): raw {rows['raw'][-1]:.2f} dB, truth {rows['truth'][-1]:.2f} dB, "
            f"landmarks {rows['landmark error'][-1]:.2f} px",
            file=sys.stderr,
        )

    def interval(a, b) -> str:
        d = paired_difference(a, b)
        band = f"[{d.low:+.2f}, {d.high:+.2f}] ({d.coverage:.1%} interval)"
        return f"{d.median:+.2f} dB {band}, sign test p = {d.p_value:.3g}"

    raw, truth = np.array(rows["raw"]), np.array(rows["truth"])
    own, other = np.array(rows["own"]), np.array(rows["other"])
    lines = [
        f"The face front end on the embedded singers filmed in 640 x 480 scenes ({len(raw)} clips of 4 s from "
        f"{args.store}, {sum(1 for _ in own) // 2} with two singers side by side), the landmark Y-Net "
        f"{args.run}"
        + (f" (from the generator's landmarks: {args.truth_run})" if args.truth_run else "")
        + f"; {cpu()}, 2 cores. Produced by `python bench/faces.py` (see its text).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| landmark error after alignment, 68 points (median of clips) | {np.median(rows['landmark error']):.2f} px |",
        f"| landmark error after alignment, the 20 lip points | {np.median(rows['mouth error']):.2f} px |",
        f"| SI-SDR from the generator's landmarks (median) | {np.median(truth):.2f} dB |",
        f"| SI-SDR from the raw video (median) | {np.median(raw):.2f} dB |",
        f"| raw video - generator's landmarks, per clip | {interval(raw, truth)} |",
        f"| two faces: own singer - other singer, per separation | {interval(own, other) if len(own) else 'n/a'} |",
        f"| front end speed, detector on every frame | {np.median(speed[1]):.1f}x real time |",
        f"| front end speed, detector every 5 frames | {np.median(speed[5]):.1f}x real time |",
        f"| the Y-Net's separation of the same clips, beside it | {np.median(speed['separation']):.1f}x real time |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
