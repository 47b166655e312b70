"""The multi-stem layouts (MoisesDB, Slakh2100, stem folders) made ready for the store writer: tracks read,
sources chosen, tracks holding none of them set aside, every file's header checked before anything is written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..datasets import folders, moisesdb, slakh
from ..datasets.stems import MIXTURE, StemTrack, available_stems, parse_group, select_sources, split_by_sources
from ..errors import InputError
from .config import PreprocessConfig
from .spectrogram import MIN_SECONDS

# A source's name is a file name in every track folder (<source>.npy) and a word on the command line.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def _read(cfg: PreprocessConfig, root: Path) -> tuple[list[StemTrack], dict]:
    if cfg.dataset == "moisesdb":
        return moisesdb.scan(root, cfg.test_tracks, cfg.test_fraction, cfg.valid_tracks, cfg.valid_fraction, cfg.seed)
    reader = slakh if cfg.dataset == "slakh" else folders
    return reader.scan(root, list(cfg.valid_tracks) or None, cfg.valid_fraction, cfg.seed)


def _groups(cfg: PreprocessConfig) -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    for text in cfg.groups:
        name, members = parse_group(text)
        if name in groups:
            raise InputError(None, f"--group {name} is given twice")
        groups[name] = members
    return groups


def _check_names(selection: dict[str, tuple[str, ...]]) -> None:
    for name in selection:
        if name == MIXTURE or not NAME.fullmatch(name):
            raise InputError(
                None,
                f"{name!r} cannot name a source (the store keeps it as <source>.npy): use "
                "letters, digits, '_', '.', '+' and '-', and not 'mixture'",
            )


def prepare(cfg: PreprocessConfig, root: Path) -> tuple[list[StemTrack], dict, dict[str, tuple[str, ...]], list]:
    """Read a multi-stem dataset and choose its sources; refuse a bad file or name before anything is written.

    Args:
        cfg: the run's settings (``dataset`` one of the multi-stem layouts; ``sources``, ``rest``, ``groups``).
        root: the dataset folder.

    Returns:
        (the tracks holding at least one chosen source, each checked from its headers; how the splits were
        chosen; ``{source: stems}`` in condition order; the tracks set aside, ``{"name", "split", "reason"}``)."""
    tracks, split_info = _read(cfg, root)
    selection = select_sources(available_stems(tracks), list(cfg.sources) or None, cfg.rest, _groups(cfg))
    _check_names(selection)
    kept, skipped = split_by_sources(tracks, selection)
    if skipped:
        listed = ", ".join(f"{t['name']} ({t['reason']})" for t in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        print(f"warning: {len(skipped)} track(s) skipped, holding none of the sources: {listed}{more}", file=sys.stderr)
    if not kept:
        raise InputError(root, f"no track holds any of the sources {', '.join(selection)}")
    for track in kept:  # headers only: a bad file stops the run before anything is written
        track.check(MIN_SECONDS)
    return kept, split_info, selection, skipped
