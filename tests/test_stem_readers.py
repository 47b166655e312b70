"""The readers of multi-stem layouts (MoisesDB, Slakh2100, stem folders) and the choice of sources."""

import json
import warnings

import numpy as np
import pytest

from cunet import audio
from cunet.datasets import folders, moisesdb, slakh
from cunet.datasets.stems import (
    StemTrack,
    StemWarning,
    available_stems,
    parse_group,
    present_sources,
    select_sources,
    source_signals,
    split_by_sources,
)
from cunet.errors import InputError

RNG = np.random.default_rng(7)


def noise(seconds, rate, channels=2, scale=0.1):
    return (scale * RNG.standard_normal((channels, int(round(seconds * rate))))).astype(np.float32)


def write(path, x, rate):
    audio.write(path, x, rate, "FLOAT" if path.suffix == ".wav" else None)
    return audio.read(path)[0]  # what the file holds (FLAC is 16-bit)


def make_moises_track(folder, stems, artist="A", song="S"):
    """``stems``: {stemName: [(file id, seconds, rate)]}; returns {stemName: [samples as written]}."""
    written, entries = {}, []
    for stem, files in stems.items():
        tracks = []
        for file_id, seconds, rate in files:
            written.setdefault(stem, []).append(write(folder / stem / f"{file_id}.wav", noise(seconds, rate), rate))
            tracks.append({"trackType": f"{stem}_part", "id": file_id, "extension": "wav", "has_bleed": False})
        entries.append({"stemName": stem, "id": f"{stem}-id", "tracks": tracks})
    (folder / "data.json").write_text(json.dumps({"artist": artist, "song": song, "genre": "Pop", "stems": entries}))
    return written


def test_moisesdb_sums_files_of_a_stem_and_every_file_into_the_mixture(tmp_path):
    written = make_moises_track(
        tmp_path / "db" / "provA" / "t1",
        {
            "vocals": [("v1", 1.0, 44100), ("v2", 1.0, 44100)],
            "guitar": [("g1", 1.0, 22050)],  # another rate: resampled, and of the same duration, so not padded
            "drums": [("d1", 1.0, 44100)],
        },
    )
    tracks, _ = moisesdb.scan(tmp_path / "db", test_fraction=0, valid_fraction=0)
    [track] = tracks
    assert (track.name, track.split, track.info["artist"], track.info["provider"]) == ("t1", "train", "A", "provA")
    assert track.present == ("vocals", "guitar", "drums") and track.mixture is None
    assert track.check(0.5) == 44100
    with warnings.catch_warnings():
        warnings.simplefilter("error", StemWarning)
        stems = track.load(44100, 2)
    np.testing.assert_array_equal(stems["vocals"], written["vocals"][0] + written["vocals"][1])
    guitar = audio.resample(written["guitar"][0], 22050, 44100)
    np.testing.assert_allclose(stems["guitar"], guitar, atol=1e-6)
    np.testing.assert_allclose(stems["mixture"], sum(written["vocals"]) + written["drums"][0] + guitar, atol=1e-6)
    mono = track.load(8192, 1)
    assert mono["mixture"].shape == (1, 8192)
    np.testing.assert_allclose(mono["mixture"], mono["vocals"] + mono["guitar"] + mono["drums"], atol=1e-6)


def test_files_of_different_lengths_are_padded_with_zeros_and_named(tmp_path):
    written = make_moises_track(
        tmp_path / "db" / "p" / "t1", {"bass": [("b1", 1.5, 44100)], "piano": [("short", 1.0, 44100)]}
    )
    [track], _ = moisesdb.scan(tmp_path / "db", test_fraction=0)
    with pytest.warns(StemWarning, match=r"short\.wav: 0\.500 s \(22050 samples at 44100 Hz\) shorter") as caught:
        stems = track.load(44100, 2)
    assert len(caught) == 1 and "b1.wav" in str(caught[0].message)
    assert stems["piano"].shape == stems["bass"].shape == (2, 66150)
    np.testing.assert_array_equal(stems["piano"][:, :44100], written["piano"][0])
    assert not stems["piano"][:, 44100:].any()
    np.testing.assert_array_equal(stems["mixture"][:, 44100:], stems["bass"][:, 44100:])


def _moises_ids(root, n):
    for i in range(n):
        make_moises_track(root / f"prov{i % 2}" / f"id{i:02d}", {"vocals": [("v", 0.05, 8000)]})
    return [f"id{i:02d}" for i in range(n)]


def test_moisesdb_splits_are_seeded_disjoint_and_recorded(tmp_path):
    ids = _moises_ids(tmp_path / "db", 10)
    tracks, info = moisesdb.scan(tmp_path / "db", test_fraction=0.2, valid_fraction=0.15, seed=3)
    again, info_again = moisesdb.scan(tmp_path / "db", test_fraction=0.2, valid_fraction=0.15, seed=3)
    assert info == info_again and [t.split for t in tracks] == [t.split for t in again]
    splits = {t.name: t.split for t in tracks}
    assert sorted(splits) == ids
    assert sorted(n for n, s in splits.items() if s == "test") == info["test_tracks"]
    assert sorted(n for n, s in splits.items() if s == "valid") == info["valid_tracks"]
    assert len(info["test_tracks"]) == 2 and len(info["valid_tracks"]) == 1  # 0.2 of 10, 0.15 of the other 8
    assert not set(info["test_tracks"]) & set(info["valid_tracks"])
    assert info["test_chosen_by"] == "seeded-fraction-0.2" and info["seed"] == 3
    others = {tuple(moisesdb.scan(tmp_path / "db", seed=s)[1]["test_tracks"]) for s in range(5)}
    assert len(others) > 1  # the seed does choose

    _, given = moisesdb.scan(tmp_path / "db", test_tracks=["id04", "id07"], valid_tracks=["id01"])
    assert (given["test_tracks"], given["valid_tracks"], given["test_chosen_by"]) == (
        ["id04", "id07"],
        ["id01"],
        "given",
    )
    with pytest.raises(InputError, match=r"--valid-tracks names tracks not among the tracks outside the test"):
        moisesdb.scan(tmp_path / "db", test_tracks=["id04"], valid_tracks=["id04"])
    with pytest.raises(InputError, match=r"--test-tracks .*\['nope'\]"):
        moisesdb.scan(tmp_path / "db", test_tracks=["nope"])


@pytest.mark.parametrize(
    "damage,problem",
    [
        ("missing", "missing: every track folder"),
        ("not json", "malformed data.json: not JSON"),
        ("no stems", "malformed data.json: expected an object with a list 'stems'"),
        ("no id", r"malformed data.json: stems\[0\].tracks\[1\] has no 'id'"),
        ("file gone", r"names .*v2\.wav, which is not there \(stem 'vocals'"),
    ],
)
def test_moisesdb_bad_data_json_names_the_file(tmp_path, damage, problem):
    folder = tmp_path / "db" / "p" / "t1"
    make_moises_track(folder, {"vocals": [("v1", 0.1, 8000), ("v2", 0.1, 8000)]})
    data = json.loads((folder / "data.json").read_text())
    if damage == "missing":
        (folder / "data.json").unlink()
    elif damage == "not json":
        (folder / "data.json").write_text('{"stems": [')
    elif damage == "no stems":
        (folder / "data.json").write_text(json.dumps({"artist": "A"}))
    elif damage == "no id":
        del data["stems"][0]["tracks"][1]["id"]
        (folder / "data.json").write_text(json.dumps(data))
    else:
        (folder / "vocals" / "v2.wav").unlink()
    with pytest.raises(InputError, match=problem) as err:
        moisesdb.scan(tmp_path / "db")
    assert err.value.path == str(folder / "data.json")


def test_moisesdb_root_that_is_a_provider_folder_is_explained(tmp_path):
    make_moises_track(tmp_path / "db" / "p" / "t1", {"vocals": [("v1", 0.1, 8000)]})
    with pytest.raises(InputError, match="pass the folder that holds the provider folders"):
        moisesdb.scan(tmp_path / "db" / "p" / "t1")


def _slakh_track(folder, stems, mix=True):
    """``stems``: {id: metadata entry}; a rendered stem gets 1 s of noise at 22.05 kHz."""
    written = {}
    for stem_id, entry in stems.items():
        if entry.get("audio_rendered", True):
            written[stem_id] = write(folder / "stems" / f"{stem_id}.flac", noise(1.0, 22050, 1), 22050)
    if mix:
        written["mix"] = write(folder / "mix.flac", sum(written.values()), 22050)
    (folder / "metadata.yaml").write_text(
        "UUID: abc\naudio_dir: stems\nstems:\n"
        + "".join(
            f"  {stem_id}:\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in entry.items())
            for stem_id, entry in stems.items()
        )
    )
    return written


def test_slakh_sources_are_instrument_classes_and_unrendered_stems_are_left_out(tmp_path):
    root = tmp_path / "slakh"
    written = _slakh_track(
        root / "train" / "Track00001",
        {
            "S00": {"inst_class": "Guitar", "program_num": 30, "is_drum": False, "audio_rendered": True},
            "S01": {"inst_class": "Synth Pad", "program_num": 90, "is_drum": False, "audio_rendered": True},
            "S02": {"inst_class": "Guitar", "program_num": 25, "is_drum": False, "audio_rendered": True},
            "S03": {"inst_class": "Piano", "program_num": 0, "is_drum": False, "audio_rendered": False},
            "S04": {"is_drum": True, "program_num": 0},  # no inst_class: drums from is_drum
            "S05": {"program_num": 33, "is_drum": False},
        },
    )  # no inst_class: the General MIDI family of 33
    _slakh_track(root / "validation" / "Track00002", {"S00": {"inst_class": "Bass"}})
    _slakh_track(root / "test" / "Track00003", {"S00": {"inst_class": "Piano"}}, mix=False)
    with pytest.warns(StemWarning, match=r"1 stem\(s\) left out: Track00001: stem S03 \(Piano\) not rendered"):
        tracks, info = slakh.scan(root)
    by_name = {t.name: t for t in tracks}
    assert {n: t.split for n, t in by_name.items()} == {
        "Track00001": "train",
        "Track00002": "valid",
        "Track00003": "test",
    }
    assert info == {"valid_tracks": ["Track00002"], "valid_chosen_by": "slakh2100-validation"}
    first = by_name["Track00001"]
    assert {s: tuple(p.name for p in files) for s, files in first.stems.items()} == {
        "guitar": ("S00.flac", "S02.flac"),
        "synth_pad": ("S01.flac",),
        "drums": ("S04.flac",),
        "bass": ("S05.flac",),
    }
    assert len(first.notes) == 1 and "S03" in first.notes[0]
    assert available_stems(tracks) == ("bass", "drums", "guitar", "piano", "synth_pad")
    stems = first.load(22050, 1)
    np.testing.assert_array_equal(stems["guitar"], written["S00"] + written["S02"])
    np.testing.assert_array_equal(stems["mixture"], written["mix"])  # mix.flac, not the sum
    assert by_name["Track00003"].mixture is None


@pytest.mark.parametrize(
    "damage,problem",
    [
        ("yaml", "does not parse as YAML"),
        ("file gone", r"lists rendered stem S01 \(Piano\), but .*S01\.flac is not there"),
        ("no class", "stem S01: no inst_class, is_drum or program_num"),
    ],
)
def test_slakh_bad_metadata_names_the_file(tmp_path, damage, problem):
    root = tmp_path / "slakh"
    folder = root / "train" / "Track00001"
    _slakh_track(folder, {"S00": {"inst_class": "Guitar"}, "S01": {"inst_class": "Piano"}})
    (root / "test").mkdir()
    if damage == "yaml":
        (folder / "metadata.yaml").write_text("stems:\n  S00: {inst_class: [Guitar\n")
    elif damage == "file gone":
        (folder / "stems" / "S01.flac").unlink()
    else:
        text = (folder / "metadata.yaml").read_text()
        (folder / "metadata.yaml").write_text(text.replace('inst_class: "Piano"', "audio_rendered: true"))
    with pytest.raises(InputError, match=problem) as err:
        slakh.scan(root)
    assert err.value.path == str(folder / "metadata.yaml")


def test_stem_folders_missing_stem_is_silence_and_recorded(tmp_path):
    root = tmp_path / "songs"
    full = {s: write(root / "train" / "A" / f"{s}.wav", noise(1.0, 44100), 44100) for s in ("vocals", "guitar")}
    full["mixture"] = write(root / "train" / "A" / "mixture.wav", 0.5 * (full["vocals"] + full["guitar"]), 44100)
    part = {
        "vocals": write(root / "train" / "B" / "vocals.flac", noise(1.0, 22050), 22050),
        "piano": write(root / "train" / "B" / "piano.wav", noise(1.0, 44100), 44100),
    }
    (root / "train" / "B" / "notes.txt").write_text("not audio")
    for name in ("C", "D", "E"):
        write(root / "train" / name / "vocals.wav", noise(0.2, 44100), 44100)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8820) / 44100))[None].astype(np.float32)
    audio.write(root / "test" / "F" / "piano.mp3", tone, 44100)  # decoded by FFmpeg, its header read by PyAV
    tracks, info = folders.scan(root, valid_fraction=0.4, seed=1)
    assert info == folders.scan(root, valid_fraction=0.4, seed=1)[1] and len(info["valid_tracks"]) == 2
    by_name = {t.name: t for t in tracks}
    assert {n for n, t in by_name.items() if t.split == "valid"} == set(info["valid_tracks"])
    assert by_name["F"].split == "test" and by_name["F"].check(0.1) == 8820
    piano = by_name["F"].load(44100, 1)["piano"]
    assert piano.shape == (1, 8820) and np.corrcoef(piano[0], tone[0])[0, 1] > 0.999
    assert available_stems(tracks) == ("guitar", "piano", "vocals")
    a, b = by_name["A"], by_name["B"]
    assert (a.present, b.present) == (("guitar", "vocals"), ("piano", "vocals"))
    assert a.mixture.name == "mixture.wav" and b.mixture is None
    selection = select_sources(available_stems(tracks))
    assert present_sources(b, selection) == ("piano", "vocals")
    sources = source_signals(b.load(22050, 2), selection)
    assert sources["guitar"].shape == (2, 22050) and not sources["guitar"].any()
    np.testing.assert_array_equal(sources["vocals"], part["vocals"])
    np.testing.assert_allclose(sources["mixture"], sources["vocals"] + sources["piano"], atol=1e-6)
    np.testing.assert_array_equal(source_signals(a.load(44100, 2), selection)["mixture"], full["mixture"])


def test_stem_folders_refuse_two_files_for_one_stem(tmp_path):
    write(tmp_path / "s" / "train" / "A" / "vocals.wav", noise(0.1, 8000), 8000)
    write(tmp_path / "s" / "train" / "A" / "vocals.flac", noise(0.1, 8000), 8000)
    (tmp_path / "s" / "test").mkdir()
    write(tmp_path / "s" / "test" / "B" / "vocals.wav", noise(0.1, 8000), 8000)
    with pytest.raises(InputError, match="two files for stem 'vocals'") as err:
        folders.scan(tmp_path / "s")
    assert err.value.path == str(tmp_path / "s" / "train" / "A")


MOISES_STEMS = ("bass", "bowed_strings", "drums", "guitar", "other", "other_keys", "piano", "vocals", "wind")


def test_select_sources_rest_collects_the_others_and_groups_sum():
    chosen = select_sources(MOISES_STEMS, ["vocals", "drums", "bass", "guitar", "piano", "other"])
    assert list(chosen) == ["vocals", "drums", "bass", "guitar", "piano", "other"]
    assert chosen["other"] == ("bowed_strings", "other", "other_keys", "wind") and chosen["piano"] == ("piano",)
    keys = dict([parse_group("keys=piano+other_keys")])
    grouped = select_sources(MOISES_STEMS, ["vocals", "keys", "rest"], rest="rest", groups=keys)
    assert grouped == {
        "vocals": ("vocals",),
        "keys": ("other_keys", "piano"),
        "rest": ("bass", "bowed_strings", "drums", "guitar", "other", "wind"),
    }
    default = select_sources(MOISES_STEMS, groups=keys)
    assert list(default) == ["bass", "bowed_strings", "drums", "guitar", "other", "keys", "vocals", "wind"]
    loaded = {
        "piano": np.full((1, 4), 0.25, np.float32),
        "other_keys": np.full((1, 4), 0.5, np.float32),
        "vocals": np.ones((1, 4), np.float32),
        "mixture": np.full((1, 4), 1.75, np.float32),
    }
    signals = source_signals(loaded, grouped)
    np.testing.assert_array_equal(signals["keys"], np.full((1, 4), 0.75))
    assert not signals["rest"].any() and set(signals) == {"vocals", "keys", "rest", "mixture"}


@pytest.mark.parametrize(
    "kwargs,problem",
    [
        (
            {"sources": ["vocals", "flute"]},
            "no source 'flute': the dataset has bass, bowed_strings, drums, guitar, "
            "other, other_keys, piano, vocals, wind",
        ),
        (
            {"groups": {"keys": ["piano", "other_keys"], "ivory": ["piano"]}},
            "stem 'piano' is in two groups, 'keys' and 'ivory'",
        ),
        (
            {"sources": ["piano", "keys"], "groups": {"keys": ["piano", "other_keys"]}},
            "stem 'piano' is in two sources, 'keys' and 'piano'",
        ),
        ({"groups": {"keys": ["piano", "harpsichord"]}}, "--group keys: no stem 'harpsichord'; the dataset has bass"),
        ({"sources": ["vocals"], "groups": {"keys": ["piano"]}}, "--group keys is not among --sources vocals"),
    ],
)
def test_select_sources_refusals_list_what_there_is(kwargs, problem):
    with pytest.raises(InputError, match=problem.replace("(", r"\(")):
        select_sources(MOISES_STEMS, **kwargs)


def test_parse_group_refuses_malformed_values():
    assert parse_group("strings = bowed_strings+wind") == ("strings", ("bowed_strings", "wind"))
    for bad in ("keys", "=piano", "keys=piano+", "keys="):
        with pytest.raises(InputError, match="not of the form NAME=STEM"):
            parse_group(bad)


def test_tracks_without_any_selected_source_are_skipped_with_a_reason(tmp_path):
    def track(name, stems):
        return StemTrack(
            name=name, split="train", path=tmp_path / name, stems={s: (tmp_path / name / f"{s}.wav",) for s in stems}
        )

    tracks = [track("A", ["vocals", "wind"]), track("B", ["wind"]), track("C", [])]
    kept, skipped = split_by_sources(tracks, select_sources(available_stems(tracks), ["vocals"]))
    assert [t.name for t in kept] == ["A"]
    assert skipped == [
        {"name": "B", "split": "train", "reason": "none of the sources vocals (it holds wind)"},
        {"name": "C", "split": "train", "reason": "none of the sources vocals (it holds no stem)"},
    ]
    with pytest.raises(InputError, match="holds no stem"):
        tracks[2].check()
