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
    with pytest.raises(ValueError, match="visual='face'"):
        ModelConfig(model="ynet", visual="face")
