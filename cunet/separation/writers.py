"""Writing a file's stems: naming them, encodings and clipping, whole files only.

Stems stream into hidden temporary float files in a hidden folder of the output folder, its name
carrying the process id; once the input is separated, each is kept as it is (float wav, nothing to clip)
or written in its final encoding (integer wav or flac, mp3), rescaled or clamped as the clip mode says,
and then all are put in place together (publish.py). A failure anywhere leaves the stems as they were; a
process killed outright leaves its hidden folder, which the next separation into that output folder
removes, or, killed while putting the stems in place, completes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import string
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from .. import audio
from ..config import check_choice, choices
from ..errors import InputError
from ..fileio import remove_stale_temporaries, temporary_dir
from ..outputs import WRITE_ERRORS, unwritable
from .inputs import CheckedInput, checked_input
from .publish import complete_killed, publish
from .separator import Separator

STAGING = "cunet"  # the name of the hidden folder stems are written in before they are renamed into place
ClipMode = Literal["rescale", "clamp", "none"]
CLIP_MODES = choices(ClipMode)
TEMPLATE_KEYS = {"name", "target"}


class ClippingWarning(UserWarning):
    """A stem went past full scale; the message names the file and what was done about it."""


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    """How the stems of a file are written: where (``template``, below the output folder), in which format (the
    template's suffix and ``bits``) and what happens to samples past full scale (``clip_mode``). Made from the
    command line's flags; nothing saves it.

    Raises:
        ValueError: a template with an unknown key, without ``{target}`` or with an unwritable suffix, bits the
            format does not take, or an unknown clip mode.
    """

    template: str = "{name}/{target}.wav"  # {name}: the input's stem; the suffix picks wav, flac or mp3
    bits: int | None = None  # 16 or 24 (integer), 32 (float wav); default: float wav, 24-bit flac
    clip_mode: ClipMode = "rescale"  # rescale: all stems of an input by one factor; clamp; none: as computed

    def __post_init__(self):
        keys = {f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None}
        if keys - TEMPLATE_KEYS:
            raise ValueError(
                f"template {self.template!r}: unknown key(s) {sorted(keys - TEMPLATE_KEYS)}; "
                f"use {{name}} and {{target}}"
            )
        if "target" not in keys:
            raise ValueError(f"template {self.template!r} lacks {{target}}: every stem would go to one file")
        suffix = Path(self.template.format(name="x", target="y")).suffix
        if suffix.lower() == ".mp3" and self.bits:
            raise ValueError("--bits applies to wav and flac, not mp3")
        try:
            audio.output_subtype(Path("x" + suffix), self.bits)
        except InputError as err:
            raise ValueError(f"template {self.template!r}: {err.problem}") from None
        check_choice("clip_mode", self.clip_mode, ClipMode)


def output_paths(stems: tuple[str, ...], path: Path, out: Path, cfg: OutputConfig) -> list[Path]:
    """Where each stem of ``path`` goes; every name must stay inside ``out``, be its own, and have room:
    no folder where the file goes, no file where a folder must be made."""
    names = [out / cfg.template.format(name=path.stem, target=stem) for stem in stems]
    root = out.resolve()
    for name in names:
        if root not in name.resolve().parents:
            raise InputError(name, f"the template sends a stem outside the output folder {out}")
        if name.is_dir():
            raise InputError(name, "is a folder where a stem would go: move it or change --template")
        for folder in name.relative_to(out).parents:
            if (out / folder).exists() and not (out / folder).is_dir():
                raise InputError(
                    out / folder,
                    f"is a file where the folder of {name.name} would be made: move it or change --template",
                )
    if len({n.resolve() for n in names}) < len(names):  # resolved: "{target}/../x.wav" is one file for all
        raise InputError(names[0], "the template gives two stems one file name")
    return names


def separate_file(
    separator: Separator,
    path: str | Path,
    out: str | Path = "separated",
    cfg: OutputConfig = OutputConfig(),
    progress: Callable[[int], None] | None = None,
    *,
    checked: CheckedInput | None = None,
    names: list[Path] | None = None,
) -> list[Path]:
    """Separate one audio file into ``out``.

    Args:
        separator: from :func:`~cunet.separation.load.load_separator`.
        path: any audio file (wav, flac, mp3, m4a, ogg, ...) or a video's audio track.
        out: the output folder; names come from ``cfg.template``.
        cfg: template, bit depth and clip mode.
        progress: called with the number of input samples each step finished.
        checked: ``path`` as :func:`~cunet.separation.inputs.checked_input` opened it, where the caller
            already has (the command checks every input before it writes anything); else opened here.
        names: where the stems go, where the caller already has them from :func:`output_paths`.

    Returns:
        The files written, one per stem; each appears whole, and all of them together (a kill while they
        are put in place is completed by the next separation into ``out``) or none.
    """
    path, out = Path(path), Path(out)
    names = output_paths(separator.stems, path, out, cfg) if names is None else names
    if checked is None:
        with checked_input(separator, path) as opened:
            return separate_file(separator, path, out, cfg, progress, checked=opened, names=names)
    source = checked.source
    made = [d for d in [out, *out.parents][::-1] if not d.exists()]  # folders this call creates
    out.mkdir(parents=True, exist_ok=True)
    # Stems are only ever staged in one hidden folder of ``out`` (then renamed into place): what separations
    # killed outright left is there, nowhere else.
    complete_killed(out)  # first: a killed separation's stems half in place are completed, not mixed
    remove_stale_temporaries(out, STAGING)
    # hidden, locked by this process until the stems are out of it: the next run tells whether it is stale
    with temporary_dir(out, STAGING) as tmp:
        try:
            floats = [tmp / f"{i}.wav" for i in range(len(names))]
            peaks = np.zeros(len(names))
            with contextlib.ExitStack() as stack:
                writes = [
                    stack.enter_context(_stem_writer(f, name, source.rate, source.channels, "FLOAT"))
                    for f, name in zip(floats, names)
                ]

                pieces = separator.stream(
                    source,
                    visual=checked.visual,
                    visual_name=checked.visual_name,
                    progress=progress,
                    scale=checked.scale,
                )
                for piece in pieces:  # the writers are the sink of the separation's one forward path
                    if piece.shape[-1]:  # the largest magnitude, without an array of magnitudes
                        peaks[:] = np.maximum(peaks, np.maximum(piece.max(axis=(1, 2)), -piece.min(axis=(1, 2))))
                    for write, stem in zip(writes, piece):
                        write(stem)
            if not np.isfinite(peaks).all():  # never write NaN: the input was finite, so the model is at fault
                raise InputError(path, "the model produced NaN or infinite samples; nothing was written")
            factor = _clip_factor(peaks, names, path, cfg.clip_mode)
            finals = []
            for i, (stem_file, name, peak) in enumerate(zip(floats, names, peaks)):
                subtype = audio.output_subtype(name, cfg.bits)
                clamp = cfg.clip_mode == "clamp" and bool(peak > 1)
                if subtype == "FLOAT" and name.suffix.lower() == ".wav" and factor == 1 and not clamp:
                    finals.append(stem_file)  # already what was asked for
                else:
                    finals.append(tmp / f"{i}.final{name.suffix}")
                    _transcode(stem_file, finals[-1], name, subtype, factor, clamp)
            for name in names:  # every stem is ready: only renames are left, all or none of them
                made += [d for d in [name.parent, *name.parent.parents][::-1] if not d.exists()]
                name.parent.mkdir(parents=True, exist_ok=True)
            publish(tmp, out, [(final.name, name) for final, name in zip(finals, names)])
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # first: the folders this call made can go only once it has
            for d in made[::-1]:
                with contextlib.suppress(OSError):
                    d.rmdir()  # only if empty: nothing of anyone else's goes
            raise
    return names


def separate_files(
    separator: Separator,
    inputs: list[Path],
    out: str | Path,
    cfg: OutputConfig = OutputConfig(),
    progress: Callable[[Path], contextlib.AbstractContextManager[Callable[[int], None]]] | None = None,
    done: Callable[[Path, list[Path]], None] | None = None,
) -> None:
    """Separate several files into ``out``, as the command does: every input, and where its stems go, is
    checked before anything is written; each stays open (decoded once) until its own separation is done.

    Args:
        separator, out, cfg: as :func:`separate_file`.
        inputs: the files, as :func:`~cunet.separation.inputs.find_inputs` gives them.
        progress: for each input, a context giving the callable its separation reports progress to.
        done: called with each input and the stems written for it.

    Raises:
        InputError: the first input that cannot be separated, or two stems given one file name (nothing
            written then), naming the file.
    """
    out = Path(out)
    planned: dict[Path, Path] = {}
    given = {p.resolve() for p in inputs}
    with contextlib.ExitStack() as held:
        jobs = []
        for path in inputs:
            opened = contextlib.ExitStack()
            held.enter_context(opened)
            checked = opened.enter_context(checked_input(separator, path))
            names = output_paths(separator.stems, path, out, cfg)
            for name in names:
                if name.resolve() in planned or name.resolve() in given:
                    other = planned.get(name.resolve(), name)
                    raise InputError(
                        name,
                        f"would be written twice or over an input ({other} and {path}); "
                        "give --template a part that tells them apart",
                    )
                planned[name.resolve()] = path
            jobs.append((checked, names, opened))
        for checked, names, opened in jobs:
            with progress(checked.path) if progress else contextlib.nullcontext(None) as report:
                written = separate_file(separator, checked.path, out, cfg, report, checked=checked, names=names)
            opened.close()  # its decoded copy goes now, not at the end of the run
            if done:
                done(checked.path, written)


@contextlib.contextmanager
def _stem_writer(file: Path, name: Path, rate: int, channels: int, subtype: str):
    """:func:`audio.writer` on the temporary ``file``, its failures (a full disk, while writing or closing)
    reported against ``name``, the stem's own file: the temporary name would mean nothing to the user."""
    written = False
    try:
        with audio.writer(file, rate, channels, subtype) as write:

            def checked(block: np.ndarray) -> None:
                try:
                    write(block)
                except WRITE_ERRORS as err:
                    raise unwritable(name, err, UNWRITTEN) from None

            yield checked
            written = True  # what fails from here on is the file's closing
    except WRITE_ERRORS as err:
        if not written:
            raise  # the separation's own error, passing through
        raise unwritable(name, err, UNWRITTEN) from None


UNWRITTEN = "no stem of this input was written"


def _clip_factor(peaks: np.ndarray, names: list[Path], path: Path, mode: str) -> float:
    """The one gain for all stems of ``path`` (rescale), after warning about those past full scale."""
    over = [(n, p) for n, p in zip(names, peaks) if p > 1]
    if not over:
        return 1.0
    listed = ", ".join(f"{n.name} ({p:.3f})" for n, p in over)
    if mode == "rescale":
        factor = 0.999 / float(peaks.max())
        warnings.warn(
            f"{path}: stems past full scale: {listed}; every stem scaled by {factor:.4f} "
            f"(--clip-mode clamp or none to keep the level)",
            ClippingWarning,
            stacklevel=3,
        )
        return factor
    what = "clamped to full scale" if mode == "clamp" else "left past full scale (integer formats saturate)"
    for name, peak in over:
        warnings.warn(f"{name}: peaks at {peak:.3f}, {what}", ClippingWarning, stacklevel=3)
    return 1.0


def _transcode(
    float_wav: Path, file: Path, name: Path, subtype: str, factor: float, clamp: bool, block: int = 1 << 20
) -> None:
    """The float stem ``float_wav`` -> ``file`` in its final encoding (``name``: where it goes)."""
    meta = audio.info(float_wav)
    with _stem_writer(file, name, meta.samplerate, meta.channels, subtype) as write:
        for start in range(0, meta.frames, block):
            x = audio.read_span(float_wav, start, start + block) * np.float32(factor)
            write(np.clip(x, -1, 1) if clamp else x)
