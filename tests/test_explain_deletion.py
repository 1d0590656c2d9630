"""The shared deletion-test result: pooling per-item results equals scoring all items at once."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from emofuse.errors import ConfigError
from emofuse.explain.deletion import (
    check_deletion_args,
    combine_deletion,
    deletion_result,
    format_deletion,
    plot_deletion,
    write_deletion_csv,
)


def test_combining_parts_equals_the_result_over_all_items(tmp_path):
    rng = np.random.default_rng(0)
    top, rand, p = rng.random((9, 3)), rng.random((9, 3)), rng.random(9)
    whole = deletion_result([0.1, 0.3, 0.5], top, rand, p, mean_cells=4.0)
    parts = [deletion_result([0.1, 0.3, 0.5], top[a:b], rand[a:b], p[a:b], mean_cells=4.0)
             for a, b in ((0, 2), (2, 3), (3, 9))]
    comb = combine_deletion(parts)
    for key in ("top", "random", "top_std", "random_std"):
        assert comb[key] == pytest.approx(whole[key])
    assert comb["n_items"] == 9 and comb["target_prob_full"] == pytest.approx(whole["target_prob_full"])
    assert comb["mean_cells"] == pytest.approx(4.0)
    write_deletion_csv({"all": whole, "some": parts[0]}, tmp_path / "d.csv")
    rows = list(csv.DictReader(open(tmp_path / "d.csv")))
    assert len(rows) == 6 and rows[0]["deleted"] == "" and float(rows[0]["top_minus_random"]) == pytest.approx(
        whole["top"][0] - whole["random"][0], abs=1e-4)
    assert format_deletion({"all": whole}).count("\n") == 3
    plot_deletion({"all": whole}, tmp_path / "d.png", part="cells", xlabel="f", title="t")
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments_and_mismatched_parts():
    with pytest.raises(ConfigError, match="my_curve: fractions"):
        check_deletion_args("my_curve", [0.0, 0.5], 2)
    with pytest.raises(ConfigError, match="n_random"):
        check_deletion_args("my_curve", [0.5], 0)
    a = deletion_result([0.1], np.ones((2, 1)), np.zeros((2, 1)), np.ones(2))
    b = deletion_result([0.2], np.ones((2, 1)), np.zeros((2, 1)), np.ones(2))
    with pytest.raises(ConfigError, match="different fractions"):
        combine_deletion([a, b])
    with pytest.raises(ConfigError, match="no results"):
        combine_deletion([])
