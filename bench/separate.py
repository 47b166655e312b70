"""Separation speed and peak memory: cunet's C-U-Net against Open-Unmix, side by side in one run.

Every measurement runs in a fresh process (its peak resident memory is its own) and separates a 44.1 kHz
stereo file into full-band stems written as float wav. Four stems: cunet's C-U-Net (complex FiLM, cnn
control) on a 3-minute file at each precision (int8: its convolutions' weights in int8, run by LiteRT) and
at the default precision on a 30-minute one, and Open-Unmix (the umxhq architecture: four BiLSTM models,
4096-point STFT) on the 3-minute file without its Wiener pass (its fastest setting) and, with
``--umx-wiener``, with its default one. Six stems (vocals, drums, bass, guitar, piano, other): one C-U-Net
conditioned on six sources in float32 and bfloat16 against Open-Unmix with six target models, on the
3-minute file. The 3-minute runs are repeated (``--repeats``) and the fastest counts, as timeit does: the
machine's noise only ever adds time. Both networks keep their initial weights: speed and memory do not
depend on what they have learnt.

    pip install -e ".[bench]" && pip install --no-deps openunmix    # see setup.py's bench extra
    python bench/separate.py [--out bench/results/separate_cpu.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RATE = 44100
FOUR = ("bass", "drums", "other", "vocals")
SIX = ("vocals", "drums", "bass", "guitar", "piano", "other")  # the embedded six-source set's, htdemucs_6s's


def make_song(path: Path, minutes: float, seed: int = 0) -> None:
    """A 3-minute song of the embedded dataset, repeated to ``minutes``, written block by block (16-bit wav, or
    mp3 by the suffix)."""
    from cunet import audio
    from cunet.datasets.synthetic import music_track

    song = sum(v.astype(np.float32) for v in music_track(seed, 0, 180.0).values()) / 32768
    with audio.writer(path, RATE, 2, "PCM_16") as write:
        for _ in range(int(round(minutes / 3))):
            write(song)


def make_model(folder: Path, sources: tuple[str, ...] = FOUR) -> None:
    """An untrained C-U-Net (complex FiLM, cnn control) conditioned on ``sources``, as a run folder."""
    import keras

    from cunet import config as config_io
    from cunet.models import ModelConfig, build_model
    from cunet.models.card import card_for, save_card

    keras.utils.set_random_seed(0)
    cfg = ModelConfig(model="cunet", film="complex", control="cnn", z_dim=len(sources))
    folder.mkdir(parents=True, exist_ok=True)
    build_model(cfg).save(folder / "model.keras")
    config_io.save(cfg, folder / "model_config.json")
    save_card(card_for(cfg, sources=sources), folder)


def peak_rss() -> int:
    """This process's own peak resident memory in bytes (VmHWM; ru_maxrss carries a forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cunet_child(models: str, song: str, out: str, precision: str, together: bool = False) -> dict:
    """``models``: one run folder, or several joined by os.pathsep: dedicated U-Nets one after another, or with
    ``together`` as one separator (one read and STFT of the input). Each separates as the command does
    (separate_files: the input checked, then separated)."""
    import cunet
    from cunet.separation.writers import separate_files

    start = time.perf_counter()
    parts = [models] if together else models.split(os.pathsep)
    separators = [cunet.load_separator(m, precision=precision) for m in parts]
    loaded = time.perf_counter()
    for separator in separators:
        separate_files(separator, [Path(song)], out)
    return {"load": loaded - start, "separate": time.perf_counter() - loaded, "precision": separators[0].precision}


def umx_child(song: str, out: str, niter: int, targets: int = len(FOUR)) -> dict:
    if "torchaudio" not in sys.modules:
        try:
            import torchaudio  # noqa: F401
        except ImportError:
            # openunmix imports torchaudio at module level but its model path never calls it, and no
            # torchaudio release matches torch 2.13: an empty module stands in for the unused import.
            import types

            sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import soundfile as sf
    import torch
    from openunmix import utils
    from openunmix.model import OpenUnmix, Separator

    start = time.perf_counter()
    torch.manual_seed(0)
    max_bin = utils.bandwidth_to_max_bin(rate=44100.0, n_fft=4096, bandwidth=16000)
    models = {
        t: OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=512, max_bin=max_bin).eval()
        for t in (FOUR if targets == len(FOUR) else SIX)[:targets]
    }
    separator = Separator(
        models, niter=niter, n_fft=4096, n_hop=1024, nb_channels=2, sample_rate=44100.0, wiener_win_len=300
    ).eval()
    loaded = time.perf_counter()
    x, rate = sf.read(song, dtype="float32", always_2d=True)
    with torch.inference_mode():
        stems = separator(torch.from_numpy(x.T.copy())[None])[0].numpy()
    Path(out).mkdir(parents=True, exist_ok=True)
    for name, stem in zip(models, stems):
        sf.write(str(Path(out) / f"{name}.wav"), stem.T, rate, subtype="FLOAT")
    return {"load": loaded - start, "separate": time.perf_counter() - loaded, "precision": "float32"}


def child(kind: str, *args: str) -> None:
    if kind in ("cunet", "together"):
        result = cunet_child(*args, together=kind == "together")
    else:
        result = umx_child(args[0], args[1], int(args[2]), int(args[3]))
    from cunet import audio

    song = args[1] if kind in ("cunet", "together") else args[0]
    result.update(peak=peak_rss(), seconds=audio.info(song).frames / RATE)
    print(json.dumps(result))


def measure(*args: str, repeats: int = 1) -> dict:
    """The fastest of ``repeats`` measurements, each in a fresh process after the previous one's files are
    gone and on disk (the page cache's write-back of earlier outputs must not run during this one)."""
    runs = []
    for _ in range(repeats):
        for out in Path(tempfile.gettempdir()).glob("cunet-bench-out-*"):
            shutil.rmtree(out)
        os.sync()
        proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{args}: {proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["separate"])
    return {**best, "repeats": len(runs), "peak": max(r["peak"] for r in runs)}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a run folder to use instead of the untrained four-source C-U-Net")
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--umx-wiener", action="store_true", help="also Open-Unmix with one Wiener iteration")
    parser.add_argument("--repeats", type=int, default=3, help="3-minute runs: the fastest of this many")
    parser.add_argument("--no-six", action="store_true", help="leave out the six-stem rows")
    parser.add_argument("--out")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from cunet.separation.precision import native_bfloat16

    def out() -> str:
        return tempfile.mkdtemp(prefix="cunet-bench-out-")

    rows = []  # (separator, stems, measurement)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else tmp / "model"
        if not args.model:
            make_model(model)
        short, long = tmp / "song3.wav", tmp / f"song{args.long_minutes:g}.wav"
        make_song(short, 3.0)
        make_song(long, args.long_minutes)
        mp3 = tmp / "song3.mp3"  # the same 3 minutes as users hold them: decoded before it is separated
        make_song(mp3, 3.0)
        for precision in ("float32", "bfloat16", "int8"):
            rows.append(("cunet", 4, measure("cunet", str(model), str(short), out(), precision, repeats=args.repeats)))
        rows.append((MP3, 4, measure("cunet", str(model), str(mp3), out(), "auto", repeats=args.repeats)))
        rows.append(("cunet", 4, measure("cunet", str(model), str(long), out(), "auto")))
        rows.append((UMX, 4, measure("umx", str(short), out(), "0", "4", repeats=args.repeats)))
        if args.umx_wiener:
            rows.append(("Open-Unmix umxhq, 1 Wiener iteration", 4, measure("umx", str(short), out(), "1", "4")))
        if not args.no_six:  # one C-U-Net conditioned on six sources; Open-Unmix with six target models
            six = tmp / "model6"
            make_model(six, SIX)
            for precision in ("float32", "bfloat16"):
                rows.append(
                    ("cunet", 6, measure("cunet", str(six), str(short), out(), precision, repeats=args.repeats))
                )
            rows.append((UMX, 6, measure("umx", str(short), out(), "0", "6", repeats=args.repeats)))
    text = table(rows, args.repeats, args.long_minutes, native_bfloat16())
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


UMX = "Open-Unmix umxhq, no Wiener"
MP3 = "cunet, mp3 input"


def table(rows: list, repeats: int, long_minutes: float, bf16: bool) -> str:
    """The rows as markdown; each cunet row's speed over Open-Unmix's (no Wiener) for as many stems."""
    umx = {stems: r["seconds"] / r["separate"] for name, stems, r in rows if name == UMX}
    lines = [
        f"Separation of 44.1 kHz stereo into full-band float wav stems (four: {', '.join(FOUR)}; six: "
        f"{', '.join(SIX)}); {os.cpu_count()} cores of {cpu_name()} (native bf16: {'yes' if bf16 else 'no'}), "
        f"cunet on the TensorFlow backend (one C-U-Net, a conditioned pass per stem), Open-Unmix on CPU torch "
        f"(one BiLSTM model per stem), in one run; 3-minute rows: the fastest of {repeats} runs.",
        "",
        "| separator | stems | precision | input | separation | x real time | vs Open-Unmix | load | peak memory |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, stems, r in rows:
        speed = r["seconds"] / r["separate"]
        lines.append(
            f"| {name} | {stems} | {r['precision']} | {r['seconds'] / 60:.0f} min | {r['separate']:.1f} s | "
            f"{speed:.1f}x | {speed / umx[stems]:.2f}x | {r['load']:.1f} s | {r['peak'] / 2**30:.2f} GiB |"
        )
    four = [r for name, stems, r in rows if name == "cunet" and stems == 4]
    long = max(four, key=lambda r: r["seconds"])
    short = next(r for r in four if r["precision"] == long["precision"] and r is not long)
    lines += ["", f"cunet peak memory, {long_minutes:g} over 3 minutes: {long['peak'] / short['peak']:.3f}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
