"""Scoring: every run's separator and the oracles on every test example, as long-format score rows."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..datasets.store import Store
from ..models.run import load_run
from .config import ResultsConfig
from .examples import Example, music_examples, singing_examples
from .oracle import ORACLES
from .report import excerpt_window
from .metrics import SilentSignalWarning, bss_eval_v3, bss_eval_v4, si_sdr, track_score
from .runs import latest_runs, train_config
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
        out[" (other singer)"] = separator.separate(example.mixture, example.rate,
                                                    visual=example.other_visual[kind])["vocals"]
    return out


def evaluate(cfg: ResultsConfig, progress: bool = True):
    """Score every run and the oracles; returns (rows, panels, listening): long-format score rows, for each
    model one example's (mixture, estimate, reference, rate, title) for the spectrogram panels, and for the
    first ``cfg.report_tracks`` examples of every target the listening report's excerpts."""
    from tqdm import tqdm

    from ..separation.load import load_separator
    from ..separation.streaming import SeparateConfig

    paths = [Path(p) for p in cfg.runs] or latest_runs(cfg.runs_root)
    # float32 whatever the CPU: scores must not depend on the machine that computed them
    sep_cfg = SeparateConfig(batch_size=cfg.batch_size, wiener=cfg.wiener, precision="float32")
    runs = [load_run(p) for p in paths]
    separators = [(run.name, load_separator(run, sep_cfg), run_store(run, cfg)) for run in runs]
    rows, panels, listening, heard = [], {}, {}, {}
    stores = sorted({s for _, _, s in separators}, key=str)
    for store_path in stores:
        store = Store(store_path)
        here = [(name, sep) for name, sep, s in separators if s == store_path]
        if store.kind == "music" and cfg.protocol in ("sisec", "both"):
            for track in tqdm(full_band_tracks(store, cfg.max_tracks), desc=f"SiSEC protocol, {store_path}",
                              disable=not progress, unit="track"):
                rows += sisec_rows(track, here)
        if store.kind == "music" and cfg.protocol == "sisec":
            continue
        examples = (music_examples(store, cfg.max_tracks) if store.kind == "music"
                    else singing_examples(store, cfg.seed, cfg.loudness, cfg.max_tracks))
        cache = {}
        for ex in tqdm(examples, desc=f"scoring {store_path}", disable=not progress, unit="example"):
            cache = {k: v for k, v in cache.items() if k[1] == ex.track}  # only the current track's
            estimates = {name: est for name, est in ex.oracles.items()}
            for name, sep in here:
                estimates.update({name + suffix: est for suffix, est in _estimates(sep, ex, cache).items()})
            for model, est in estimates.items():
                values = score(ex, est, cfg.v4, mixture_row=model == "mixture")
                rows += [{"track": ex.track, "split": ex.split, "target": ex.target, "protocol": "paper",
                          "model": model, "metric": m, "value": v} for m, v in values.items()]
                panels.setdefault((ex.target, model), (ex.mixture, est, ex.sources[0], ex.rate,
                                                       f"{model}: {ex.target}, {ex.track}"))
            heard[ex.target] = heard.get(ex.target, 0) + 1
            if heard[ex.target] <= cfg.report_tracks:  # the listening report's excerpt of this example
                window = excerpt_window(ex.sources[0], ex.rate)
                rows_heard = {"mixture": ex.mixture, "reference": ex.sources[0], "IRM1": ex.oracles["IRM1"],
                              **{m: e for m, e in estimates.items() if m not in ORACLES}}
                listening[ex.target, ex.track] = (ex.rate, window.start / ex.rate,
                                                  {k: np.asarray(v[window], np.float32) for k, v in rows_heard.items()})
    return rows, panels, listening


def run_store(run, cfg: ResultsConfig) -> Path:
    """The store a run is scored on: ``cfg.store`` when it is of the run's kind, else the run's own."""
    train = train_config(run)
    if cfg.store is not None and Store(cfg.store).kind == train.store_kind:
        return Path(cfg.store)
    return train.store_path
