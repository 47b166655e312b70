"""The results plots: SDR boxplots per target and model (SiSEC style), spectrogram panels per model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import audio
from .oracle import ORACLES
from .rows import model_label, target_label


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed, or touched
    import matplotlib.pyplot as plt

    return plt


# each protocol's SDR: BSS Eval v3 at the model's rate (the papers'), v4 at full band (SiSEC's)
PROTOCOL_SDR = {"paper": ("sdr", "", "SDR (dB)"), "sisec": ("sdr_v4", " — SiSEC", "SDR v4, full band (dB)")}


def sdr_boxplot(frame, path: Path) -> None:
    """One panel per target and protocol (the paper's v3 SDR, SiSEC's v4 SDR), one box per model (oracles
    shaded), tracks as points over the boxes; one empty panel saying so where no SDR was scored.

    Args:
        frame: long-format scores (rows.COLUMNS).
        path: the PNG to write.
    """
    plt = _pyplot()
    parts = []
    for protocol, (metric, suffix, label) in PROTOCOL_SDR.items():
        data = frame[(frame["protocol"] == protocol) & (frame["metric"] == metric)]
        data = data.assign(model=[model_label(m, f) for m, f in zip(data["model"], data["frames"])])
        singers = data["singers"].fillna(0).astype(int)  # 0: music, no singers column
        for target, count in dict.fromkeys(zip(data["target"], singers)):
            title = target_label(target, count or None) + suffix
            parts.append((title, label, data[(data["target"] == target) & (singers == count)]))
    fig, axes = plt.subplots(max(1, len(parts)), 1, figsize=(9, 2.2 + 0.9 * len(parts)), squeeze=False)
    if not parts:
        axes[0, 0].text(0.5, 0.5, "no SDR scores", ha="center", va="center")
        axes[0, 0].set_axis_off()
    for ax, (title, label, part) in zip(axes[:, 0], parts):
        models = [m for m in ORACLES if m in set(part["model"])] + sorted(set(part["model"]) - set(ORACLES))
        values = [part[part["model"] == m]["value"].to_numpy(float) for m in models]
        values = [v[np.isfinite(v)] for v in values]  # a NaN or infinite track is flagged in the tables
        box = ax.boxplot(values, orientation="horizontal", widths=0.6, patch_artist=True, showfliers=False)
        box_patches = box["boxes"]
        for patch, model in zip(box_patches, models):
            patch.set_facecolor("0.85" if model in ORACLES else "tab:blue")
            patch.set_alpha(0.8)
        for row, v in enumerate(values, start=1):
            ax.plot(v, np.full(len(v), row), "k.", markersize=3)
        ax.set_yticks(range(1, len(models) + 1), models)
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_xlabel(label, fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def spectrogram_panel(panels: list, path: Path) -> None:
    """Rows of (mixture, estimate, reference) log-magnitude spectrograms on one colour scale per row;
    ``panels`` holds (mixture, estimate, reference, rate, title) tuples."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 3, figsize=(12, 2.6 * len(panels)), squeeze=False)
    for row, (mixture, estimate, reference, rate, title) in zip(axes, panels):
        stft = audio.CUNET_STFT if rate == audio.CUNET_STFT.sample_rate else audio.YNET_STFT
        specs = [
            20 * np.log10(np.abs(audio.stft(np.asarray(x, np.float32), stft)) + 1e-6)
            for x in (mixture, estimate, reference)
        ]
        top = max(float(s.max()) for s in specs)
        seconds = len(mixture) / rate
        for ax, spec, name in zip(row, specs, ("mixture", "estimate", "reference")):
            image = ax.imshow(
                spec,
                origin="lower",
                aspect="auto",
                vmin=top - 80,
                vmax=top,
                cmap="magma",
                extent=(0, seconds, 0, rate / 2000),
            )
            ax.set_title(f"{name}" if name != "estimate" else title, fontsize=9)
            ax.set_xlabel("s")
        row[0].set_ylabel("kHz")
        fig.colorbar(image, ax=list(row), label="dB", fraction=0.02)
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)


def spectrogram_rows(signals: dict, rate: int, path: Path) -> None:
    """One log-magnitude spectrogram per named signal, stacked, on one colour scale (the listening report's)."""
    plt = _pyplot()
    stft = audio.CUNET_STFT if rate == audio.CUNET_STFT.sample_rate else audio.YNET_STFT
    specs = {k: 20 * np.log10(np.abs(audio.stft(np.asarray(x, np.float32), stft)) + 1e-6) for k, x in signals.items()}
    top = max(float(s.max()) for s in specs.values())
    fig, axes = plt.subplots(1, len(specs), figsize=(2.4 * len(specs), 2.4), squeeze=False, sharey=True)
    seconds = len(next(iter(signals.values()))) / rate
    for ax, (name, spec) in zip(axes[0], specs.items()):
        ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            vmin=top - 80,
            vmax=top,
            cmap="magma",
            extent=(0, seconds, 0, rate / 2000),
        )
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("s", fontsize=8)
    axes[0, 0].set_ylabel("kHz")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=72)
    plt.close(fig)
