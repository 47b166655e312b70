"""Summary tables: medians per target and model with their track counts, the oracle rows first."""

from __future__ import annotations

import numpy as np

from .oracle import ORACLES

SISEC = " — SiSEC protocol (BSS Eval v4, full band, original rate and channels)"
# The metric of the rows saying a test track holds none of a target (a song without a guitar): not a score.
# Counted per target ("absent in k tracks"), left out of its medians and of its track count.
ABSENT = "absent"


def complete_tracks(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """(the rows of the tracks that hold every target, the tracks left out): the MoisesDB benchmark's
    convention, where a song lacking a stem is left out of every stem's table."""
    lacking = {(r["track"], r.get("split") or "test") for r in rows if r["metric"] == ABSENT}
    kept = [r for r in rows if (r["track"], r.get("split") or "test") not in lacking]
    return kept, sorted(track for track, _ in lacking)


def summarise(rows: list[dict]):
    """Long-format rows -> (frame, summary): per target, model and metric the median and mean over the
    tracks that have a finite score (``count``; NaN and +-inf are not), out of the target's tracks
    (``tracks``): a model with a NaN, an infinite or a missing track shows it in the count rather than
    dropping out of the median unnoticed.

    Where a target's tracks come from several splits (a Y-Net's test_seen and test_unseen singers, as the
    paper reports them), each split gets its own rows too, under the target "<target>, <split>".

    Rows of the metric :data:`ABSENT` (a track holding none of a target) are no scores: the summary's
    ``absent`` column counts them per target, and ``tracks`` is over the tracks that hold the target.
    """
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["track", "split", "target", "protocol", "model", "metric", "value"])
    # object first: a column that is all missing is float64, which pandas will not fill with text
    frame["split"] = frame["split"].astype(object).fillna("test")
    frame["protocol"] = frame["protocol"].astype(object).fillna("paper")
    several = frame.groupby("target")["split"].transform("nunique") > 1
    apart = frame[several].assign(target=lambda f: f["target"] + ", " + f["split"])
    both = pd.concat([frame, apart], ignore_index=True)
    sisec = both["protocol"] == "sisec"  # its own tables: other references, another rate, other metrics
    both.loc[sisec, "target"] = both.loc[sisec, "target"] + SISEC
    # +-inf (an SIR with nothing to interfere, a log of zero) is no score: it neither counts nor moves a median
    both["value"] = both["value"].where(np.isfinite(both["value"].astype(np.float64)))
    lacking = both["metric"] == ABSENT
    absent = both[lacking].groupby("target")["track"].nunique()
    both = both[~lacking]
    grouped = both.groupby(["target", "model", "metric"], sort=False)["value"]
    summary = grouped.agg(median="median", mean="mean", count="count").reset_index()
    tracks = both.groupby("target")["track"].nunique()
    summary["tracks"] = summary["target"].map(tracks).astype(int)
    if len(absent):  # a column only where some track lacks a target: four-stem tables are as they were
        summary["absent"] = summary["target"].map(absent).fillna(0).astype(int)
    return frame, summary


def markdown(summary) -> str:
    """One table per target: the oracles first, then the models; medians over each row's tracks (mean SDR
    too), with how many tracks each row's SDR is over and a flag where a track is NaN or missing."""
    columns = [
        ("sdr", "median", "SDR"),
        ("sdr", "mean", "SDR mean"),
        ("sir", "median", "SIR"),
        ("sar", "median", "SAR"),
        ("sdr_v4", "median", "SDR v4"),
        ("si_sdr", "median", "SI-SDR"),
    ]
    lines = []
    for target in dict.fromkeys(summary["target"]):
        part = summary[summary["target"] == target]
        shown = [c for c in columns if c[0] in set(part["metric"])]
        if target.endswith(SISEC):
            shown = [
                ("sdr_v4", "median", "SDR"),
                ("sdr_v4", "mean", "SDR mean"),
                ("isr_v4", "median", "ISR"),
                ("sir_v4", "median", "SIR"),
                ("sar_v4", "median", "SAR"),
            ]
        models = [m for m in ORACLES if m in set(part["model"])]
        models += sorted(set(part["model"]) - set(ORACLES))
        n = int(part["tracks"].max())
        what = "v4" if target.endswith(SISEC) else "v3 unless marked"
        lacking = int(part["absent"].max()) if "absent" in part else 0
        what += f"; absent in {lacking} tracks, which are not scored" if lacking else ""
        lines += [
            f"### {target} (dB, medians over the tracks in the last column, of {n}; {what})",
            "",
            "| model | " + " | ".join(c[2] for c in shown) + " | tracks |",
            "|---|" + "---:|" * (len(shown) + 1),
        ]
        flagged = []
        for model in models:
            cells = []
            for metric, stat, _ in shown:
                hit = part[(part["model"] == model) & (part["metric"] == metric)][stat]
                cells.append(f"{hit.iloc[0]:.2f}" if len(hit) and np.isfinite(hit.iloc[0]) else "–")
            sdr = part[(part["model"] == model) & (part["metric"] == shown[0][0])]
            counted = int(sdr["count"].iloc[0]) if len(sdr) else 0
            name = model if counted == n else f"{model} ⚠"
            if counted < n:
                flagged.append(f"{model}: {n - counted} of {n} tracks NaN or missing")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {counted} |")
        lines += ["", *(f"⚠ {f}; its medians are over the rest." for f in flagged), ""] if flagged else [""]
    return "\n".join(lines)
