"""Contract of every registered expert: calibrated ekman7 out, batch equals singles, bad input refused.

Inputs are generated here, one builder per kind of input an expert declares
(:attr:`Expert.needs.input <emofuse.experts.base.ExpertNeeds>`): sentences for text, a
synthetic vowel (16 kHz waveforms) for the voice, drawn 48x48 grey face crops for the face,
windows of a generated wrist recording for the physiological expert.
A newly registered expert is picked up by the parametrization; one whose input kind has no
builder here fails :func:`test_every_registered_expert_has_an_input_builder`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from _signals import vowel
from emofuse.errors import DataError
from emofuse.experts import EXPERTS, load_expert
from emofuse.experts.base import Expert

SR = 16000


# --------------------------------------------------------------------------- input builders


def sentences() -> list[str]:
    return ["I am so happy today, this is wonderful!", "This is terrible, I hate it.", "The meeting is at noon.",
            "Oh no, I'm scared of what comes next"]


def waveforms() -> list[tuple[np.ndarray, int]]:
    # different lengths and pitches, so batching has to pad
    return [(vowel(1.0, 120.0), SR), (vowel(1.6, 180.0, amp=0.05), SR), (vowel(2.2, 240.0, amp=0.2), SR)]


def face_crops() -> np.ndarray:
    """Drawn faces: a bright oval, two eyes and a mouth whose curve and size vary; ``(N, 48, 48)`` uint8."""
    y, x = np.mgrid[0:48, 0:48].astype(np.float32)
    out = []
    for k, (smile, eye, light) in enumerate([(0.6, 2.5, 200), (-0.5, 3.5, 170), (0.0, 2.0, 220), (0.9, 4.0, 150)]):
        img = np.full((48, 48), 40.0, np.float32)
        img[((x - 24) / 17) ** 2 + ((y - 25) / 21) ** 2 <= 1] = light
        for ex in (16.0, 32.0):
            img[(x - ex) ** 2 + (y - 19) ** 2 <= eye**2] = 30
        mouth_y = 34 + smile * ((x - 24) / 8) ** 2 - smile * 2
        img[(np.abs(y - mouth_y) <= 1.2) & (np.abs(x - 24) <= 9)] = 60
        noise = np.random.default_rng(k).normal(0, 6, img.shape)
        out.append(np.clip(img + noise, 0, 255).astype(np.uint8))
    return np.stack(out)


def physio_windows() -> list[Any]:
    """Windows of a generated 4-minute wrist recording (BVP, EDA, temperature, motion), and one of EDA only."""
    pytest.importorskip("neurokit2")
    from _physio import recording
    from emofuse.experts.physio import physio_windows as windows

    return windows(recording(240), [90.0, 160.0, 240.0]) + windows(recording(240, signals=("eda",)), [240.0])


def empty_physio_window() -> list[Any]:
    from emofuse.experts.physio import GROUP_NAMES, PhysioWindow
    from emofuse.experts.physio_features import FEATURES

    nan = np.full(len(FEATURES), np.nan, np.float32)
    return [PhysioWindow(nan, np.zeros(len(GROUP_NAMES), np.float32), (np.zeros_like(nan), np.ones_like(nan)), 5.0)]


#: Input kind (``Expert.needs.input``) → (good inputs as a list, bad inputs each refused with DataError).
BUILDERS: dict[str, tuple[Callable[[], list[Any]], dict[str, Callable[[], Any]]]] = {
    "text": (sentences, {
        "empty item": lambda: ["fine", ""],
        "blank item": lambda: ["fine", "  \n\t"],
    }),
    "waveform": (waveforms, {
        "silent": lambda: [(vowel(1.0), SR), (np.zeros(SR, np.float32), SR)],
        "NaN": lambda: [(np.full(SR, np.nan, np.float32), SR)],
    }),
    "physio_window": (physio_windows, {
        "window without any signal": empty_physio_window,
        "not a window": lambda: [np.zeros(22, np.float32)],
    }),
    "face_crop": (lambda: list(face_crops()), {
        "wrong shape": lambda: np.zeros((2, 48, 47), np.uint8),
        "colour image of another size": lambda: np.zeros((64, 64, 3), np.uint8),
    }),
}

NAMES = EXPERTS.names()
_LOADED: dict[str, Expert] = {}


def expert_for(name: str) -> Expert:
    """Load once per session; skip (with the reason) when the expert's optional backend is missing."""
    if name not in _LOADED:
        try:
            _LOADED[name] = load_expert(name)
        except ImportError as err:
            pytest.skip(f"expert {name}: optional backend not installed ({err})")
    return _LOADED[name]


def good_inputs(name: str) -> list[Any]:
    return BUILDERS[EXPERTS.get(name).needs.input][0]()


def test_every_registered_expert_has_an_input_builder() -> None:
    kinds = {n: EXPERTS.get(n).needs.input for n in NAMES}
    missing = {n: k for n, k in kinds.items() if k not in BUILDERS}
    assert not missing, f"no input builder in this test for experts {missing}: add one to BUILDERS"
    assert all(BUILDERS[k][1] for k in kinds.values()), "every input kind needs bad inputs too"


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("name", NAMES)
def test_calibrated_ekman7_output(name: str) -> None:
    expert = expert_for(name)
    inputs = good_inputs(name)
    out = expert.predict(inputs)
    assert out.expert == name and len(out) == len(inputs)
    assert out.ekman.shape == (len(inputs), 7) and out.ekman.dtype == np.float32
    assert np.isfinite(out.ekman).all() and (out.ekman >= 0).all()
    np.testing.assert_allclose(out.ekman.sum(1), 1.0, atol=1e-5)
    assert out.probs.shape == (len(inputs), len(expert.classes)) and np.isfinite(out.probs).all()
    assert out.ekman_classes == ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
    for k, v in out.info.items():
        assert len(v) == len(inputs), k


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_singles(name: str) -> None:
    expert = expert_for(name)
    inputs = good_inputs(name)
    batch = expert.predict(inputs)
    for i, item in enumerate(inputs):
        one = expert.predict([item])
        np.testing.assert_allclose(one.ekman[0], batch.ekman[i], atol=1e-5, err_msg=f"{name} item {i}")
        np.testing.assert_allclose(one.probs[0], batch.probs[i], atol=1e-5, err_msg=f"{name} item {i}")


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name: str) -> None:
    expert = expert_for(name)
    inputs = good_inputs(name)
    np.testing.assert_array_equal(expert.predict(inputs).ekman, expert.predict(inputs).ekman)


@pytest.mark.parametrize(("name", "case"), [(n, c) for n in NAMES
                                            for c in BUILDERS.get(EXPERTS.get(n).needs.input, (None, {}))[1]])
def test_bad_input_is_refused_with_data_error(name: str, case: str) -> None:
    expert = expert_for(name)
    bad = BUILDERS[EXPERTS.get(name).needs.input][1][case]()
    with pytest.raises(DataError) as info:
        expert.predict(bad)
    assert type(info.value) is DataError, f"{name} ({case}) raised {type(info.value).__name__}, not DataError"
    assert str(info.value)  # says what was wrong
