"""Scoring: every run's separator and the oracles on every example of the split, as long-format score rows."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..models.run import load_run
from ..outputs import problem
from ..store import Store
from .config import ResultsConfig
from .examples import Example, music_examples, singing_examples
from .locate import dataset_root, find_recorded, is_store
from .metrics import SilentSignalWarning, bss_eval_v3, bss_eval_v4, si_sdr, track_score
from .oracle import ORACLES
from .report import excerpt_window
from .rows import ABSENT, ScoreRow, model_label, target_label
from .runs import latest_runs, run_folders, run_names, together_spec, train_config
from .sisec import full_band_tracks, sisec_rows

METRICS = ("sdr", "sir", "sar", "sdr_v4", "isr_v4", "sir_v4", "sar_v4", "si_sdr")


def score(example: Example, estimate: np.ndarray, v4: bool, mixture_row: bool = False) -> dict[str, float]:
    """The target's scores; the estimate of the rest is the mixture less the target's estimate (for the
    mixture row, the mixture again: it is every source's estimate)."""
    ref = np.stack([example.sources[0], example.mixture - example.sources[0]])
    est = np.stack([estimate, example.mixture if mixture_row else example.mixture - estimate])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentSignalWarning)  # silent stems score NaN; counts show them
        v3 = bss_eval_v3(ref, est)
        out = {k: float(v3[k][0]) for k in ("sdr", "sir", "sar")}
        if v4:
            frames = bss_eval_v4(ref[..., None], est[..., None], rate=example.rate)
            out.update({f"{k}_v4": float(track_score(frames[k])[0]) for k in ("sdr", "isr", "sir", "sar")})
        out["si_sdr"] = si_sdr(ref[0], estimate)
    return out


def _estimates(separator, example: Example, track_cache: dict) -> dict[str | None, np.ndarray]:
    """{frames: the target's estimate} for one separator on one example: frames None for a model without
    visual input, else ``own`` and ``other`` (the other singer's frames, the proof the visual branch is used).
    A music track comes once per target with the same mixture: each separator separates it once
    (``track_cache``)."""
    if example.visual is None:
        if example.target not in separator.targets:
            return {}
        if (id(separator), example.track) not in track_cache:
            track_cache[id(separator), example.track] = separator.separate(example.mixture, example.rate)
        return {None: track_cache[id(separator), example.track][example.target]}
    kind = separator.visual
    if kind == "none":
        return {None: separator.separate(example.mixture, example.rate)["vocals"]}
    if example.visual is None or example.other_visual is None:  # not reached: singing examples carry both
        raise ValueError(f"{example.track}: a singing example without its visual inputs")
    return {
        frames: separator.separate(example.mixture, example.rate, visual=visual[kind])["vocals"]
        for frames, visual in (("own", example.visual), ("other", example.other_visual))
    }


@dataclasses.dataclass
class Scores:
    """What :func:`evaluate` found.

    Args:
        rows: every score, the oracles' included.
        panels: {(table label, model label): (mixture, estimate, reference, rate, title)}: one example per
            target and model for the spectrogram panels.
        listening: {(table label, track): (rate, first second, {row: excerpt})}: the listening report's
            excerpts of the first ``report_tracks`` examples of every target.
        skipped: a line for each store's protocol that could not be scored (its audio moved, say), whose rows
            are left out whole.
    """

    rows: list[ScoreRow]
    panels: dict
    listening: dict
    skipped: list[str]


def evaluate(cfg: ResultsConfig, progress: bool = True) -> Scores:
    """Score every run and the oracles, each store and protocol on its own.

    Args:
        cfg: the results settings.
        progress: show progress bars.

    Returns:
        the rows, panels, listening excerpts and what was skipped (:class:`Scores`).

    Raises:
        InputError, OSError: the first refusal, when nothing at all could be scored.
    """
    from ..separation.load import load_separator
    from ..separation.streaming import SeparateConfig

    banks = [together_spec(spec) for spec in cfg.together]
    paths = run_folders(cfg.runs) if cfg.runs or banks else latest_runs(cfg.runs_root)
    # float32 whatever the CPU: scores must not depend on the machine that computed them
    sep_cfg = SeparateConfig(batch_size=cfg.batch_size, wiener=cfg.wiener, precision="float32")
    runs = [load_run(p) for p in paths]
    names = run_names([run.folder for run in runs], reserved=(*ORACLES, *(name for name, _ in banks)))
    separators = [(name, load_separator(run, sep_cfg), run_store(run, cfg)) for name, run in zip(names, runs)]
    for name, members in banks:
        if name in [n for n, _, _ in separators]:
            raise InputError(None, f"--together {name}: another model has that name")
        together = [load_run(p) for p in members]
        stores = {run_store(run, cfg) for run in together}
        if len(stores) > 1:
            trained = ", ".join(sorted(map(str, stores)))
            raise InputError(None, f"--together {name}: its models were trained on different stores ({trained})")
        separators.append((name, load_separator(together, sep_cfg), stores.pop()))
    rows: list[ScoreRow] = []
    panels: dict[tuple[str, str], tuple] = {}  # (table, model) -> (mixture, estimate, reference, rate, title)
    listening: dict[tuple[str, str], tuple] = {}  # (table, track) -> (rate, start seconds, {row: excerpt})
    skipped: list[str] = []
    refusals: list[Exception] = []
    for store_path in sorted({s for _, _, s in separators}, key=str):
        store = Store(store_path)
        here = [(name, sep) for name, sep, s in separators if s == store_path]
        protocols = (
            (["paper", "sisec"] if cfg.protocol == "both" else [cfg.protocol]) if store.kind == "music" else ["paper"]
        )  # Y-Net clips have the one protocol
        for protocol in protocols:
            try:
                if protocol == "sisec":
                    rows += _sisec(store, here, cfg, progress)
                    continue
                found, found_panels, found_listening = _paper(store, here, cfg, progress)
            except (InputError, OSError) as err:
                refusals.append(err)
                said = str(err) if isinstance(err, InputError) else f"{err.filename}: {problem(err)}"
                skipped.append(f"the {protocol} protocol on {store_path}: {said}")
                continue
            rows += found
            for key, panel in found_panels.items():
                panels.setdefault(key, panel)
            listening.update(found_listening)
    if not rows:
        raise refusals[0]
    return Scores(rows, panels, listening, skipped)


def _sisec(store: Store, here: list, cfg: ResultsConfig, progress: bool) -> list[ScoreRow]:
    """The SiSEC protocol's rows of a music store's tracks of ``cfg.split``, read from its dataset folder."""
    from tqdm import tqdm

    root = dataset_root(store, cfg.split, cfg.dataset_root)
    rows = []
    for track in tqdm(
        full_band_tracks(store, cfg.max_tracks, root, cfg.split),
        desc=f"SiSEC protocol, {store.path}",
        disable=not progress,
        unit="track",
    ):
        rows += sisec_rows(track, here, cfg.split)
    return rows


def _paper(store: Store, here: list, cfg: ResultsConfig, progress: bool):
    """(rows, panels, listening) of the paper protocol on a store's examples of ``cfg.split``."""
    from tqdm import tqdm

    examples = (
        music_examples(store, cfg.max_tracks, cfg.split)
        if store.kind == "music"
        else singing_examples(store, cfg.seed, cfg.loudness, cfg.max_tracks, cfg.split)
    )
    rows: list[ScoreRow] = []
    panels: dict[tuple[str, str], tuple] = {}
    listening: dict[tuple[str, str], tuple] = {}
    heard: dict[str, int] = {}  # table label -> examples heard
    cache: dict[tuple[int, str], dict[str, np.ndarray]] = {}  # (id(separator), track) -> its estimates
    for ex in tqdm(examples, desc=f"scoring {store.path}", disable=not progress, unit="example"):
        where = {"track": ex.track, "split": ex.split, "target": ex.target, "protocol": "paper"}
        condition = {"singers": ex.singers, "loudness": ex.loudness}
        if ex.absent:  # no reference, no score: one row that the tables count apart (rows.ABSENT)
            rows.append(ScoreRow(**where, model="", metric=ABSENT, value=1.0, **condition))
            continue
        cache = {k: v for k, v in cache.items() if k[1] == ex.track}  # only the current track's
        estimates: dict[tuple[str, str | None], np.ndarray] = {(name, None): e for name, e in ex.oracles.items()}
        for name, sep in here:
            estimates.update({(name, frames): e for frames, e in _estimates(sep, ex, cache).items()})
        table = target_label(ex.target, ex.singers)
        for (model, frames), est in estimates.items():
            values = score(ex, est, cfg.v4, mixture_row=model == "mixture")
            rows += [
                ScoreRow(**where, model=model, metric=m, value=v, frames=frames, **condition) for m, v in values.items()
            ]
            shown = model_label(model, frames)
            panels.setdefault(
                (table, shown), (ex.mixture, est, ex.sources[0], ex.rate, f"{shown}: {table}, {ex.track}")
            )
        heard[table] = heard.get(table, 0) + 1
        if heard[table] <= cfg.report_tracks:  # the listening report's excerpt of this example
            window = excerpt_window(ex.sources[0], ex.rate)
            rows_heard = {
                "mixture": ex.mixture,
                "reference": ex.sources[0],
                "IRM1": ex.oracles["IRM1"],
                **{model_label(m, f): e for (m, f), e in estimates.items() if m not in ORACLES},
            }
            listening[table, ex.track] = (
                ex.rate,
                window.start / ex.rate,
                {k: np.asarray(v[window], np.float32) for k, v in rows_heard.items()},
            )
    return rows, panels, listening


def run_store(run, cfg: ResultsConfig) -> Path:
    """The store a run is scored on, resolved (one store however it is spelled): ``cfg.store`` when it is of
    the run's kind, else the one its training config records (a relative path is found from the run's
    folder upwards, then from the current folder; see locate.py)."""
    train = train_config(run)
    if cfg.store is not None and Store(cfg.store).kind == train.store_kind:
        return Path(cfg.store).resolve()
    return find_recorded(train.store_path, run.folder, is_store) or train.store_path.resolve()
