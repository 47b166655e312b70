"""The listening report: ``report.html`` with the tables, the plots, and per track and model the audio.

Researchers listen before they trust a number. For the first tracks of every target the page has an audio
player for the mixture, the reference, the IRM1 oracle and each model's estimate (the 6 seconds where the
reference is loudest, as 16 kHz mp3 files in ``listen/`` beside the page, so the page itself stays small)
and their spectrograms on one colour scale. The page needs no script and no network.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np

from .. import audio

EXCERPT_SECONDS = 6.0
EXCERPT_RATE = 16000  # every browser decodes mp3 at this rate (MPEG-2 layer III)


def slug(text: str) -> str:
    """``text`` as a file name: runs of anything but letters, digits, dots and dashes made one underscore."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_") or "x"


def excerpt_window(reference: np.ndarray, rate: int, seconds: float = EXCERPT_SECONDS) -> slice:
    """The ``seconds`` of ``reference`` with the most energy (the whole signal when it is shorter)."""
    n = int(seconds * rate)
    if len(reference) <= n:
        return slice(0, len(reference))
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(reference, np.float64) ** 2)])
    hop = max(1, rate // 4)
    starts = np.arange(0, len(reference) - n + 1, hop)
    best = int(starts[np.argmax(energy[starts + n] - energy[starts])])
    return slice(best, best + n)


def _markdown_to_html(text: str) -> str:
    """The tables of :func:`cunet.evaluation.tables.markdown` as HTML (headings, tables, notes)."""
    out: list[str] = []
    rows: list[list[str]] = []

    def flush():
        if rows:
            head, body = rows[0], rows[2:]
            out.append(
                "<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr></thead>"
                "<tbody>"
                + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
                + "</tbody></table>"
            )
            rows.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        flush()
        if line.startswith("### "):
            out.append(f"<h3>{html.escape(line[4:])}</h3>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush()
    return "\n".join(out)


def write_report(folder: Path, tables: str, listening: dict, plots: list[str]) -> Path:
    """Write ``report.html`` and ``listen/`` into ``folder``.

    Args:
        folder: the results folder being written (the plots named in ``plots`` are already in it).
        tables: the markdown tables (:func:`cunet.evaluation.tables.markdown`).
        listening: {(target, track): (rate, first second, {row name: excerpt})}, the rows being "mixture",
            "reference", "IRM1" and the models, each the same mono excerpt (:func:`excerpt_window`) at ``rate``.
        plots: file names of images in ``folder`` to show under the tables.
    Returns:
        The path of the page.
    """
    from .plots import spectrogram_rows

    listen = folder / "listen"
    listen.mkdir(exist_ok=True)
    sections = []
    for (target, track), (rate, first, signals) in listening.items():
        name = slug(f"{target}-{track}")
        players = []
        for row, signal in signals.items():
            clip = audio.resample(np.asarray(signal, np.float32)[None], rate, EXCERPT_RATE)[0]
            peak = float(np.abs(clip).max(initial=0.0))
            file = f"listen/{name}-{slug(row)}.mp3"
            audio.write(folder / file, clip / max(peak, 1.0), EXCERPT_RATE)  # never clipped
            players.append(
                f"<figure><figcaption>{html.escape(row)}</figcaption>"
                f'<audio controls preload="metadata" src="{file}"></audio></figure>'
            )
        picture = f"listen/{name}.png"
        spectrogram_rows(signals, rate, folder / picture)
        seconds = f"{first:.1f}–{first + len(signals['reference']) / rate:.1f} s"
        sections.append(
            f"<section><h3>{html.escape(target)}: {html.escape(track)} ({seconds})</h3>"
            f"<div class=players>{''.join(players)}</div>"
            f'<img src="{picture}" alt="spectrograms of {html.escape(target)}, {html.escape(track)}">'
            "</section>"
        )
    images = "".join(f'<img src="{html.escape(p)}" alt="{html.escape(p)}">' for p in plots)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cunet results</title><link rel="icon" href="data:,">
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; display: block; margin: 0.5em 0; }}
.players {{ display: flex; flex-wrap: wrap; gap: 0.5em 1.5em; }}
figure {{ margin: 0; }} figcaption {{ font-size: 0.85em; }}
</style></head><body>
<h1>cunet results</h1>
<h2>Tables</h2>
{_markdown_to_html(tables)}
{images}
<h2>Listen</h2>
<p>Up to {EXCERPT_SECONDS:g} seconds of each track or clip, where its reference is loudest; mono, at the models' rate
(resampled to {EXCERPT_RATE} Hz for the players), each clip normalised only if it would clip.</p>
{"".join(sections)}
</body></html>
"""
    (folder / "report.html").write_text(page)
    return folder / "report.html"
