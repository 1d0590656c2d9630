"""Expert robustness sweeps: the shipped face expert on generated crops, fake voice and text experts."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from emofuse.errors import ConfigError, DataError
from emofuse.evaluate.metrics import classification_metrics
from emofuse.experts import load_expert
from emofuse.labels import get_label_space
from emofuse.robustness.corrupt import get_corruption
from emofuse.robustness.experts import corrupt_items, expert_sweep, item_seeds, predict_ekman
from emofuse.robustness.rows import check_rows

EKMAN = get_label_space("ekman7").classes
SR = 16000


def _onehot(idx: list[int]) -> np.ndarray:
    out = np.full((len(idx), 7), 0.01)
    out[np.arange(len(idx)), idx] = 0.94
    return out


class ZeroCrossingVoice:
    """A fake voice expert: the zero-crossing rate of a wave names its class (tones are easy, noise is not).

    Tones at 200 / 1000 / 3000 Hz cross zero at rates 0.025 / 0.125 / 0.375 per sample; white
    noise crosses at about 0.5, so strong noise pushes every wave into the top class.
    """

    name, modality = "fake-voice", "audio"
    CLASSES = (EKMAN.index("sadness"), EKMAN.index("neutral"), EKMAN.index("happiness"))

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, str]] = []

    def predict(self, items):
        idx = []
        for wave, sr in items:
            self.seen.append((len(wave), sr, str(wave.dtype)))
            zcr = np.mean(np.abs(np.diff(np.signbit(wave).astype(int))))
            idx.append(self.CLASSES[int(np.digitize(zcr, [0.06, 0.25]))])
        return SimpleNamespace(ekman=_onehot(idx))


class KeywordText:
    """A fake text expert: a few keywords name the class; no keyword → neutral."""

    name, modality = "fake-text", "text"
    WORDS = {"furious": "anger", "delighted": "happiness", "terrified": "fear", "heartbroken": "sadness"}

    def predict(self, texts):
        idx = []
        for t in texts:
            hit = [self.WORDS[w] for w in t.split() if w in self.WORDS]
            idx.append(EKMAN.index(hit[0] if hit else "neutral"))
        return SimpleNamespace(ekman=_onehot(idx))


def _tones() -> tuple[list[tuple[np.ndarray, int]], list[str]]:
    t = np.arange(SR // 2) / SR
    items, labels = [], []
    for k, (f, lab) in enumerate([(200, "sadness"), (1000, "neutral"), (3000, "happiness")] * 4):
        items.append(((0.2 * np.sin(2 * np.pi * f * t + k)).astype(np.float32), SR))
        labels.append(lab)
    return items, labels


@pytest.fixture(scope="module")
def face():
    return load_expert("face-fer2013")


def _crops() -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:48, :48]
    shapes = [(x * 5).clip(0, 255), (y * 5).clip(0, 255), ((x - 24) ** 2 + (y - 24) ** 2 < 200) * 255,
              np.full((48, 48), 128), ((x // 8 + y // 8) % 2) * 255, (255 - x * 5).clip(0, 255),
              (np.abs(x - 24) < 4) * 255]
    crops = [rng.integers(0, 256, (48, 48)) for _ in range(5)] + shapes
    return np.stack([c.astype(np.uint8) for c in crops])


def test_face_expert_clean_row_is_its_plain_prediction_and_corruption_moves_it(face):
    crops = _crops()
    clean = face.predict(crops)
    labels = clean.ekman_labels()  # the clean answers are "right" by construction
    assert len(set(labels)) > 1
    rows = expert_sweep(face, crops, labels, "occlusion", [1.0, 0.25], seed=5, batch_size=4, progress=False)
    check_rows(rows)
    assert [r["level"] for r in rows] == [None, 0.25, 1.0] and [r["severity"] for r in rows] == [0, 1, 2]
    assert [r["condition"] for r in rows] == ["clean", "occlusion 25% of face", "occlusion 100% of face"]
    want = classification_metrics(np.asarray([EKMAN.index(lab) for lab in labels]), clean.ekman, classes=EKMAN)
    assert rows[0]["accuracy"] == 1.0 and rows[0]["f1_macro"] == pytest.approx(want["f1_macro"])
    assert all(r["target"] == "face-fer2013" and r["modality"] == "face" and r["n"] == len(crops) for r in rows)
    # a fully covered crop is one black square: every item gets the same answer, most of them wrong
    black = face.predict(np.zeros((1, 48, 48), np.uint8)).ekman_labels()[0]
    assert rows[2]["accuracy"] == pytest.approx(np.mean([lab == black for lab in labels]))
    assert rows[2]["accuracy"] < 1.0
    # level None hands the expert the very same crops
    seeds = item_seeds(len(crops), 5)
    assert all(np.array_equal(a, b) for a, b in zip(corrupt_items(list(crops), "blur", None, "face", seeds),
                                                   crops, strict=True))
    np.testing.assert_allclose(predict_ekman(face, list(crops), "face", batch_size=5), clean.ekman, atol=1e-6)


def test_face_sweep_is_deterministic_and_independent_of_batch_size(face):
    crops = _crops()[:6]
    labels = ["anger", "neutral", 2, "happiness", "sadness", 6]
    a = expert_sweep(face, crops, labels, "jpeg", seed=1, batch_size=64, progress=False)
    b = expert_sweep(face, crops, labels, "jpeg", seed=1, batch_size=1, progress=False)
    assert a == b
    assert [r["level"] for r in a] == [None, 50, 20, 10, 5]  # default levels, mildest (highest quality) first
    assert a[0]["unit"] == "quality"


def test_fake_voice_expert_loses_accuracy_under_strong_white_noise():
    items, labels = _tones()
    expert = ZeroCrossingVoice()
    rows = expert_sweep(expert, items, labels, "white_noise", [0, 30, -20, 10], seed=0, progress=False)
    acc = {r["level"]: r["accuracy"] for r in rows}
    assert list(acc) == [None, 30, 10, 0, -20]  # clean, then worse and worse SNR
    assert acc[None] == 1.0 and acc[30] == 1.0
    assert acc[-20] < 0.5 and list(acc.values()) == sorted(acc.values(), reverse=True)
    assert {s for s in expert.seen} == {(SR // 2, SR, "float32")}  # length, rate and dtype reach the expert


def test_babble_context_reaches_the_corruption():
    items, labels = _tones()
    bank = [(0.1 * np.random.default_rng(s).standard_normal(SR).astype(np.float32), SR) for s in range(3)]
    rows = expert_sweep(ZeroCrossingVoice(), items, labels, "babble_noise", [20, -20], bank=bank, progress=False)
    assert rows[1]["accuracy"] == 1.0 and rows[2]["accuracy"] < 0.5
    with pytest.raises(ConfigError, match="bank"):
        expert_sweep(ZeroCrossingVoice(), items, labels, "babble_noise", [10], progress=False)


def test_fake_text_expert_loses_keywords_to_word_errors():
    texts = [f"i am {w} about it" for w in KeywordText.WORDS] * 5
    labels = [KeywordText.WORDS[t.split()[2]] for t in texts]
    rows = expert_sweep(KeywordText(), texts, labels, "word_errors", [0.0, 0.2, 1.0], seed=2, progress=False)
    assert [r["level"] for r in rows] == [None, 0.0, 0.2, 1.0]
    assert rows[0]["accuracy"] == rows[1]["accuracy"] == 1.0
    assert 0.5 < rows[2]["accuracy"] < 1.0 and rows[3]["accuracy"] == 0.0  # every word replaced or dropped


def test_sweep_rejects_mismatched_inputs(face):
    items, labels = _tones()
    with pytest.raises(ConfigError, match="for face input"):
        expert_sweep(ZeroCrossingVoice(), items, labels, "blur", [1], progress=False)
    with pytest.raises(ConfigError, match="Did you mean"):
        expert_sweep(ZeroCrossingVoice(), items, labels, "white_nois", [1], progress=False)
    with pytest.raises(ConfigError, match="dB SNR"):
        expert_sweep(ZeroCrossingVoice(), items, labels, "white_noise", [500], progress=False)
    with pytest.raises(DataError, match="labels for"):
        expert_sweep(ZeroCrossingVoice(), items, labels[:-1], "white_noise", [10], progress=False)
    with pytest.raises(DataError, match="ekman7"):
        expert_sweep(ZeroCrossingVoice(), items, ["joy"] * len(items), "white_noise", [10], progress=False)
    with pytest.raises(DataError, match="pair"):
        expert_sweep(ZeroCrossingVoice(), [w for w, _ in items], labels, "white_noise", [10], progress=False)
    with pytest.raises(DataError, match="uint8"):
        expert_sweep(face, np.zeros((2, 48, 48), np.float32), ["anger"] * 2, "blur", [1], progress=False)
    with pytest.raises(ConfigError, match="batch_size"):
        expert_sweep(face, np.zeros((2, 48, 48), np.uint8), ["anger"] * 2, "blur", [1], batch_size=0,
                     progress=False)
    assert get_corruption("blur").modality == "face"


def test_shared_cache_scores_the_clean_condition_once():
    items, labels = _tones()

    class Counting(ZeroCrossingVoice):
        calls = 0

        def predict(self, items):
            Counting.calls += len(items)
            return super().predict(items)

    cache: dict = {}
    a = expert_sweep(Counting(), items, labels, "white_noise", [10], progress=False, cache=cache)
    first = Counting.calls
    b = expert_sweep(Counting(), items, labels, "reverb", [0.5], progress=False, cache=cache)
    assert first == 2 * len(items) and Counting.calls - first == len(items)  # second sweep: corrupted only
    assert a[0]["accuracy"] == b[0]["accuracy"] and a[0]["condition"] == b[0]["condition"] == "clean"
