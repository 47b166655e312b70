"""Build a store from a dataset on disk: check everything first, write tracks, then indexes and manifest."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import __version__, audio, config
from ..datasets import acappella, musdb
from ..errors import InputError
from ..fileio import load_json, save_json, save_npy
from . import indexes, singing, spectrogram, store
from .config import PreprocessConfig


def claim(out: Path, kind: str) -> None:
    """Use ``out`` as a store of ``kind``: refuse a folder that holds something else."""
    marker = out / "store.json"
    identity = {"format": store.FORMAT, "version": store.VERSION, "kind": kind}
    if marker.is_file():
        found = load_json(marker)
        if found != identity:
            raise InputError(out, f"holds a {found.get('kind')} store of format version {found.get('version')}; "
                                  f"this run writes a {kind} store of version {store.VERSION}: choose another --out")
    elif out.exists() and any(out.iterdir()):
        raise InputError(out, "exists, is not empty and is not a cunet store: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if not marker.is_file():
        save_json(marker, identity)


def _warn_short(tracks: list[dict], need: int, unit: str) -> list[str]:
    short = [t["name"] for t in tracks if t["split"] in ("train", "valid", "val_seen") and t["n_frames"] < need]
    if short:
        print(f"warning: {len(short)} track(s) shorter than one patch ({need} {unit}) give no training "
              f"patches: {', '.join(short[:5])}", file=sys.stderr)
    return short


def music_store(cfg: PreprocessConfig, root: Path, out: Path, workers: int = 1,
                shard: tuple[int, int] | None = None, progress: bool = True) -> Path | None:
    tracks, split_info = musdb.scan(root, list(cfg.valid_tracks) or None, cfg.valid_fraction, cfg.seed)
    for track in tracks:  # headers only: a bad file stops the run before anything is written
        track.check()
    claim(out, "music")
    jobs = spectrogram.jobs(tracks)
    metas = store.run(out, jobs, workers, shard, desc=f"spectrograms -> {out}", progress=progress)
    if metas is None:
        return None
    listed = [{**metas[j.folder], "folder": j.folder} for j in jobs]
    conds, names = indexes.conditions(cfg.add_zero, cfg.add_all)
    index = {"train": indexes.music_index(listed, "train", cfg.patch_frames, cfg.train_hop, len(conds)),
             "valid": indexes.music_index(listed, "valid", cfg.patch_frames, cfg.patch_frames, len(conds))}
    for split, rows in index.items():
        save_npy(out / "indexes" / f"{split}.npy", rows)
    save_npy(out / "indexes" / "conditions.npy", conds)
    stft = spectrogram.STFT
    manifest = {
        "format": store.FORMAT, "version": store.VERSION, "kind": "music", "cunet_version": __version__,
        "config": config.to_dict(cfg), "source": {"dataset": cfg.dataset, "root": str(root)},
        "sample_rate": stft.sample_rate, "channels": 1,
        "stft": {"n_fft": stft.n_fft, "hop": stft.hop, "window": "hann-periodic", "center": stft.center,
                 "pad_mode": stft.pad_mode, "dtype": "complex64", "layout": "bins x frames"},
        "stems": list(musdb.STEMS), "sources": list(musdb.SOURCES), "splits": split_info,
        "tracks": listed, "too_short": _warn_short(listed, cfg.patch_frames, "frames"),
        "indexes": {split: {"file": f"indexes/{split}.npy", "rows": int(len(rows)),
                            "columns": ["track", "start_frame", "condition"],
                            "hop": cfg.train_hop if split == "train" else cfg.patch_frames,
                            "patch_frames": cfg.patch_frames} for split, rows in index.items()},
        "conditions": {"file": "indexes/conditions.npy", "names": names, "order": list(musdb.SOURCES)},
    }
    config.save(cfg, out / "preprocess_config.json")
    save_json(out / "manifest.json", manifest)
    return out


def singing_store(cfg: PreprocessConfig, root: Path, acc_root: Path, out: Path, workers: int = 1,
                  shard: tuple[int, int] | None = None, progress: bool = True) -> Path | None:
    samples = acappella.scan(root)
    checked = [(s, s.check()[1]) for s in samples]
    splits = sorted({s.split for s in samples})
    clips, feeds = acappella.scan_accompaniment(acc_root, splits)
    claim(out, "singing")
    sample_jobs = singing.sample_jobs(checked)
    acc_jobs = singing.accompaniment_jobs(clips)
    metas = store.run(out, sample_jobs + acc_jobs, workers, shard, desc=f"clips -> {out}", progress=progress)
    if metas is None:
        return None
    listed = [{**metas[j.folder], "folder": j.folder} for j in sample_jobs]
    acc = [{**metas[j.folder], "folder": j.folder} for j in acc_jobs]
    spf = acappella.SAMPLES_PER_FRAME
    index = {"train": indexes.clip_index(listed, "train", cfg.video_frames, cfg.clip_samples, spf, cfg.train_hop),
             "valid": indexes.clip_index(listed, "val_seen", cfg.video_frames, cfg.clip_samples, spf,
                                         cfg.video_frames)}
    for split, rows in index.items():
        save_npy(out / "indexes" / f"{split}.npy", rows)
    stft = audio.YNET_STFT
    manifest = {
        "format": store.FORMAT, "version": store.VERSION, "kind": "singing", "cunet_version": __version__,
        "config": config.to_dict(cfg),
        "source": {"dataset": cfg.dataset, "root": str(root), "acc_root": str(acc_root)},
        "sample_rate": acappella.SAMPLE_RATE, "fps": acappella.FPS, "samples_per_frame": spf,
        "stft": {"n_fft": stft.n_fft, "hop": stft.hop, "window": "hann-periodic", "center": stft.center,
                 "pad_mode": stft.pad_mode},
        "tracks": listed, "accompaniment": acc, "accompaniment_for_split": feeds,
        "too_short": _warn_short(listed, cfg.video_frames, "video frames"),
        "indexes": {split: {"file": f"indexes/{split}.npy", "rows": int(len(rows)),
                            "columns": ["track", "start_frame"], "split": "train" if split == "train" else "val_seen",
                            "hop": cfg.train_hop if split == "train" else cfg.video_frames,
                            "video_frames": cfg.video_frames, "clip_samples": cfg.clip_samples}
                    for split, rows in index.items()},
    }
    config.save(cfg, out / "preprocess_config.json")
    save_json(out / "manifest.json", manifest)
    return out
