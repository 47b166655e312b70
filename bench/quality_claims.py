"""The quality benchmark's claims: the papers' statements as thresholds, checked against per-track scores.

A claim comparing two models measures the median of their per-track differences and holds only when its
distribution-free interval (cunet/evaluation/stats.py) clears the threshold; a "best" model is chosen on the
validation songs where they were scored, so that the test songs only test the claim about it.
"""

from __future__ import annotations

import math
import statistics

TARGETS = ("bass", "drums", "other", "vocals")
CUNETS = tuple(f"{f}-{c}" for f in ("simple", "complex") for c in ("dense", "cnn"))
# A C-U-Net spends its examples on four sources; U-Nets trained on a quarter of the examples (the same
# number per source) separate what it costs to share one model from what it costs to see each source less.
QUARTER = "-quarter"
ONE, TWO = "voice (1 singer)", "voice (2 singers)"
OTHER = " (other singer)"
# The claims of issue 6 and the C-U-Net/Y-Net papers, as thresholds on median v3 SDR (dB)
MATCH_DB = -0.5  # "matches": no target more than 0.5 dB below its dedicated U-Net (a re-run found -0.3 to -0.5)
ORACLE_SHARE = 0.7  # the best vocals model gains this share of IRM1's gain over the mixture
VISUAL_GAIN_DB = 5.0  # two singers: the target's face over audio only
OTHER_LOSS_DB = 3.0  # two singers: the other singer's face costs at least this much
NO_WORSE_DB = -0.5  # one singer: the visual models within this of audio only


def paired(tracks: dict, target: str, a: str, b: str):
    """The per-track difference a - b on ``target`` (cunet/evaluation/stats.py), None without both models."""
    from cunet.evaluation.stats import paired_difference

    if (target, a) not in tracks or (target, b) not in tracks:
        return None
    names = sorted(set(tracks[target, a]) | set(tracks[target, b]))
    return paired_difference(
        [tracks[target, a].get(n, math.nan) for n in names], [tracks[target, b].get(n, math.nan) for n in names]
    )


def choose(candidates: list[str], worth, test_worth, valid: dict | None, needed: list[tuple[str, str]]):
    """(the candidate of highest worth, on what songs it was chosen, {candidate: worth}).

    On the validation songs (``worth``) where ``valid`` has every (target, model) in ``needed``, so that the
    claim is then tested on songs that did not pick it; else on the test songs (``test_worth``), which the
    claim's text then says."""
    if valid and all(k in valid for k in needed):
        counts = sorted({len(valid[k]) for k in needed})
        score, on = {c: worth(c) for c in candidates}, f"validation songs (n = {'/'.join(map(str, counts))})"
    else:
        score, on = {c: test_worth(c) for c in candidates}, "test songs (no validation scores)"
    return max(candidates, key=lambda c: -math.inf if math.isnan(score[c]) else score[c]), on, score


def claims(
    sdr: dict[tuple[str, str], float],
    models: list[str],
    tracks: dict | None = None,
    protocol: str = "paper",
    valid: dict | None = None,
) -> list[dict]:
    """Each claim: what it says, the measured figure, the threshold and whether it holds.

    With ``tracks`` (per-track scores, bench/quality.py's ``track_scores``) a claim comparing two models
    measures the median of their per-track differences, carries its distribution-free 95 % interval (order
    statistics, with its exact coverage; none where the tracks are too few, and then the claim does not
    hold) and the sign test's p-value, and holds only when the whole interval clears the threshold; without,
    it compares medians. ``valid`` (per-track paper-protocol SDR on the validation songs) picks the best
    C-U-Net variant and the best vocals model before the test songs are looked at. ``protocol`` "sisec"
    (full-band v4, music only) leaves out the Y-Net claims."""
    out = []

    def add(claim, measured, threshold, holds, detail="", d=None, **more):
        out.append(
            {
                "claim": claim,
                "protocol": protocol,
                "measured": measured,
                "threshold": threshold,
                "holds": holds,
                "detail": detail,
                "interval": [d.low, d.high] if d is not None and d.has_interval else None,
                "coverage": None if d is None else d.coverage,
                "level": None if d is None else d.level,
                "p_value": None if d is None else d.p_value,
                "p_min": None if d is None else d.p_min,
                "tracks": None if d is None else d.n,
                "interval_text": "–" if d is None else d.interval_text(),
                "p_text": "–" if d is None else d.p_text(),
                **more,
            }
        )

    def compare(target, a, b):
        """(measured difference, holds-at-threshold function, the paired difference or None)."""
        d = paired(tracks, target, a, b) if tracks else None
        if d is None:
            value = sdr[target, a] - sdr[target, b]
            return value, (lambda threshold: value >= threshold), None
        return d.median, (lambda threshold: bool(d.has_interval and d.low >= threshold)), d

    def valid_median(target, a, b):
        d = paired(valid, target, a, b)
        return d.median if d is not None else math.nan

    def worst(values):  # NaN where a target has no score: such a variant is never the best
        values = list(values)
        return math.nan if any(math.isnan(v) for v in values) else min(values)

    cunets = [m for m in models if m.startswith("cunet-") and m.removeprefix("cunet-") in CUNETS]
    for suffix, examples in (("", "the same examples per model"), (QUARTER, "the same examples per source")):
        if not (cunets and all(f"unet-{t}{suffix}" in models for t in TARGETS)):
            continue
        found = {c: {t: compare(t, c, f"unet-{t}{suffix}") for t in TARGETS} for c in cunets}
        diffs = {c: {t: v[0] for t, v in found[c].items()} for c in cunets}
        needed = [(t, m) for t in TARGETS for m in (*cunets, f"unet-{t}{suffix}")]
        best, chosen_on, worth = choose(
            cunets,
            lambda c, suffix=suffix: worst(valid_median(t, c, f"unet-{t}{suffix}") for t in TARGETS),
            lambda c, diffs=diffs: worst(diffs[c].values()),
            valid,
            needed,
        )
        failing = [t for t in TARGETS if not found[best][t][1](MATCH_DB)]
        if failing:  # the target that fails: the lowest lower bound (the median where there is no interval)

            def low(t, found=found[best], diffs=diffs[best]):
                d = found[t][2]
                return d.low if d is not None and d.has_interval else diffs[t]

            shown, role = min(failing, key=low), "fails on"
        else:
            shown, role = min(diffs[best], key=diffs[best].get), "its worst target"
        detail = "; ".join(f"{c}: " + ", ".join(f"{t} {d:+.2f}" for t, d in diffs[c].items()) for c in cunets)
        detail += f" (test songs). Chosen on the {chosen_on}, the worst target's median difference: " + ", ".join(
            f"{c} {w:+.2f}" for c, w in worth.items()
        )
        add(
            f"one C-U-Net matches the four dedicated U-Nets on every target, {examples} "
            f"(best: {best}, chosen on the {chosen_on}; {role}: {shown})",
            diffs[best][shown],
            MATCH_DB,
            not failing,
            detail,
            found[best][shown][2],
            model=best,
            target=shown,
            chosen_on=chosen_on,
        )
    vocals = [m for m in models if m in ("unet-vocals", "unet-vocals" + QUARTER) or m in cunets]
    if vocals:

        def valid_vocals(m):
            values = [v for v in valid["vocals", m].values() if math.isfinite(v)]
            return statistics.median(values) if values else math.nan

        best, chosen_on, _ = choose(
            vocals, valid_vocals, lambda m: sdr["vocals", m], valid, [("vocals", m) for m in vocals]
        )
        gain = sdr["vocals", best] - sdr["vocals", "mixture"]
        oracle = sdr["vocals", "IRM1"] - sdr["vocals", "mixture"]
        add(
            f"the best vocals model ({best}, chosen on the {chosen_on}) gains {ORACLE_SHARE:.0%} of IRM1's gain "
            "over the mixture",
            gain / oracle,
            ORACLE_SHARE,
            gain / oracle >= ORACLE_SHARE,
            f"{best} {gain:+.2f} dB over the mixture, IRM1 {oracle:+.2f} dB",
            model=best,
            chosen_on=chosen_on,
        )
    for visual in ("video", "landmarks"):
        name = f"ynet-{visual}"
        if name not in models or protocol != "paper":
            continue
        if "ynet-none" in models:
            d, holds, interval = compare(TWO, name, "ynet-none")
            add(f"2 singers: {name} beats audio-only ynet-none", d, VISUAL_GAIN_DB, holds(VISUAL_GAIN_DB), "", interval)
            d, holds, interval = compare(ONE, name, "ynet-none")
            add(
                f"1 singer: {name} no worse than audio-only ynet-none", d, NO_WORSE_DB, holds(NO_WORSE_DB), "", interval
            )
        d, holds, interval = compare(TWO, name, name + OTHER)
        add(
            f"2 singers: {name} loses with the other singer's {visual}",
            d,
            OTHER_LOSS_DB,
            holds(OTHER_LOSS_DB),
            "",
            interval,
        )
    return out


def interval_cell(c: dict) -> str:
    """A claim's interval with its coverage, why there is none, or "–" for a claim on medians (the text
    stats.PairedDifference gave it)."""
    return c.get("interval_text", "–")


def p_cell(c: dict) -> str:
    """The sign test's p as stats.PairedDifference words it, or "–"."""
    return c.get("p_text", "–")
