"""Build a store from a dataset on disk: check everything first, write tracks, then indexes and manifest."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from .. import __version__, audio, singing_input
from ..datasets import acappella, musdb
from ..datasets.checks import printable
from ..errors import InputError
from ..fileio import load_json, save_json, save_npy
from ..lock import folder_lock, is_bookkeeping
from ..outputs import check_output_folder
from ..store.manifest import FORMAT, VERSION, music_manifest, singing_manifest
from . import indexes, singing, spectrogram, stemsets
from .config import PreprocessConfig
from .jobs import remove_leftovers
from .jobs import run as run_jobs


def _identity(kind: str) -> dict:
    return {"format": FORMAT, "version": VERSION, "kind": kind}


def check_out(out: Path, kind: str) -> None:
    """Refuse, before anything is written there, an ``out`` that is a file, a folder holding anything but
    a cunet store, or a store of another kind or version."""
    check_output_folder(out, "--out")
    marker = out / "store.json"
    if marker.is_file():
        found = load_json(marker)
        if found != _identity(kind):
            found = found if isinstance(found, dict) else {}
            raise InputError(
                out,
                f"holds a {found.get('kind')} store of format version {found.get('version')}; "
                f"this run writes a {kind} store of version {VERSION}: choose another --out",
            )
    elif out.is_dir() and any(not is_bookkeeping(entry.name) for entry in out.iterdir()):
        raise InputError(out, "exists, is not empty and is not a cunet store: choose another --out")


@contextlib.contextmanager
def writing(out: Path, kind: str, shard: tuple[int, int] | None = None):
    """Hold ``out`` as this run's store of ``kind``: a second run writing it stops at once with
    "in use by process N". Runs of different shards (``--shard i/n``, same n) write at the same time; a
    whole-store run excludes them. The kernel drops the lock however its holder dies."""
    check_out(out, kind)
    with folder_lock(out, part=None if shard is None else f"shard-{shard[0]}-of-{shard[1]}"):
        check_out(out, kind)  # again: a run of another kind may have claimed the empty folder meanwhile
        if not (out / "store.json").is_file():
            save_json(out / "store.json", _identity(kind))
        yield


def _resolved(folder: Path) -> str:
    # absolute: the results command reads the dataset again (the sisec protocol) from wherever it is run
    return printable(str(Path(folder).resolve()))


def _warn_mixture(tracks: list[dict]) -> list[dict]:
    """Tracks whose mixture is not the sum of their stems: kept, but the targets do not add up to the input."""
    odd = [
        {"name": t["name"], "difference_db": t["mixture_difference_db"]}
        for t in tracks
        if t.get("mixture_difference_db") is not None and t["mixture_difference_db"] > spectrogram.MIXTURE_DIFFERENCE_DB
    ]
    if odd:
        listed = ", ".join(f"{t['name']} ({t['difference_db']:+.1f} dB)" for t in odd[:5])
        more = f" and {len(odd) - 5} more" if len(odd) > 5 else ""
        print(
            f"warning: {len(odd)} track(s) whose mixture is not the sum of its stems (the difference's energy "
            f"relative to the mixture's): {listed}{more}; kept as they are (listed in the manifest)",
            file=sys.stderr,
        )
    return odd


def _warn_short(tracks: list[dict], need: int, unit: str) -> list[str]:
    short = [t["name"] for t in tracks if t["split"] in ("train", "valid", "val_seen") and t["n_frames"] < need]
    if short:
        print(
            f"warning: {len(short)} track(s) shorter than one patch ({need} {unit}) give no training "
            f"patches: {', '.join(short[:5])}",
            file=sys.stderr,
        )
    return short


def music_store(
    cfg: PreprocessConfig,
    root: Path,
    out: Path,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    progress: bool = True,
    locked: bool = False,
) -> Path | None:
    """``locked``: the caller holds :func:`writing` for ``out`` already."""
    tracks, split_info = musdb.scan(root, list(cfg.valid_tracks) or None, cfg.valid_fraction, cfg.seed)
    for track in tracks:  # headers only: a bad file stops the run before anything is written
        track.check(spectrogram.MIN_SECONDS)
    jobs = spectrogram.jobs(tracks)
    with contextlib.nullcontext() if locked else writing(out, "music", shard):
        return _write_music(cfg, root, out, jobs, split_info, workers, shard, progress)


def stem_store(
    cfg: PreprocessConfig,
    root: Path,
    out: Path,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    progress: bool = True,
) -> Path | None:
    """A music store from a multi-stem layout (MoisesDB, Slakh2100, stem folders): the mixture and one array
    per chosen source; the manifest records the sources, the stems each sums, and every track's sources.

    Args:
        cfg: the run's settings; root: the dataset folder; out: the store folder.
        workers, shard, progress: as :func:`music_store`.

    Returns:
        ``out``, or None while other shards' tracks are missing."""
    tracks, split_info, selection, skipped = stemsets.prepare(cfg, root)
    conds = indexes.conditions(cfg.add_zero, cfg.add_all, tuple(selection), cfg.combinations)  # refused early
    jobs = spectrogram.stem_jobs(tracks, selection)
    extra = {
        "selection": {source: list(stems) for source, stems in selection.items()},
        "rest": cfg.rest,
        "groups": list(cfg.groups),
        "no_source": skipped,
    }
    with writing(out, "music", shard):
        return _write_music(cfg, root, out, jobs, split_info, workers, shard, progress, tuple(selection), conds, extra)


def _write_music(
    cfg, root, out, jobs, split_info, workers, shard, progress, sources=musdb.SOURCES, conds=None, extra=None
) -> Path | None:
    """The tracks, then (once every shard's are there) the indexes and the manifest; ``sources``: the store's,
    in condition order; ``extra``: the multi-stem layouts' own manifest fields (none for MUSDB18, whose
    store stays byte for byte what earlier versions wrote)."""
    remove_leftovers(out, jobs)
    metas = run_jobs(out, jobs, workers, shard, desc=f"spectrograms -> {printable(str(out))}", progress=progress)
    if metas is None:
        return None
    listed = [{**metas[j.folder], "folder": j.folder} for j in jobs]
    conds, names = conds or indexes.conditions(cfg.add_zero, cfg.add_all, sources, cfg.combinations)
    index = {
        "train": indexes.music_index(listed, "train", cfg.patch_frames, cfg.train_hop, len(conds)),
        "valid": indexes.music_index(listed, "valid", cfg.patch_frames, cfg.patch_frames, len(conds)),
    }
    for split, rows in index.items():
        save_npy(out / "indexes" / f"{split}.npy", rows)
    save_npy(out / "indexes" / "conditions.npy", conds)
    head = {
        "cunet_version": __version__,
        "config": cfg.record(),
        "source": {"dataset": cfg.dataset, "root": _resolved(root)},
    }
    stems = list(musdb.STEMS) if extra is None else ["mixture", *sources]
    body = {
        "splits": split_info,
        "tracks": listed,
        "too_short": _warn_short(listed, cfg.patch_frames, "frames"),
        "mixture_not_sum": {"threshold_db": spectrogram.MIXTURE_DIFFERENCE_DB, "tracks": _warn_mixture(listed)},
        "indexes": {
            split: {
                "file": f"indexes/{split}.npy",
                "rows": int(len(rows)),
                "columns": ["track", "start_frame", "condition"],
                "hop": cfg.train_hop if split == "train" else cfg.patch_frames,
                "patch_frames": cfg.patch_frames,
            }
            for split, rows in index.items()
        },
        "conditions": {"file": "indexes/conditions.npy", "names": names, "order": list(sources)},
    }
    manifest = music_manifest(head, spectrogram.STFT, stems, list(sources), extra or {}, body)
    save_json(out / "preprocess_config.json", {"type": type(cfg).__name__, "values": cfg.record()})
    save_json(out / "manifest.json", manifest)
    return out


def singing_store(
    cfg: PreprocessConfig,
    root: Path,
    acc_root: Path,
    out: Path,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    progress: bool = True,
    locked: bool = False,
) -> Path | None:
    """``locked``: the caller holds :func:`writing` for ``out`` already."""
    samples = acappella.scan(root)
    checked = [(s, s.check(singing.MIN_SECONDS)[1]) for s in samples]
    splits = sorted({s.split for s in samples})
    clips, feeds = acappella.scan_accompaniment(acc_root, splits, singing.MIN_SECONDS)
    sample_jobs = singing.sample_jobs(checked)
    acc_jobs = singing.accompaniment_jobs(clips)
    with contextlib.nullcontext() if locked else writing(out, "singing", shard):
        return _write_singing(cfg, root, acc_root, out, sample_jobs, acc_jobs, feeds, workers, shard, progress)


def _write_singing(cfg, root, acc_root, out, sample_jobs, acc_jobs, feeds, workers, shard, progress) -> Path | None:
    remove_leftovers(out, sample_jobs + acc_jobs)
    metas = run_jobs(
        out, sample_jobs + acc_jobs, workers, shard, desc=f"clips -> {printable(str(out))}", progress=progress
    )
    if metas is None:
        return None
    listed = [{**metas[j.folder], "folder": j.folder} for j in sample_jobs]
    acc = [{**metas[j.folder], "folder": j.folder} for j in acc_jobs]
    spf = singing_input.SAMPLES_PER_FRAME
    index = {
        "train": indexes.clip_index(listed, "train", cfg.video_frames, cfg.clip_samples, spf, cfg.train_hop),
        "valid": indexes.clip_index(listed, "val_seen", cfg.video_frames, cfg.clip_samples, spf, cfg.video_frames),
    }
    for split, rows in index.items():
        save_npy(out / "indexes" / f"{split}.npy", rows)
    head = {
        "cunet_version": __version__,
        "config": cfg.record(),
        "source": {"dataset": cfg.dataset, "root": _resolved(root), "acc_root": _resolved(acc_root)},
    }
    body = {
        "tracks": listed,
        "accompaniment": acc,
        "accompaniment_for_split": feeds,
        "too_short": _warn_short(listed, cfg.video_frames, "video frames"),
        "indexes": {
            split: {
                "file": f"indexes/{split}.npy",
                "rows": int(len(rows)),
                "columns": ["track", "start_frame"],
                "split": "train" if split == "train" else "val_seen",
                "hop": cfg.train_hop if split == "train" else cfg.video_frames,
                "video_frames": cfg.video_frames,
                "clip_samples": cfg.clip_samples,
            }
            for split, rows in index.items()
        },
    }
    manifest = singing_manifest(head, audio.YNET_STFT, singing_input.SAMPLE_RATE, singing_input.FPS, spf, body)
    save_json(out / "preprocess_config.json", {"type": type(cfg).__name__, "values": cfg.record()})
    save_json(out / "manifest.json", manifest)
    return out
