import numpy as np
import pytest

from emofuse.config import ConfigError, apply_overrides, from_dict
from emofuse.errors import UnknownNameError
from emofuse.experiment import RunConfig, load_run_config
from emofuse.labels import MAPPINGS, get_label_space, get_mapping, list_label_spaces, mapping_matrix


def test_required_label_spaces_exist():
    for name in ("ekman7", "fer2013", "goemotions28", "meld7", "emodb7", "sentiment2", "sentiment3"):
        assert name in list_label_spaces()
    assert len(get_label_space("goemotions28")) == 28


@pytest.mark.parametrize("pair", sorted(MAPPINGS))
def test_mappings_are_total(pair):
    src, dst = pair
    table = get_mapping(src, dst)
    assert set(table) == set(get_label_space(src).classes)
    assert all(v is None or v in get_label_space(dst).classes for v in table.values())


def test_every_emotion_space_reaches_ekman_and_matrix_is_stochastic():
    for name in ("fer2013", "goemotions28", "meld7", "emodb7", "ravdess8"):
        mat = mapping_matrix(name, "ekman7")
        np.testing.assert_array_equal(mat.sum(1), np.ones(mat.shape[0]))


def test_composed_mapping():
    assert get_mapping("fer2013", "sentiment3")["happy"] == "positive"


def test_unknown_names_suggest():
    with pytest.raises(UnknownNameError, match="ekman7"):
        get_label_space("ekman")
    with pytest.raises(UnknownNameError, match="Did you mean"):
        get_label_space("fer2013").index("hapy")


def test_config_rejects_unknown_and_mistyped_keys():
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        from_dict(RunConfig, {"train": {"epoch": 3}})
    with pytest.raises(ConfigError, match="expected an int"):
        from_dict(RunConfig, {"train": {"epochs": "three"}})
    with pytest.raises(ConfigError):
        load_run_config({"model": {"name": "early_concat", "params": {"hiden": 3}}})
    with pytest.raises(UnknownNameError):
        load_run_config({"model": {"name": "early_concta"}})


def test_overrides():
    d = apply_overrides({"train": {"epochs": 3}}, ["train.epochs=5", "model.params.hidden=16"])
    assert d == {"train": {"epochs": 5}, "model": {"params": {"hidden": 16}}}
