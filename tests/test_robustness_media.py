"""The analysis with one modality corrupted (emofuse.robustness.media): what each expert reads, nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from emofuse.errors import ConfigError
from emofuse.experts.base import ExpertNeeds
from emofuse.robustness.media import CorruptedExpert, corrupting_resources


class Loudness:
    """A fake voice expert: anger when loud noise-like energy is high, else neutral; records what it read."""

    name, modality, needs = "fake-voice", "audio", ExpertNeeds(input="audio", shared=("whisper",))

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def predict(self, inputs, *, shared=None):  # noqa: ANN001, ANN201
        from types import SimpleNamespace

        rows = []
        for w, _ in inputs:
            self.seen.append(np.asarray(w))
            hf = float(np.mean(np.abs(np.diff(w))))  # white noise raises sample-to-sample change
            rows.append([0.9, 0, 0, 0, 0, 0.1, 0] if hf > 0.05 else [0.1, 0, 0, 0, 0, 0.9, 0])
        return SimpleNamespace(ekman=np.asarray(rows, np.float32))


def tone() -> np.ndarray:
    t = np.arange(16000) / 16000
    return (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def test_corrupted_expert_corrupts_its_inputs_deterministically_and_reads_them_afresh() -> None:
    base = Loudness()
    clean = base.predict([(tone(), 16000)]).ekman
    wrapped = CorruptedExpert(base, "white_noise", 0.0, seed=3)
    assert wrapped.needs.shared == () and wrapped.name == "fake-voice"  # no clean shared pass reused
    noisy = wrapped.predict([(tone(), 16000)], shared={"whisper": ["clean pass"]}).ekman
    assert clean.argmax() == 5 and noisy.argmax() == 0  # 0 dB noise flips the fake expert
    snr = 10 * np.log10(np.mean(tone() ** 2) / np.mean((base.seen[-1] - tone()) ** 2))
    assert abs(snr) < 1.0
    again = CorruptedExpert(Loudness(), "white_noise", 0.0, seed=3)
    again.predict([(tone(), 16000)])
    assert np.array_equal(again._expert.seen[-1], base.seen[-1])  # same seed, same corruption
    assert np.array_equal(CorruptedExpert(base, "white_noise", None).predict([(tone(), 16000)]).ekman, clean)


def test_a_corruption_for_another_modality_is_refused() -> None:
    with pytest.raises(ConfigError, match="for face"):
        CorruptedExpert(Loudness(), "blur", 2.0)


def test_only_the_chosen_modality_is_corrupted_in_a_real_analysis() -> None:
    import emofuse

    text = "I am so furious and angry at you right now, this is outrageous!"
    clean = emofuse.analyze(text=text)
    res = corrupting_resources("text", "word_errors", 0.8, seed=1)
    hit = emofuse.analyze(text=text, resources=res)
    assert hit.segments[0].text == clean.segments[0].text  # the words shown are the words given
    assert hit.segments[0].modalities["text"].probs != clean.segments[0].modalities["text"].probs
    spared = emofuse.analyze(text=text, resources=corrupting_resources("face", "blur", 4.0))
    assert spared.segments[0].probs == clean.segments[0].probs  # corrupting the face leaves text alone
