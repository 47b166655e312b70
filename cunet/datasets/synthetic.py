"""The embedded default dataset: written from a seed, in the real datasets' layouts, in seconds.

    python -m cunet.datasets.synthetic --out cunet_data/synthetic --seed 0 --size default

writes three trees under ``--out``:

* ``musdb/``: a MUSDB18-HQ layout (44.1 kHz stereo PCM wav; mixture = sum of the stems, bit for bit);
* ``acappella/``: the Acappella layout: solo singers (voice wav at 16384 Hz, 25 fps face frames and
  68 landmarks whose mouth follows the voice), seen singers in train/val_seen/test_seen, unseen ones
  in test_unseen;
* ``accompaniment/``: clips by category in the AudioSet-style tree the original Y-Net reads.

With ``--sources 6`` it also writes ``moisesdb/``: songs of six sources (vocals, drums, bass, guitar, piano,
other) in the MoisesDB layout, one file a part and no mixture file (see ``sixsource.py``); the three trees
above stay the same bytes.

Every file depends only on (seed, size, its own index), so output is byte-identical for a seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .. import audio
from ..cli import run_command
from ..fileio import atomic_dir, load_json, save_json, save_npy
from ..outputs import check_output_folder
from . import acappella, band, face, sixsource, voice
from .accompaniment import acc_plan, write_acc
from .instruments import midi_number
from .musdb import STEMS
from .sizes import SIX_SOURCE_SIZES, SIZES, SOURCE_COUNTS, SixSourceSize, Size  # noqa: F401

MUSIC_RATE = 44100
LANGUAGES = ("English", "Spanish", "Hindi", "Others")
FORMAT_VERSION = 1


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


def _quantise(stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scale all stems together so the mix peaks at -2 dBFS, then make them int16 and the mix their exact sum."""
    mix = sum(stems.values())
    gain = 0.8 / max(1e-9, np.abs(mix).max())
    ints = {k: np.round(v * gain * 32767).astype(np.int32) for k, v in stems.items()}
    total = sum(ints.values())
    if np.abs(total).max() > 32767:  # cannot happen at -2 dBFS, but a wrapped int16 would be silent garbage
        raise RuntimeError("synthetic mixture clipped")
    out = {k: v.astype(np.int16) for k, v in ints.items()}
    out["mixture"] = total.astype(np.int16)
    return out


def music_track(seed: int, index: int, seconds: float) -> dict[str, np.ndarray]:
    """One song as int16 (2, samples) stems: sung vocals over drums, bass and chords."""
    rng = _rng(seed, 1, index)
    song = band.Song.random(rng, seconds)
    singer = voice.Singer.random(rng, f"music{index}", "Male" if rng.random() < 0.5 else "Female")
    syl = voice.melody(rng, seconds, song.tempo, song.scale(), midi_number(singer.f0))
    vocal, _ = voice.sing(singer, syl, seconds, MUSIC_RATE, rng)
    pan = rng.uniform(-0.15, 0.15)
    parts = {
        "vocals": np.stack([vocal * (1 - pan), vocal * (1 + pan)]),
        "drums": band.drums(song, MUSIC_RATE, rng),
        "bass": band.bass(song, MUSIC_RATE, rng),
        "other": band.chords(song, MUSIC_RATE, rng),
    }
    stems = {}
    for name, x in parts.items():
        level_db = rng.uniform(-4, 2) if name == "vocals" else rng.uniform(-8, 0)
        stems[name] = x / (np.sqrt(np.mean(x**2)) + 1e-9) * 10 ** (level_db / 20)
    return _quantise(stems)


def write_music(root: Path, seed: int, index: int, size: Size) -> None:
    """Write song ``index``'s stems and mixture under ``root/musdb``: the first ``size.music_train`` songs into
    train/, the rest into test/."""
    train = index < size.music_train
    name = f"Cunet Synth - {'Song' if train else 'Test Song'} {index:03d}"
    folder = root / "musdb" / ("train" if train else "test") / name
    stems = music_track(seed, index, size.music_seconds)
    for stem in STEMS:
        audio.write(folder / f"{stem}.wav", stems[stem], MUSIC_RATE, "PCM_16")


@dataclasses.dataclass(frozen=True)
class Performer:
    """A synthetic singer of the Acappella tree: the voice, the face and the language folder it sings in."""

    voice: voice.Singer
    style: face.FaceStyle
    language: str


def performer(seed: int, index: int) -> Performer:
    """Singer ``index``: voices alternate female/male and spread over the tessitura, so no two are alike."""
    rng = _rng(seed, 2, index)
    gender = ("Female", "Male")[index % 2]
    # Five tessitura slots per gender, 3 semitones apart; which singer gets which slot depends on the seed.
    low = 190.0 if gender == "Female" else 98.0
    slot = (index // 2 + int(_rng(seed, 2).integers(5))) % 5
    f0 = low * 2 ** (3 * slot / 12) * rng.uniform(0.98, 1.02)
    return Performer(
        voice.Singer.random(rng, f"singer{index:02d}", gender, f0),
        face.FaceStyle.random(rng),
        LANGUAGES[(index // 2) % len(LANGUAGES)],
    )


def singing_voice(seed: int, singer_index: int, clip: int, seconds: float):
    """(voice float32 at 16384 Hz, controls) of one a cappella clip of one singer."""
    who = performer(seed, singer_index)
    rng = _rng(seed, 3, singer_index, clip)
    key = int(rng.integers(48, 60))
    scale = np.arange(36, 96)[np.isin((np.arange(36, 96) - key) % 12, band.MAJOR)]
    syl = voice.melody(rng, seconds, float(rng.uniform(70, 130)), scale, midi_number(who.voice.f0))
    return voice.sing(who.voice, syl, seconds, acappella.SAMPLE_RATE, rng)


def singing_clip(seed: int, singer_index: int, clip: int, seconds: float):
    """(voice float32 at 16384 Hz, frames uint8 (T,128,96,3), landmarks int16 (T,68,2)) of one clip."""
    who = performer(seed, singer_index)
    n_frames = int(round(seconds * acappella.FPS))
    wave, ctl = singing_voice(seed, singer_index, clip, n_frames / acappella.FPS)
    rng = _rng(seed, 5, singer_index, clip)
    # The mouth at frame k shows the controls at the frame's centre time.
    t_frame = (np.arange(n_frames) + 0.5) / acappella.FPS
    t_ctl = np.arange(len(ctl["env"])) / voice.CONTROL_RATE
    mouth_open = np.interp(t_frame, t_ctl, ctl["mouth_open"])
    mouth_width = np.interp(t_frame, t_ctl, ctl["mouth_width"])
    lids = face.blinks(rng, n_frames, acappella.FPS)
    frames = face.render(who.style, mouth_open, mouth_width, lids, rng)
    marks = np.round(face.landmarks(who.style, mouth_open, mouth_width, lids)).astype(np.int16)
    return wave, frames, marks


def av_plan(size: Size) -> list[tuple[str, int, int, float]]:
    """(split, singer, clip, seconds) of every audio-visual clip."""
    plan = []
    for s in range(size.singers):
        plan += [("train", s, c, size.clip_seconds) for c in range(size.train_clips)]
        plan += [("val_seen", s, 100, size.eval_seconds), ("test_seen", s, 200, size.eval_seconds)]
    for s in range(size.singers, size.singers + 2):
        plan += [("test_unseen", s, 300 + c, size.eval_seconds) for c in range(2)]
    return plan


def write_av(root: Path, seed: int, item: tuple[str, int, int, float]) -> None:
    """Write one clip of :func:`av_plan` (voice wav, face frames, landmarks) under ``root/acappella``."""
    split, singer, clip, seconds = item
    who = performer(seed, singer)
    wave, frames, marks = singing_clip(seed, singer, clip, seconds)
    rel = Path(who.language) / who.voice.gender / f"{who.voice.name}-{split}-{clip:03d}"
    base = root / "acappella" / split
    audio.write(base / "audio" / rel.with_suffix(".wav"), wave, acappella.SAMPLE_RATE, "PCM_16")
    save_npy(base / "frames" / rel.with_suffix(".npy"), frames)
    save_npy(base / "landmarks" / rel.with_suffix(".npy"), marks)


def write_six_source(root: Path, seed: int, index: int, seconds: float) -> None:
    """Write six-source song ``index`` under ``root/moisesdb``."""
    sixsource.write_song(root / "moisesdb", seed, index, seconds)


def _run(task):
    kind, root, seed, item = task
    {"music": write_music, "av": write_av, "acc": write_acc, "six": write_six_source}[kind](root, seed, *item)


def generate(
    out: str | Path, seed: int = 0, size: str = "default", jobs: int = 1, progress: bool = True, sources: int = 4
) -> Path:
    """Write the dataset to ``out`` (atomically: a complete tree or nothing) and return ``out``.

    Args:
        out: the folder (replaced if it exists).
        seed: every file depends on it and on its own index only.
        size: a key of :data:`SIZES` (and of :data:`SIX_SOURCE_SIZES`).
        jobs: processes writing files (the bytes are the same whatever the number).
        progress: show a progress bar.
        sources: 4 writes musdb/, acappella/ and accompaniment/; 6 also the six-source moisesdb/.

    Returns:
        ``out``.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(SIZES)}")
    if sources not in SOURCE_COUNTS:
        raise ValueError(f"unknown number of sources {sources!r}; choose from {list(SOURCE_COUNTS)}")
    out, spec = Path(out), SIZES[size]
    # replaced whole, so only ever a tree this command wrote: never a file or someone's folder
    check_output_folder(out, "--out", beside=True, marker="synthetic.json", kind="a generated dataset")
    from tqdm import tqdm

    with atomic_dir(out) as tmp:
        tasks: list[tuple[str, Path, int, tuple]] = [
            ("music", tmp, seed, (i, spec)) for i in range(spec.music_train + spec.music_test)
        ]
        if sources == 6:  # first: a six-source song is the longest task, and a pool's tail should be short
            six = SIX_SOURCE_SIZES[size]
            tasks = [("six", tmp, seed, (i, six.seconds)) for i in range(six.songs)] + tasks
        tasks += [("av", tmp, seed, (item,)) for item in av_plan(spec)]
        tasks += [("acc", tmp, seed, (item,)) for item in acc_plan(spec)]
        bar = tqdm(total=len(tasks), desc=f"synthetic dataset (seed {seed}, {size})", disable=not progress, unit="file")
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                for _ in pool.map(_run, tasks):
                    bar.update()
        else:
            for task in tasks:
                _run(task)
                bar.update()
        bar.close()
        save_json(tmp / "synthetic.json", marker(seed, size, sources))
    return out


def marker(seed: int, size: str, sources: int = 4) -> dict:
    """What ``synthetic.json`` records of a generated tree (a four-source tree's marker has the keys, and so
    the bytes, it always had).

    Args:
        seed, size, sources: as :func:`generate`.

    Returns:
        the JSON object.
    """
    meta = {"seed": seed, "size": size, "format_version": FORMAT_VERSION, "spec": dataclasses.asdict(SIZES[size])}
    if sources != 4:
        meta |= {
            "sources": sources,
            "six_source_spec": dataclasses.asdict(SIX_SOURCE_SIZES[size]),
            "six_source_version": sixsource.VERSION,
        }
    return meta


def ensure(out: str | Path, seed: int = 0, size: str = "default", jobs: int = 1, sources: int = 4) -> Path:
    """Generate the dataset unless ``out`` already holds the same one (a six-source tree serves a request
    for four sources: its other trees are the same)."""
    out = Path(out)
    path = out / "synthetic.json"
    if path.is_file():
        meta = load_json(path)
        if (
            (meta.get("seed"), meta.get("size"), meta.get("format_version")) == (seed, size, FORMAT_VERSION)
            and meta.get("sources", 4) >= sources
            and (sources == 4 or meta.get("six_source_version", 1) == sixsource.VERSION)
        ):
            return out
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: exists and is not a synthetic dataset; refusing to overwrite it")
    return generate(out, seed, size, jobs, sources=sources)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m cunet.datasets.synthetic``."""
    parser = argparse.ArgumentParser(
        prog="python -m cunet.datasets.synthetic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        default="cunet_data/synthetic",
        help="folder to write (a dataset it held before is replaced; any other folder or file is refused)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--sources",
        type=int,
        choices=SOURCE_COUNTS,
        default=4,
        help="6: also write moisesdb/, songs of vocals, drums, bass, guitar, piano and other",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Generate the dataset the command line asks for (replacing ``--out``); returns the exit status."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        generate(args.out, args.seed, args.size, args.jobs, sources=args.sources)
        trees = (
            "musdb/, acappella/, accompaniment/ and moisesdb/"
            if args.sources == 6
            else "musdb/, acappella/ and accompaniment/"
        )
        print(f"wrote {args.out}: {trees} (seed {args.seed}, size {args.size})")
        return 0

    return run_command(body)  # an error is one line naming what failed, exit 2, as every command's


if __name__ == "__main__":
    sys.exit(main())
