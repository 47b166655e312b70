"""An input's stems appear together: a separation killed, or failing, while it puts them in place leaves no
mix of new stems and old ones once the next separation into that folder has run; and what ``--extend zero
--wiener N`` computes adds up to the input (the band above the model's is the residual stem's)."""

import errno
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from commands import hidden_leftovers
from test_separate import GAINS, _band_energy, gain_run  # noqa: F401  (module fixture)

from cunet import audio
from cunet.separation.__main__ import main

TARGETS = ("bass", "drums", "other", "vocals")
EXACT = ["--precision", "float32"]  # the stand-in's gains exactly

# The separation command, killed (SIGKILL: no clean-up runs) right after its first stem is renamed into
# the output folder, between two stem renames.
KILLED_AFTER_FIRST_STEM = """
import os, signal, sys
from pathlib import Path

out, real = Path(os.environ["STEMS_IN"]), os.replace

def replace(src, dst, **kw):
    real(src, dst, **kw)
    inside = Path(os.fsdecode(dst)).relative_to(out) if out in Path(os.fsdecode(dst)).parents else None
    if inside is not None and not any(part.startswith(".") for part in inside.parts):  # a stem, no temporary
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
from cunet.separation.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def _noise(seed: int, seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((2, int(seconds * 44100)))).astype(np.float32)


def _stems(folder: Path) -> dict[str, np.ndarray]:
    return {t: audio.read(folder / f"{t}.wav")[0] for t in TARGETS}


def _separate(gain_run, song: Path, out: Path) -> int:
    return main([str(gain_run), str(song), "-o", str(out), "--quiet", *EXACT])


def _which(stems: dict[str, np.ndarray], versions: dict[str, np.ndarray]) -> dict[str, str]:
    """For each stem, the input version (by name) it is the separation of."""
    return {
        t: next(v for v, x in versions.items() if np.allclose(y, GAINS[t] * x, atol=1e-4)) for t, y in stems.items()
    }


def test_a_separation_killed_between_two_stem_renames_is_completed_by_the_next(gain_run, tmp_path):
    from cunet.separation.publish import JOURNAL, PUBLISHING

    song, other, out = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "out"
    versions = {"old": _noise(0), "new": _noise(1)}
    audio.write(song, versions["old"], 44100, "FLOAT")
    audio.write(other, _noise(2), 44100, "FLOAT")
    assert _separate(gain_run, song, out) == 0
    audio.write(song, versions["new"], 44100, "FLOAT")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_FIRST_STEM, str(gain_run), str(song), "-o", str(out), "--quiet", *EXACT],
        capture_output=True,
        text=True,
        env={**os.environ, "STEMS_IN": str(out), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _which(_stems(out / "a"), versions) == {"bass": "new", "drums": "old", "other": "old", "vocals": "old"}

    # a publication whose journal is locked is still at work: another separation leaves it to its process
    journal = next(p for p in out.iterdir() if p.name.startswith(PUBLISHING)) / JOURNAL
    held = os.open(journal, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert _separate(gain_run, other, out) == 0
        assert _which(_stems(out / "a"), versions)["drums"] == "old" and journal.exists()
    finally:
        os.close(held)

    assert _separate(gain_run, other, out) == 0  # nobody holds it now: its writer was killed, so complete it
    assert set(_which(_stems(out / "a"), versions).values()) == {"new"}
    assert sorted(p.name for p in (out / "a").iterdir()) == [f"{t}.wav" for t in TARGETS]
    assert sorted(p.name for p in out.iterdir()) == ["a", "b"] and not hidden_leftovers(out)


def test_a_rename_that_fails_part_way_leaves_every_stem_as_it_was(gain_run, tmp_path, capsys, monkeypatch):
    song, out = tmp_path / "a.wav", tmp_path / "out"
    versions = {"old": _noise(0), "new": _noise(1)}
    audio.write(song, versions["new"], 44100, "FLOAT")
    real = os.replace

    def refusing(src, dst, **kw):  # the second stem's rename fails, after the first one's was done
        if Path(dst).name == "drums.wav":
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(dst))
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", refusing)
    assert _separate(gain_run, song, out) == 2  # into a new folder: nothing at all is left
    assert f"error: {out / 'a' / 'drums.wav'}: could not be written (Permission denied)" in capsys.readouterr().err
    assert not out.exists()

    monkeypatch.setattr(os, "replace", real)
    audio.write(song, versions["old"], 44100, "FLOAT")
    assert _separate(gain_run, song, out) == 0
    audio.write(song, versions["new"], 44100, "FLOAT")
    monkeypatch.setattr(os, "replace", refusing)
    assert _separate(gain_run, song, out) == 2  # over older stems: the first, already renamed, is put back
    assert set(_which(_stems(out / "a"), versions).values()) == {"old"}
    assert sorted(p.name for p in out.iterdir()) == ["a"] and not hidden_leftovers(out)


def test_zero_extension_under_wiener_writes_the_residual_and_the_stems_add_up(gain_run, tmp_path, capsys):
    """Every mask is zero above the model's band (4096 Hz), so every Wiener estimate is silent there: white
    noise's stems kept 18 % of its energy at 44.1 kHz. The band goes to a residual stem, written unasked."""
    x = _noise(3, 2.0)
    audio.write(tmp_path / "noise.wav", x, 44100, "FLOAT")
    out = tmp_path / "out"
    assert (
        main(
            [
                str(gain_run),
                str(tmp_path / "noise.wav"),
                "-o",
                str(out),
                "--quiet",
                "--extend",
                "zero",
                "--wiener",
                "1",
                *EXACT,
            ]
        )
        == 0
    )
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "residual" in notes[0] and "4096 Hz" in notes[0], notes
    names = sorted(p.name for p in (out / "noise").iterdir())
    assert names == sorted(f"{t}.wav" for t in (*TARGETS, "residual"))
    stems = {p.stem: audio.read(p)[0] for p in (out / "noise").iterdir()}
    np.testing.assert_allclose(sum(stems.values()), x, atol=1e-4)
    high = _band_energy(x, 44100, 4300)
    assert _band_energy(stems["residual"], 44100, 4300) > 0.99 * high
    assert _band_energy(stems["residual"], 44100, 50, 3900) < 1e-4 * _band_energy(x, 44100, 50, 3900)
    assert all(_band_energy(stems[t], 44100, 4300) < 1e-4 * high for t in TARGETS)
