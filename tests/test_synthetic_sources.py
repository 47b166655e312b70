"""The embedded six-source set (``python -m cunet.datasets.synthetic --sources 6``): its MoisesDB layout, its
lineups, its guitar and piano as instruments of their own, and the four-source trees left as they were."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cunet.datasets import band, instruments, sixsource, synthetic
from cunet.fileio import dump_json

RATE = 44100
# sha256 over the musdb/ and accompaniment/ files (relative path, NUL, bytes; sorted by path) of
# generate(seed=0, size="tiny") as written by the code before the six-source set existed. If a change to the
# four-source songs is ever wanted, it needs a new FORMAT_VERSION, and then a new digest here.
FOUR_SOURCE_TINY_DIGEST = "f33edb9a6dfe8ba9cfdcc6ba8a8184fca539267e919330e751095cc9537cc74f"
TRACK_KEYS = {"trackType", "id", "extension", "has_bleed"}


@pytest.fixture(scope="module")
def six_root(tmp_path_factory) -> Path:
    return synthetic.generate(
        tmp_path_factory.mktemp("six") / "data", seed=0, size="tiny", jobs=2, progress=False, sources=6
    )


def _songs(root: Path) -> list[tuple[Path, dict]]:
    folders = sorted((root / "moisesdb" / sixsource.PROVIDER).iterdir())
    return [(folder, json.loads((folder / "data.json").read_text())) for folder in folders]


def _named_files(folder: Path, data: dict) -> dict[Path, tuple[str, str]]:
    return {
        folder / stem["stemName"] / f"{t['id']}.{t['extension']}": (stem["stemName"], t["trackType"])
        for stem in data["stems"]
        for t in stem["tracks"]
    }


def test_moisesdb_layout_and_data_json_schema(six_root):
    assert sorted(p.name for p in six_root.iterdir()) == [
        "acappella",
        "accompaniment",
        "moisesdb",
        "musdb",
        "synthetic.json",
    ]
    assert [p.name for p in (six_root / "moisesdb").iterdir()] == [sixsource.PROVIDER]
    songs = _songs(six_root)
    assert len(songs) == synthetic.SIX_SOURCE_SIZES["tiny"].songs == 4
    ids = []
    for folder, data in songs:
        assert all(isinstance(data[key], str) and data[key] for key in ("artist", "song", "genre"))
        assert data["id"] == folder.name
        names = [stem["stemName"] for stem in data["stems"]]
        assert set(names) <= set(sixsource.STEMS) and {"vocals", "drums", "bass", "other"} <= set(names)
        assert len(names) == len(set(names))
        for stem in data["stems"]:
            assert set(stem) == {"stemName", "tracks"} and stem["tracks"]
            for track in stem["tracks"]:
                assert set(track) == TRACK_KEYS and track["extension"] == "wav" and track["has_bleed"] is False
                assert isinstance(track["trackType"], str) and track["trackType"]
        files = _named_files(folder, data)
        on_disk = {p for p in folder.rglob("*") if p.is_file() and p.name != "data.json"}
        assert set(files) == on_disk  # every file named is there, and nothing else is (no mixture)
        lengths = set()
        for path in files:
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.subtype) == (RATE, 2, "PCM_16")
            x = sf.read(path, dtype="int16")[0]
            assert np.abs(x).max() > 1000, path  # no silent part
            lengths.add(info.frames)
        assert lengths == {int(8.0 * RATE)}
        ids += [folder.name] + [p.stem for p in files]
    assert len(ids) == len(set(ids))


def test_lineups_vary_and_stems_may_hold_several_files(six_root):
    songs = _songs(six_root)
    present = [{stem["stemName"] for stem in data["stems"]} for _, data in songs]
    assert sum("guitar" not in p for p in present) >= 1 and sum("piano" not in p for p in present) >= 1
    assert any({"guitar", "piano"} <= p for p in present)
    counts = [len(stem["tracks"]) for _, data in songs for stem in data["stems"]]
    assert max(counts) >= 2
    types = {t for folder, data in songs for _, t in _named_files(folder, data).values()}
    assert {"grand_piano", "bass_guitar"} <= types and types & {"acoustic_guitar", "clean_electric_guitar"}
    # one song in each block of four lacks the guitar, another the piano, whatever the seed
    for seed in range(5):
        lineups = [sixsource.lineup(seed, i) for i in range(8)]
        for block in (lineups[:4], lineups[4:]):
            assert [g for g, _ in block].count(False) == 1 and [p for _, p in block].count(False) == 1


def test_a_song_is_the_same_bytes_for_its_seed_and_another_for_another_seed(six_root, tmp_path):
    folder, data = _songs(six_root)[1]
    index = int(data["song"].split()[-1])
    again = sixsource.write_song(tmp_path / "again", 0, index, 8.0)
    assert again.name == folder.name
    ours = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    theirs = {p.relative_to(again): p.read_bytes() for p in sorted(again.rglob("*")) if p.is_file()}
    assert ours == theirs
    short = [sixsource.write_song(tmp_path / f"seed{seed}", seed, index, 2.0) for seed in (0, 1)]
    assert short[0].name == folder.name != short[1].name  # ids come from (seed, index) alone
    for stem in ("vocals", "bass"):
        a, b = (sf.read(next((f / stem).iterdir()), dtype="int16")[0] for f in short)
        assert not np.array_equal(a, b)


def test_four_source_trees_are_unchanged(six_root):
    digest = hashlib.sha256()
    files = sorted(p for tree in ("musdb", "accompaniment") for p in (six_root / tree).rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(six_root)).encode() + b"\0" + path.read_bytes())
    assert digest.hexdigest() == FOUR_SOURCE_TINY_DIGEST
    old_marker = {
        "format_version": 1,
        "seed": 0,
        "size": "tiny",
        "spec": {
            "acc_clips": 1,
            "clip_seconds": 6.0,
            "eval_seconds": 5.0,
            "music_seconds": 8.0,
            "music_test": 1,
            "music_train": 3,
            "singers": 8,
            "train_clips": 1,
        },
    }
    assert dump_json(synthetic.marker(0, "tiny")) == dump_json(old_marker)
    six_marker = json.loads((six_root / "synthetic.json").read_text())
    assert six_marker == {
        **old_marker,
        "sources": 6,
        "six_source_spec": {"songs": 4, "seconds": 8.0},
        "six_source_version": sixsource.VERSION,
    }


def test_command_flag_and_ensure(six_root, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(synthetic, "generate", lambda out, *a, **k: calls.append((a, k)) or Path(out))
    assert synthetic.main(["--out", str(tmp_path / "a"), "--size", "tiny", "--jobs", "1"]) == 0
    assert synthetic.main(["--out", str(tmp_path / "b"), "--size", "tiny", "--jobs", "1", "--sources", "6"]) == 0
    assert [k["sources"] for _, k in calls] == [4, 6]
    with pytest.raises(SystemExit) as exit_:
        synthetic.main(["--sources", "5"])
    assert exit_.value.code == 2
    calls.clear()
    assert synthetic.ensure(six_root, 0, "tiny", sources=4) == six_root  # a six-source tree serves four
    assert synthetic.ensure(six_root, 0, "tiny", sources=6) == six_root
    assert calls == []
    four = tmp_path / "four"
    four.mkdir()
    (four / "synthetic.json").write_text(dump_json(synthetic.marker(0, "tiny")))
    synthetic.ensure(four, 0, "tiny", sources=6)
    assert [k["sources"] for _, k in calls] == [6]
    older = tmp_path / "older"  # written by an earlier six-source generator: its songs are not today's
    older.mkdir()
    (older / "synthetic.json").write_text(dump_json({**synthetic.marker(0, "tiny", 6), "six_source_version": 1}))
    calls.clear()
    synthetic.ensure(older, 0, "tiny", sources=4)  # its four-source trees are still good
    assert calls == []
    synthetic.ensure(older, 0, "tiny", sources=6)
    assert [k["sources"] for _, k in calls] == [6]
    # someone's folder, or a file, is refused (it used to be replaced whole), one line and exit 2
    monkeypatch.undo()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    (tmp_path / "afile").write_text("mine")
    for out in ("taken", "afile"):
        assert synthetic.main(["--out", str(tmp_path / out), "--size", "tiny", "--jobs", "1"]) == 2
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine" and (tmp_path / "afile").read_text() == "mine"


def _partial_ratio(x: np.ndarray, f0: float, n: int = 8) -> float:
    """Frequency of the strongest peak near the n-th harmonic, over n f0."""
    size = 1 << 20
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), size))
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    near = (freqs > n * f0 * 0.985) & (freqs < n * f0 * 1.04)
    return freqs[near][np.argmax(spectrum[near])] / (n * f0)


def _envelope(x: np.ndarray) -> tuple[np.ndarray, float]:
    """RMS over 5 ms windows every 0.5 ms, and the hop in seconds."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 221)[::22]
    return np.sqrt((frames**2).mean(1)), 22 / RATE


@pytest.mark.parametrize("midi", [45, 57, 69])
def test_piano_partials_are_stretched_and_guitar_partials_harmonic(midi):
    f0 = instruments.hz(midi)
    piano = _partial_ratio(instruments.piano_note(midi, 1.0, RATE)[:RATE], f0)
    guitar = _partial_ratio(instruments.guitar_note(midi, 1.0, RATE)[:RATE], f0)
    assert piano > 1.005 and abs(guitar - 1) < 0.002, (piano, guitar)
    assert abs(piano - np.sqrt(1 + 64 * instruments.piano_stiffness(midi))) < 0.001


@pytest.mark.parametrize("midi", [45, 57, 69])
def test_guitar_note_dies_away_while_the_piano_sustains(midi):
    def fall_time(x):  # seconds from the peak until 20 dB below it (inf: not within the note)
        env, hop = _envelope(x)
        peak = int(np.argmax(env))
        below = np.nonzero(env[peak:] < 0.1 * env[peak])[0]
        return below[0] * hop if len(below) else np.inf

    guitar = fall_time(instruments.guitar_note(midi, 3.0, RATE)[: 3 * RATE])
    piano = fall_time(instruments.piano_note(midi, 3.0, RATE)[: 3 * RATE])
    assert guitar < 2.0 and piano > 2 * guitar, (guitar, piano)


@pytest.mark.parametrize("midi", [45, 60])
def test_strings_struck_while_other_swells(midi):
    def attack(x):  # seconds from the onset (1 % of the peak) to half the peak, over the first second
        env, hop = _envelope(x[:RATE])
        return (np.argmax(env >= 0.5 * env.max()) - np.argmax(env >= 0.01 * env.max())) * hop

    struck = {
        name: attack(play(midi, 2.0, RATE))
        for name, play in (("guitar", instruments.guitar_note), ("piano", instruments.piano_note))
    }
    swelling = {
        name: attack(play(midi, 2.0, RATE))
        for name, play in (
            ("pad", instruments.pad_note),
            ("organ", instruments.organ_note),
            ("strings", instruments.strings_note),
        )
    }
    assert max(struck.values()) < 0.01 and min(swelling.values()) > 0.025, (struck, swelling)


def test_parts_play_in_their_registers(six_root):
    low, high = instruments.GUITAR_RANGE
    for key in range(28, 40):
        for mode in (band.MAJOR, band.MINOR):
            song = band.Song(key, mode, 120.0, list(range(7)), 4.0)
            for bar in range(7):
                strings = band.guitar_voicing(song.chord(bar))
                assert low <= strings.min() and strings.max() <= high
                assert set(strings % 12) == set(song.chord(bar) % 12)  # the chord's notes, nothing else
    for folder, data in _songs(six_root):
        for path, (stem, _) in _named_files(folder, data).items():
            if stem in ("guitar", "bass"):
                x = sf.read(path)[0].mean(1)
                power = np.abs(np.fft.rfft(x)) ** 2
                freqs = np.fft.rfftfreq(len(x), 1 / RATE)
                if stem == "guitar":  # nothing under E2, a guitar's lowest note
                    assert power[freqs < 75].sum() / power.sum() < 0.02, path
                else:
                    assert power[freqs < 200].sum() / power.sum() > 0.6, path
    # other's pad and organ play from E4 up, over the guitar's strummed body; the organ's 16' stop sounds an
    # octave lower, from E3
    rng = np.random.default_rng(3)
    song = band.Song(33, band.MAJOR, 120.0, list(range(7)), 4.0)
    for kind, lowest in (("pad", 320.0), ("organ", 160.0)):
        x = band.sustained(song, RATE, rng, kind).mean(0)
        power = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / RATE)
        assert power[freqs < lowest].sum() / power.sum() < 0.01, kind
