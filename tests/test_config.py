import dataclasses
import re

import pytest

from cunet import config
from cunet.errors import InputError
from cunet.preprocess.config import PreprocessConfig


def test_save_load_round_trip(tmp_path):
    cfg = PreprocessConfig(dataset="musdb", root="/data", valid_tracks=("A - B",), add_zero=True)
    config.save(cfg, tmp_path / "config.json")
    assert config.load(PreprocessConfig, tmp_path / "config.json") == cfg


def test_overrides_are_typed():
    cfg = config.apply_overrides(
        PreprocessConfig(),
        dict(config.parse_override(s) for s in ["patch_frames=64", "valid_fraction=0", "add_all=true"]),
    )
    assert (cfg.patch_frames, cfg.valid_fraction, cfg.add_all) == (64, 0.0, True)
    with pytest.raises(InputError, match="'patch_frames' expects"):
        config.apply_overrides(cfg, {"patch_frames": "many"})
    with pytest.raises(InputError, match="unknown config key 'patchframes'"):
        config.apply_overrides(cfg, {"patchframes": 3})
    with pytest.raises(InputError, match="key=value"):
        config.parse_override("patch_frames")


def test_invalid_values_are_refused():
    with pytest.raises(ValueError, match="needs --root"):
        PreprocessConfig(dataset="musdb")
    with pytest.raises(ValueError, match="patch_frames must be positive"):
        PreprocessConfig(patch_frames=0)


def test_a_file_of_another_type_is_refused(tmp_path):
    (tmp_path / "c.json").write_text('{"type": "TrainConfig", "values": {}}')
    with pytest.raises(InputError, match="not a saved PreprocessConfig"):
        config.load(PreprocessConfig, tmp_path / "c.json")


def test_model_config_round_trip(tmp_path):
    from cunet.models.config import ModelConfig

    cfg = ModelConfig(model="ynet", depth="paper", visual="landmarks", widths=(8, 16, 32, 64, 64, 64))
    config.save(cfg, tmp_path / "model.json")
    assert config.load(ModelConfig, tmp_path / "model.json") == cfg
    with pytest.raises(ValueError, match="visual must be one of video, landmarks, none, got 'face'"):
        ModelConfig(model="ynet", visual="face")


def test_each_choice_list_is_one_literal_that_the_config_checks_and_the_flag_offers():
    import dataclasses

    from cunet.evaluation.config import Protocol, ResultsConfig, Split
    from cunet.evaluation.results import build_parser as results_parser
    from cunet.models.config import Film, ModelConfig, ModelKind, Visual
    from cunet.train.__main__ import build_parser as train_parser
    from cunet.train.config import MixedPrecision, Strategy

    offered = {a.dest: tuple(a.choices) for p in (train_parser(), results_parser()) for a in p._actions if a.choices}
    for dest, literal in (
        ("model", ModelKind),
        ("film", Film),
        ("visual", Visual),
        ("strategy", Strategy),
        ("mixed_precision", MixedPrecision),
        ("protocol", Protocol),
        ("split", Split),
    ):
        assert offered[dest] == config.choices(literal), dest
    # a saved config holding a value the type does not allow is refused, naming the key and the file
    with pytest.raises(InputError, match="'film'"):
        config.from_dict(ModelConfig, {"film": "fancy"}, "model_config.json")
    assert config.from_dict(ModelConfig, {"film": "complex"}).film == "complex"
    with pytest.raises(ValueError, match="protocol must be one of paper, sisec, both"):
        ResultsConfig(protocol="v5")
    assert dataclasses.replace(ResultsConfig(), split="valid").split == "valid"


@dataclasses.dataclass(frozen=True)
class _Point:
    x: int
    label: str = ""


@dataclasses.dataclass(frozen=True)
class _Shape:
    points: tuple[_Point, ...]
    named: dict[str, _Point]
    weights: list[float]


def test_nested_lists_and_dicts_of_dataclasses_are_read_item_by_item():
    shape = config.from_dict(
        _Shape, {"points": [{"x": 1}, {"x": 2, "label": "b"}], "named": {"a": {"x": 3}}, "weights": [1, 0.5]}
    )
    assert shape == _Shape((_Point(1), _Point(2, "b")), {"a": _Point(3)}, [1.0, 0.5])
    assert isinstance(shape.weights[0], float)  # an int where a float is asked becomes a float
    bad = [
        ({"points": [{"x": 1}, {"x": "2"}], "named": {}, "weights": []}, "'points[1].x' expects int, got '2'"),
        ({"points": [{"x": 1, "y": 0}], "named": {}, "weights": []}, "unknown key(s) ['y'] in points[0]"),
        ({"points": [], "named": {"a": {}}, "weights": []}, "missing key 'x' in named['a']"),
        ({"points": [], "named": {"a": [1]}, "weights": []}, "named['a']\" expects _Point, got [1]"),
        ({"points": [], "weights": []}, "missing key 'named'"),
        ({"points": [], "named": {}, "weights": [1, True]}, "'weights[1]' expects float, got True"),
    ]
    for values, message in bad:
        with pytest.raises(InputError, match=re.escape(message)):
            config.from_dict(_Shape, values, "shape.json")
