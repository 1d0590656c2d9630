"""Augmented copies in the speech protocol: they join training rows only, never a held-out speaker's fold."""

from __future__ import annotations

import numpy as np
import pytest

from emofuse.errors import ConfigError
from emofuse.train import speech


def _table(rng: np.random.Generator, speakers: int = 6, per: int = 14, d: int = 5) -> dict:
    """A small corpus: 7 ekman classes, class-dependent means, ``per`` files per speaker."""
    spk = np.repeat([f"{i:02d}" for i in range(speakers)], per)
    y = np.tile(np.arange(7), len(spk) // 7 + 1)[: len(spk)]
    x = rng.normal(size=(len(spk), d)) + y[:, None] * 0.8
    return {"name": "c", "x": x, "y_ekman": y, "speaker": spk, "ids": [str(i) for i in range(len(spk))]}


def test_with_copies_stacks_rows_and_repeats_labels_and_groups():
    x, y, g = np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]), np.array(["a", "b", "b"])
    xs, ys, gs = speech.with_copies(x, y, g, [x + 100])
    assert xs.shape == (6, 2) and (xs[3:] == x + 100).all()
    assert ys.tolist() == [0, 1, 2, 0, 1, 2] and gs.tolist() == ["a", "b", "b", "a", "b", "b"]
    assert speech.with_copies(x, y, g)[0].shape == (3, 2)  # no copies: the rows as given


def test_cv_fits_on_training_copies_only_and_scores_clean_rows(monkeypatch):
    rng = np.random.default_rng(0)
    t = _table(rng)
    copy = t["x"] + 1000.0  # a copy is recognisable by its offset
    folds = [["00", "01"], ["02", "03"], ["04", "05"]]
    seen = []
    real_fit, real_scores = speech.fit_search, speech.class_scores

    def spy_fit(kind, x, y, groups, **kw):
        seen.append((x.copy(), groups.copy()))
        return real_fit(kind, x, y, groups, **kw)

    scored = []

    def spy_scores(model, x, n):
        scored.append(x.copy())
        return real_scores(model, x, n)

    monkeypatch.setattr(speech, "fit_search", spy_fit)
    monkeypatch.setattr(speech, "class_scores", spy_scores)
    r = speech._cv("logreg", t["x"], t["y_ekman"], t["speaker"], folds, speech.EKMAN.classes, 0, copies=[copy])
    assert len(seen) == len(folds)
    for (x, groups), held in zip(seen, folds, strict=True):
        n = len(x) // 2
        assert x.shape[1] == t["x"].shape[1]  # unstacked: rows, not extra columns
        assert (x[n:] > 500).all() and (x[:n] < 500).all()  # the second half is the copies
        assert not set(groups.tolist()) & set(held)  # no held-out speaker, copy or not
        assert n == int((~np.isin(t["speaker"], held)).sum())
    assert all(s.shape[1] == t["x"].shape[1] and (s < 500).all() for s in scored)  # clean test rows only
    assert r["oof"].shape == (len(t["y_ekman"]), 7)


def test_copies_change_the_fit():
    """Copies are real extra training rows: a copy with the classes swapped moves the out-of-fold scores."""
    rng = np.random.default_rng(1)
    t = _table(rng)
    folds = [["00", "01"], ["02", "03"], ["04", "05"]]
    clean = speech._cv("logreg", t["x"], t["y_ekman"], t["speaker"], folds, speech.EKMAN.classes, 0)
    flipped = t["x"][:, ::-1].copy()
    aug = speech._cv("logreg", t["x"], t["y_ekman"], t["speaker"], folds, speech.EKMAN.classes, 0,
                     copies=[flipped])
    assert not np.allclose(clean["oof"], aug["oof"])


def test_joint_copies_requires_the_same_number_per_corpus():
    rng = np.random.default_rng(2)
    a, b = _table(rng), dict(_table(rng), name="d")
    assert speech.joint_copies([a, b]) == []
    a["copies"], b["copies"] = [a["x"] + 1], [b["x"] + 2]
    (j,) = speech.joint_copies([a, b])
    assert j.shape == (len(a["x"]) + len(b["x"]), a["x"].shape[1])
    del b["copies"]
    with pytest.raises(ConfigError, match="same number of augmented copies"):
        speech.joint_copies([a, b])
