"""Scoring: every run's separator and the oracles on every example of the split, as long-format score rows."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..datasets.store import Store
from ..errors import InputError
from ..models.run import load_run
from ..outputs import problem
from .config import ResultsConfig
from .examples import Example, music_examples, singing_examples
from .locate import dataset_root, find_recorded, is_store
from .metrics import SilentSignalWarning, bss_eval_v3, bss_eval_v4, si_sdr, track_score
from .oracle import ORACLES
from .report import excerpt_window
from .runs import latest_runs, run_folders, run_names, train_config
from .sisec import full_band_tracks, sisec_rows
from .tables import ABSENT

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


def _estimates(separator, example: Example, track_cache: dict) -> dict[str, np.ndarray]:
    """{model row name: the target's estimate} for one separator on one example. A music track comes once
    per target with the same mixture: each separator separates it once (``track_cache``)."""
    if example.visual is None:
        if example.target not in separator.targets:
            return {}
        if (id(separator), example.track) not in track_cache:
            track_cache[id(separator), example.track] = separator.separate(example.mixture, example.rate)
        return {"": track_cache[id(separator), example.track][example.target]}
    kind = separator.visual
    own = example.visual.get(kind) if kind != "none" else None
    out = {"": separator.separate(example.mixture, example.rate, visual=own)["vocals"]}
    if kind != "none":  # the proof the visual branch is used: the other singer's frames
        if example.other_visual is None:  # not reached: a singing example holds both singers' visual inputs
            raise ValueError(f"example {example.track!r} has no other singer's {kind}")
        out[" (other singer)"] = separator.separate(example.mixture, example.rate, visual=example.other_visual[kind])[
            "vocals"
        ]
    return out


def evaluate(cfg: ResultsConfig, progress: bool = True):
    """Score every run and the oracles, each store and protocol on its own.

    Args:
        cfg: the results settings.
        progress: show progress bars.
    Returns:
        (rows, panels, listening, skipped): long-format score rows; for each model one example's (mixture,
        estimate, reference, rate, title) for the spectrogram panels; for the first ``cfg.report_tracks``
        examples of every target the listening report's excerpts; and a line for each store's protocol that
        could not be scored (its audio moved, say), whose rows are left out whole. Raises the first such
        refusal when nothing at all could be scored.
    """
    from ..separation.load import load_separator
    from ..separation.streaming import SeparateConfig

    paths = run_folders(cfg.runs) if cfg.runs else latest_runs(cfg.runs_root)
    # float32 whatever the CPU: scores must not depend on the machine that computed them
    sep_cfg = SeparateConfig(batch_size=cfg.batch_size, wiener=cfg.wiener, precision="float32")
    runs = [load_run(p) for p in paths]
    names = run_names([run.folder for run in runs])
    separators = [(name, load_separator(run, sep_cfg), run_store(run, cfg)) for name, run in zip(names, runs)]
    rows: list[dict] = []
    panels: dict[tuple[str, str], tuple] = {}  # (target, model) -> (mixture, estimate, reference, rate, title)
    listening: dict[tuple[str, str], tuple] = {}  # (target, track) -> (rate, start seconds, {row: excerpt})
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
    return rows, panels, listening, skipped


def _sisec(store: Store, here: list, cfg: ResultsConfig, progress: bool) -> list[dict]:
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
    rows: list[dict] = []
    panels: dict[tuple[str, str], tuple] = {}
    listening: dict[tuple[str, str], tuple] = {}
    heard: dict[str, int] = {}  # target -> examples seen
    cache: dict[tuple[int, str], dict[str, np.ndarray]] = {}  # (id(separator), track) -> its estimates
    for ex in tqdm(examples, desc=f"scoring {store.path}", disable=not progress, unit="example"):
        if ex.absent:  # no reference, no score: one row that the tables count apart (tables.ABSENT)
            rows.append(
                {
                    "track": ex.track,
                    "split": ex.split,
                    "target": ex.target,
                    "protocol": "paper",
                    "model": "",
                    "metric": ABSENT,
                    "value": 1.0,
                }
            )
            continue
        cache = {k: v for k, v in cache.items() if k[1] == ex.track}  # only the current track's
        estimates = {name: est for name, est in ex.oracles.items()}
        for name, sep in here:
            estimates.update({name + suffix: est for suffix, est in _estimates(sep, ex, cache).items()})
        for model, est in estimates.items():
            values = score(ex, est, cfg.v4, mixture_row=model == "mixture")
            rows += [
                {
                    "track": ex.track,
                    "split": ex.split,
                    "target": ex.target,
                    "protocol": "paper",
                    "model": model,
                    "metric": m,
                    "value": v,
                }
                for m, v in values.items()
            ]
            panels.setdefault(
                (ex.target, model), (ex.mixture, est, ex.sources[0], ex.rate, f"{model}: {ex.target}, {ex.track}")
            )
        heard[ex.target] = heard.get(ex.target, 0) + 1
        if heard[ex.target] <= cfg.report_tracks:  # the listening report's excerpt of this example
            window = excerpt_window(ex.sources[0], ex.rate)
            rows_heard = {
                "mixture": ex.mixture,
                "reference": ex.sources[0],
                "IRM1": ex.oracles["IRM1"],
                **{m: e for m, e in estimates.items() if m not in ORACLES},
            }
            listening[ex.target, ex.track] = (
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
