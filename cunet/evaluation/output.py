"""Writing a results folder, all or nothing: the CSVs, the tables, the plots and the config."""

from __future__ import annotations

from pathlib import Path

from .. import config as config_io
from ..fileio import atomic_dir
from ..outputs import check_output_folder, writing
from .report import slug
from .tables import complete_tracks, markdown, summarise


def write(cfg, scores) -> str:
    """Write the results folder whole (or nothing) and return summary.md's text.

    Args:
        cfg: the :class:`ResultsConfig` (its ``out``, ``split``; saved as results_config.json).
        scores: what :func:`cunet.evaluation.scoring.evaluate` found (rows, panels, listening, skipped).

    Returns:
        The text of summary.md.
    """
    from .plots import sdr_boxplot, spectrogram_panel
    from .report import write_report

    out = Path(cfg.out)
    check_out(out)  # again: the folder may have changed while the models were scored
    heading = (
        []
        if cfg.split == "test"
        else [f"Scored on the {cfg.split} split (tracks held out of training), not the test split.", ""]
    )
    rows, panels, skipped = [r.as_dict() for r in scores.rows], scores.panels, scores.skipped
    if cfg.complete_tracks:
        rows, left_out = complete_tracks(rows)
        heading += [
            f"Only the tracks holding every source are scored (--complete-tracks, as MoisesDB's benchmark): "
            f"{len(left_out)} left out{': ' + ', '.join(left_out) if left_out else ''}.",
            "",
        ]
    frame, summary = summarise(rows)
    heading += [f"⚠ Not scored: {line}" for line in skipped] + ([""] if skipped else [])
    table = "\n".join([*heading, markdown(summary)])
    with writing(out), atomic_dir(out, clean_stale=True) as tmp:
        frame.to_csv(tmp / "per_track.csv", index=False)
        summary.to_csv(tmp / "summary.csv", index=False)
        (tmp / "summary.md").write_text(table)
        sdr_boxplot(frame, tmp / "sdr_boxplot.png")
        files = set()
        for model in dict.fromkeys(m for _, m in panels):
            name = slug(model)
            while name in files:  # two names may make one slug ("a/b", "a_b")
                name += "_"
            files.add(name)
            spectrogram_panel([panels[k] for k in panels if k[1] == model], tmp / f"spectrogram_{name}.png")
        # the page shows the boxplot; its listening sections have their own, lighter spectrograms
        write_report(tmp, table, scores.listening, ["sdr_boxplot.png"])
        config_io.save(cfg, tmp / "results_config.json")
    return table


def check_out(out: str | Path) -> None:
    """Refuse an ``--out`` that cannot become a results folder: a file, another kind of folder, a place
    that may not be written into. Checked before scoring, which takes minutes, and again before writing."""
    # written whole beside itself, then renamed
    check_output_folder(out, "--out", beside=True, marker="results_config.json", kind="a results folder")
