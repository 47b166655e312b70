"""Commands read and refuse their flags before loading Keras or TensorFlow (seconds of imports): a bad flag or
--help answers at once. Checked by what the process imported, not by a clock."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["cunet.train", "--model", "nope"],
        ["cunet.separation", "--help"],
        ["cunet.evaluation.results", "--protocol", "nope"],
        ["cunet.evaluation.export", "--nope"],
        ["cunet.preprocess", "--dataset", "nope"],
    ],
)
def test_a_bad_flag_or_help_answers_without_importing_keras(argv):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode in (0, 2), done.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    heavy = sorted(
        m
        for m in imported
        if m.split(".")[0] in ("keras", "tensorflow", "torch", "jax") or m.startswith("scipy.signal")
    )  # the synthetic generator's, half a second
    assert not heavy, f"{' '.join(argv)} imported {heavy[:5]}"
    assert "usage:" in done.stdout + done.stderr
