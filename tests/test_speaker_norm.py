"""Speaker normalisation of voice features: running statistics, blend weights, weights files, expert blend."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from emofuse.errors import CheckpointError, DataError, MissingFileError
from emofuse.experts.speaker_norm import (
    SPEAKER_WEIGHTS_FILE,
    SpeakerNormConfig,
    SpeakerNormHead,
    SpeakerStats,
    read_speaker_norm,
    write_speaker_norm,
)
from emofuse.experts.voice import VoiceHeadConfig

RNG = np.random.default_rng(0)


def test_running_statistics_equal_batch_statistics():
    x = RNG.normal(3.0, 2.0, size=(37, 5))
    s = SpeakerStats(5)
    for chunk in np.array_split(x, [1, 2, 10, 30]):  # uneven batches, one of a single row
        s.update(chunk)
    assert s.n == 37
    np.testing.assert_allclose(s.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.std, x.std(0), rtol=1e-10)
    z = s.normalise(x, np.full(5, 1e-6))
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)


def test_floor_guards_constant_dimensions():
    x = np.c_[RNG.normal(size=(8, 1)), np.full((8, 1), 2.0)]
    z = SpeakerStats(2).update(x).normalise(x, np.array([1e-3, 0.5]))
    assert np.isfinite(z).all() and np.allclose(z[:, 1], 0)


@pytest.mark.parametrize("x, match", [(np.zeros((2, 4)), "of 3 features got 4"),
                                      (np.array([[0.0, np.nan, 1.0]]), "non-finite")])
def test_bad_features_are_refused(x, match):
    with pytest.raises(DataError, match=match):
        SpeakerStats(3).update(x)


def test_empty_statistics_cannot_normalise():
    with pytest.raises(DataError, match="empty"):
        SpeakerStats(3).normalise(np.zeros((1, 3)), np.ones(3))


def test_blend_weight_ramps_from_min_to_full():
    cfg = SpeakerNormConfig(min_utterances=8, full_utterances=16)
    w = [cfg.weight(n) for n in range(0, 30)]
    assert w[:8] == [0.0] * 8 and 0 < w[8] < w[12] < 1 and w[16:] == [1.0] * 14
    assert all(a <= b for a, b in zip(w, w[1:], strict=False))
    assert SpeakerNormConfig(min_utterances=4, full_utterances=4).weight(4) == 1.0
    for bad in ({"min_utterances": 0}, {"min_utterances": 9, "full_utterances": 8}, {"temperature": 0.0}):
        with pytest.raises(CheckpointError):
            SpeakerNormConfig(**bad)


def _head(n: int = 6) -> SpeakerNormHead:
    torch.manual_seed(0)
    m = SpeakerNormHead(VoiceHeadConfig(n_features=n, hidden=4, num_labels=7))
    for p in m.parameters():
        torch.nn.init.normal_(p)
    with torch.no_grad():
        m.floor.fill_(0.01)
    return m.eval()


def test_weights_round_trip_and_bad_files(tmp_path):
    m = _head()
    block = write_speaker_norm(tmp_path, m, SpeakerNormConfig(temperature=1.5), {"note": "x"})
    assert block["file"] == SPEAKER_WEIGHTS_FILE and block["note"] == "x"
    json.dumps(block)  # the block goes into card.json
    got, cfg = read_speaker_norm(tmp_path, {"speaker_norm": block})
    assert cfg.temperature == 1.5 and cfg.min_utterances == 8
    x = torch.randn(3, 6)
    torch.testing.assert_close(got(x), m(x))
    torch.testing.assert_close(got.floor, m.floor)
    assert read_speaker_norm(tmp_path, {}) is None
    with pytest.raises(CheckpointError, match="malformed"):
        read_speaker_norm(tmp_path, {"speaker_norm": {"temperature": 1.0}})
    (tmp_path / SPEAKER_WEIGHTS_FILE).unlink()
    with pytest.raises(MissingFileError, match=SPEAKER_WEIGHTS_FILE):
        read_speaker_norm(tmp_path, {"speaker_norm": block})
