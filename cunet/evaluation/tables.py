"""Summary tables: medians per target and model with their track counts, the oracle rows first."""

from __future__ import annotations

import numpy as np

from .oracle import ORACLES
from .rows import ABSENT, ALL_SPLITS, COLUMNS, SISEC, TABLE_KEYS, model_label, target_label  # noqa: F401 (SISEC)


def complete_tracks(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """(the rows of the tracks that hold every target, the tracks left out): the MoisesDB benchmark's
    convention, where a song lacking a stem is left out of every stem's table."""
    lacking = {(r["track"], r.get("split") or "test") for r in rows if r["metric"] == ABSENT}
    kept = [r for r in rows if (r["track"], r.get("split") or "test") not in lacking]
    return kept, sorted(track for track, _ in lacking)


def summarise(rows: list[dict]):
    """Long-format rows (:data:`rows.COLUMNS`; a missing column is empty) -> (frame, summary): per table
    (protocol, split, target and condition), model, frames and metric the median and mean over the tracks
    that have a finite score (``count``; NaN and +-inf are not), out of the table's tracks (``tracks``): a model
    with a NaN, an infinite or a missing track shows it in the count rather than dropping out of the median
    unnoticed.

    Where a target's tracks come from several splits (a Y-Net's test_seen and test_unseen singers, as the
    paper reports them), the summary has each split's rows and rows pooling them, of split ``all``.

    Rows of the metric :data:`ABSENT` (a track holding none of a target) are no scores: the summary's
    ``absent`` column counts them per table, and ``tracks`` is over the tracks that hold the target.
    """
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    # object first: a column that is all missing is float64, which pandas will not fill with text
    frame["split"] = frame["split"].astype(object).fillna("test")
    frame["protocol"] = frame["protocol"].astype(object).fillna("paper")
    frame["singers"] = frame["singers"].astype("Int64")  # a count, empty for music
    several = frame.groupby(["protocol", "target"])["split"].transform("nunique") > 1
    pooled = frame[several].assign(split=ALL_SPLITS)
    both = pd.concat([frame, pooled], ignore_index=True)
    # +-inf (an SIR with nothing to interfere, a log of zero) is no score: it neither counts nor moves a median
    both["value"] = both["value"].where(np.isfinite(both["value"].astype(np.float64)))
    tables = list(TABLE_KEYS)
    lacking = both["metric"] == ABSENT
    absent = both[lacking].groupby(tables, dropna=False)["track"].nunique().rename("absent")
    both = both[~lacking]
    keys = [*tables, "model", "frames", "metric"]
    grouped = both.groupby(keys, sort=False, dropna=False)["value"]
    summary = grouped.agg(median="median", mean="mean", count="count").reset_index()
    tracks = both.groupby(tables, dropna=False)["track"].nunique().rename("tracks")
    summary = summary.join(tracks, on=tables)
    summary["tracks"] = summary["tracks"].astype(int)
    if len(absent):  # a column only where some track lacks a target: four-stem tables are as they were
        summary = summary.join(absent, on=tables)
        summary["absent"] = summary["absent"].fillna(0).astype(int)
    return frame, summary


def _tables(summary) -> list[tuple[tuple, str]]:
    """summary.md's tables in order, (table keys, caption): by first appearance, each target's pooled splits
    before its splits one by one."""
    import pandas as pd

    rows = summary[list(TABLE_KEYS)].itertuples(index=False, name=None)
    keys = list(dict.fromkeys(tuple(None if pd.isna(v) else v for v in row) for row in rows))  # NaN, NA: None
    pooled = {(protocol, target) for protocol, split, target, *_ in keys if split == ALL_SPLITS}
    group: dict[tuple, int] = {}
    for protocol, _, target, singers, loudness in keys:
        group.setdefault((protocol, target, singers, loudness), len(group))
    order = sorted(keys, key=lambda k: (group[k[0], k[2], k[3], k[4]], k[1] != ALL_SPLITS))
    return [
        (k, target_label(str(k[2]), k[3], k[1] if (k[0], k[2]) in pooled and k[1] != ALL_SPLITS else None, str(k[0])))
        for k in order
    ]


def markdown(summary) -> str:
    """One table per target and condition: the oracles first, then the models; medians over each row's tracks
    (mean SDR too), with how many tracks each row's SDR is over and a flag where a track is NaN or missing."""
    columns = [
        ("sdr", "median", "SDR"),
        ("sdr", "mean", "SDR mean"),
        ("sir", "median", "SIR"),
        ("sar", "median", "SAR"),
        ("sdr_v4", "median", "SDR v4"),
        ("si_sdr", "median", "SI-SDR"),
    ]
    sisec_columns = [
        ("sdr_v4", "median", "SDR"),
        ("sdr_v4", "mean", "SDR mean"),
        ("isr_v4", "median", "ISR"),
        ("sir_v4", "median", "SIR"),
        ("sar_v4", "median", "SAR"),
    ]
    lines = []
    for key, caption in _tables(summary):
        chosen = np.ones(len(summary), bool)
        for name, value in zip(TABLE_KEYS, key):
            column = summary[name]
            chosen &= (column.isna() if value is None else (column == value).fillna(False)).to_numpy(bool)
        part = summary[chosen].assign(shown=lambda f: [model_label(m, fr) for m, fr in zip(f["model"], f["frames"])])
        sisec = key[0] == "sisec"
        shown = sisec_columns if sisec else [c for c in columns if c[0] in set(part["metric"])]
        models = [m for m in ORACLES if m in set(part["shown"])]
        models += sorted(set(part["shown"]) - set(ORACLES))
        n = int(part["tracks"].max())
        what = "v4" if sisec else "v3 unless marked"
        lacking = int(part["absent"].max()) if "absent" in part else 0
        what += f"; absent in {lacking} tracks, which are not scored" if lacking else ""
        lines += [
            f"### {caption} (dB, medians over the tracks in the last column, of {n}; {what})",
            "",
            "| model | " + " | ".join(c[2] for c in shown) + " | tracks |",
            "|---|" + "---:|" * (len(shown) + 1),
        ]
        flagged = []
        for model in models:
            cells = []
            for metric, stat, _ in shown:
                hit = part[(part["shown"] == model) & (part["metric"] == metric)][stat]
                cells.append(f"{hit.iloc[0]:.2f}" if len(hit) and np.isfinite(hit.iloc[0]) else "–")
            sdr = part[(part["shown"] == model) & (part["metric"] == shown[0][0])]
            counted = int(sdr["count"].iloc[0]) if len(sdr) else 0
            name = model if counted == n else f"{model} ⚠"
            if counted < n:
                flagged.append(f"{model}: {n - counted} of {n} tracks NaN or missing")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {counted} |")
        lines += ["", *(f"⚠ {f}; its medians are over the rest." for f in flagged), ""] if flagged else [""]
    return "\n".join(lines)
