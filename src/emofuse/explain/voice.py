"""Which stretch of speech the voice expert read its emotion from, and what the voice sounded like.

:func:`voice_occlusion` explains the calibrated Ekman probability that a voice expert's
``predict([(wave, sr)])`` returns by occlusion over time (Zeiler & Fergus, ECCV 2014, applied to
audio): a window of ``window_s`` seconds, moved by ``hop_s``, is set to silence, and the drop of
the target probability says how much the expert relied on that stretch. It only needs the
expert's ``predict``, so it works for every voice expert (``voice-whisper``, ``voice-ekman``, a
stub), and all occluded copies go through one batched ``predict`` call.

:func:`prosody_summary` says what the voice sounded like, in plain acoustic numbers (median pitch,
pitch range, level, voicing, an energy-peak rate), from the frame features of
:func:`emofuse.experts.voice.frame_features`.

:func:`voice_deletion_curve` checks that the occlusion map means something: silencing the
highest-scored stretches should lower the target probability more than silencing as much random
time.

Example:
    >>> import numpy as np
    >>> t = np.arange(32000) / 16000
    >>> vowel = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12)).astype(np.float32)
    >>> round(prosody_summary(0.1 * vowel, 16000)["pitch_median_hz"])
    140
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.experts.base import ExpertOutput
from emofuse.experts.voice import SAMPLE_RATE, frame_features
from emofuse.explain.deletion import check_deletion_args, deletion_result
from emofuse.media.audio import SILENCE_PEAK, check_waveform

__all__ = ["SILENT_FLOOR_DB", "prosody_summary", "voice_deletion_curve", "voice_occlusion"]

#: Frames quieter than this (dB re full scale, RMS of a 25 ms frame) are silence whatever the
#: level normalisation of :func:`frame_features` makes of them (it would turn digital silence into
#: "loud" frames with a spurious pitch).
SILENT_FLOOR_DB = -70.0
_HOP_S = 0.010  # frame hop of frame_features
_RATE_DB = 25.0  # frames counted for the rate: within this of the loudest
_WIN = 400  # its frame length at 16 kHz (25 ms)
_N_CLASSES = len(ExpertOutput.ekman_classes)


def _check_expert(expert: Any) -> Any:
    if not callable(getattr(expert, "predict", None)):
        raise TypeError(f"voice explanations need an expert with predict([(wave, sr), ...]), got "
                        f"{type(expert).__name__}")
    modality = getattr(expert, "modality", "audio")
    if modality not in ("audio", "voice", "speech"):
        raise ConfigError(f"voice explanations need a voice expert, got {getattr(expert, 'name', '?')!r} "
                          f"(modality {modality!r})")
    return expert


def _wave(wave: Any, sample_rate: Any, name: str = "voice explanation") -> np.ndarray:
    """Validated mono float32 waveform at its own rate (``DataError`` on NaN, wrong type or shape)."""
    if not isinstance(wave, np.ndarray):
        raise DataError(f"{name}: expected the waveform as a numpy array, got {type(wave).__name__}")
    return check_waveform(wave, sample_rate, min_duration=0.0, allow_silent=True, name=name)


def _target(target: str | None, predicted: int) -> int:
    classes = ExpertOutput.ekman_classes
    if target is None:
        return int(predicted)
    if target not in classes:
        raise ConfigError(str(UnknownNameError("Ekman class (target)", str(target), classes)))
    return classes.index(target)


def _predict(expert: Any, waves: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """``(len(waves), 7)`` Ekman probabilities in one ``predict`` call.

    A copy with no sound left (every sample silenced) is not sent: the experts refuse silent audio,
    and silence carries no evidence, so its row is the uniform distribution.
    """
    out = np.full((len(waves), _N_CLASSES), 1.0 / _N_CLASSES)
    live = [i for i, w in enumerate(waves) if w.size and float(np.abs(w).max()) > SILENCE_PEAK]
    if live:
        ek = np.asarray(expert.predict([(waves[i], int(sample_rate)) for i in live]).ekman, dtype=np.float64)
        if ek.shape != (len(live), _N_CLASSES):
            raise ConfigError(f"voice explanations: expert {getattr(expert, 'name', '?')!r} returned Ekman "
                              f"probabilities of shape {ek.shape}, expected ({len(live)}, {_N_CLASSES})")
        out[live] = ek
    return out


def _windows(n: int, sample_rate: int, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """Sample spans ``[a, b)`` of the occlusion windows: every ``hop_s``, the last one flush with the end."""
    win, hop = max(1, round(window_s * sample_rate)), max(1, round(hop_s * sample_rate))
    if n <= win:
        return [(0, n)]
    starts = list(range(0, n - win + 1, hop))
    if starts[-1] + win < n:  # cover the tail too
        starts.append(n - win)
    return [(a, a + win) for a in starts]


def _check_windows(window_s: float, hop_s: float) -> None:
    if not (np.isfinite(window_s) and np.isfinite(hop_s) and window_s > 0 and 0 < hop_s <= window_s):
        raise ConfigError(f"voice occlusion: need window_s > 0 and 0 < hop_s <= window_s, got window_s={window_s}, "
                          f"hop_s={hop_s}")


def voice_occlusion(expert: Any, wave: np.ndarray, sample_rate: int, *, target: str | None = None,
                    window_s: float = 0.4, hop_s: float = 0.2,
                    span: tuple[float, float] | None = None) -> dict[str, Any]:
    """Occlusion over time of a voice expert's calibrated Ekman probability.

    Args:
        expert: A voice expert (anything with ``predict([(wave, sr), ...])`` returning ``.ekman``
            ``(N, 7)``).
        wave: ``(T,)`` mono waveform (or ``(C, T)``, averaged), any float/int dtype.
        sample_rate: Its rate, Hz (the expert resamples as it always does).
        target: Ekman class explained; ``None``: the predicted class.
        window_s: Length of the silenced window, seconds.
        hop_s: Step between windows, seconds (windows overlap when ``hop_s < window_s``; the last
            window ends at the end of the wave).
        span: ``(start, end)`` seconds from the wave's first sample: only the windows that overlap
            it are silenced and reported (e.g. the speech inside silence padding, which would cost
            an expert pass per window and say nothing). The windows are the same as without it.

    Returns:
        ``{"method": "occlusion", "target": class, "prob": its probability for the whole wave,
        "window_s", "hop_s", "stretches": [{"start", "end", "drop"}], "top": the stretch of largest
        drop}``; ``start``/``end`` in seconds from the wave's first sample, time order; ``drop`` =
        ``prob`` minus the probability with that stretch silenced (probability units; negative =
        the stretch spoke against the target). Audio no longer than one window gives one stretch
        over all of it (the whole wave silenced: the uniform 1/7 stands for "no evidence").

    Raises:
        DataError: Not a numpy array, NaN/inf samples, empty audio, a bad sample rate, or whatever
            the expert refuses in the full wave (too short, silent).
        ConfigError: A target that is not an Ekman class, bad window settings, or an expert whose
            ``predict`` does not return ``(N, 7)`` Ekman probabilities.
        TypeError: An object without ``predict``.
    """
    expert = _check_expert(expert)
    _check_windows(float(window_s), float(hop_s))
    x = _wave(wave, sample_rate)
    sr = int(sample_rate)
    spans = _windows(len(x), sr, float(window_s), float(hop_s))
    if span is not None:
        lo, hi = float(span[0]) * sr, float(span[1]) * sr
        if not hi > lo:
            raise ConfigError(f"voice occlusion: span must be (start, end) with end > start; got {span!r}")
        spans = [(a, b) for a, b in spans if b > lo and a < hi] or spans
    copies = [x]
    for a, b in spans:
        c = x.copy()
        c[a:b] = 0.0
        copies.append(c)
    # the full wave goes through predict on its own first: a refusal (too short, silent) is the
    # user's input problem and must surface as such, not be masked by the silent-copy rule
    full = np.asarray(expert.predict([(x, sr)]).ekman, dtype=np.float64)
    if full.shape != (1, _N_CLASSES):
        raise ConfigError(f"voice explanations: expert {getattr(expert, 'name', '?')!r} returned Ekman "
                          f"probabilities of shape {full.shape}, expected (1, {_N_CLASSES})")
    k = _target(target, int(full[0].argmax()))
    occluded = _predict(expert, copies[1:], sr)[:, k]
    p = float(full[0, k])
    stretches = [{"start": a / sr, "end": b / sr, "drop": p - float(q)}
                 for (a, b), q in zip(spans, occluded, strict=True)]
    top = max(stretches, key=lambda s: s["drop"])
    return {"method": "occlusion", "target": ExpertOutput.ekman_classes[k], "prob": p,
            "window_s": float(window_s), "hop_s": float(hop_s), "stretches": stretches, "top": dict(top)}


def prosody_summary(wave: np.ndarray, sample_rate: int) -> dict[str, float | None]:
    """Plain acoustic description of a stretch of speech (pitch, level, voicing, rate).

    Computed on the 10 ms frames of :func:`emofuse.experts.voice.frame_features` (16 kHz, YIN pitch
    60-450 Hz). Active frames are those within 40 dB of the loudest and above
    :data:`SILENT_FLOOR_DB`; voiced frames are active frames with a pitch.

    Args:
        wave: ``(T,)`` mono waveform (any float/int dtype), at least one 25 ms frame.
        sample_rate: Its rate, Hz.

    Returns:
        ``pitch_median_hz``: median f0 of the voiced frames (Hz; ``None`` when no frame is voiced);
        ``pitch_range_semitones``: 10th-90th percentile range of f0 over the voiced frames, in
        semitones (``None`` when unvoiced); ``energy_db``: mean level of the active frames in dB
        re full scale (frame RMS; all frames when none is active); ``voiced_fraction``: voiced
        frames / active frames (0 for silence); ``rate_per_s``: a syllable-rate proxy (after De Jong
        & Wempe 2009): peaks of the 50 ms-smoothed frame level, at least 3 dB above the dips around
        them and 100 ms apart, on frames within 25 dB of the loudest, per second of the span from
        the first to the last such frame (so silence padding does not dilute it). Acted sentences
        (RAVDESS) give about 4-6 per second; a steady tone about 0, silence 0.

    Raises:
        DataError: Not a numpy array, NaN/inf samples, shorter than one 25 ms frame, or a bad rate.
    """
    from scipy.signal import find_peaks

    x = _wave(wave, sample_rate, name="prosody summary")
    x = check_waveform(x, int(sample_rate), target_sr=SAMPLE_RATE, min_duration=0.0, allow_silent=True,
                       name="prosody summary")
    if len(x) < _WIN:
        raise DataError(f"prosody summary: audio too short ({len(x) / SAMPLE_RATE:.3f} s; at least "
                        f"{_WIN / SAMPLE_RATE:.3f} s needed)")
    ff = frame_features(x)
    # absolute level of each frame (frame_features reports it relative to the loudest frames)
    padded = np.pad(x.astype(np.float64), (_WIN // 2, _WIN // 2))
    fr = np.lib.stride_tricks.sliding_window_view(padded, _WIN)[::160][:len(ff["f0"])]
    level = 10.0 * np.log10((fr ** 2).mean(1) + 1e-12)
    active = ff["active"] & (level > SILENT_FLOOR_DB)
    voiced = active & (ff["f0"] > 0)
    f0 = ff["f0"][voiced]
    if f0.size:
        p10, p50, p90 = np.percentile(f0, [10, 50, 90])
        median, spread = float(p50), float(12.0 * np.log2(p90 / p10))
    else:
        median = spread = None
    energy = float(level[active].mean() if active.any() else level.mean())
    # syllable nuclei ~ level peaks of the louder frames (the pitch tracker is too strict on real
    # speech to require voicing), counted per second of the speech span, not of the padding
    loud = active & (level > level.max() - _RATE_DB)
    rate = 0.0
    if loud.any():
        smooth = np.convolve(level, np.ones(5) / 5.0, mode="same")
        peaks, _ = find_peaks(smooth, prominence=3.0, distance=10)
        idx = np.flatnonzero(loud)
        rate = int(loud[peaks].sum()) / ((idx[-1] - idx[0] + 1) * _HOP_S)
    return {"pitch_median_hz": median, "pitch_range_semitones": spread, "energy_db": energy,
            "voiced_fraction": float(voiced.sum() / active.sum()) if active.any() else 0.0,
            "rate_per_s": float(rate)}


def voice_deletion_curve(expert: Any, items: Sequence[tuple[np.ndarray, int]], *,
                         fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.5),
                         targets: Sequence[str | None] | None = None, seed: int = 0, n_random: int = 5,
                         window_s: float = 0.4, hop_s: float = 0.2) -> dict[str, Any]:
    """Deletion test of the occlusion maps: silence the top-scored time vs random time, see the drop.

    Each wave is cut into cells of ``hop_s`` seconds; a cell's score is the mean occlusion drop
    (:func:`voice_occlusion`) of the windows that overlap it. For each fraction ``f`` the
    ``k = max(1, round(f · n_cells))`` cells of highest score are silenced and, as the baseline,
    ``n_random`` draws of ``k`` random cells are. The drop is the full wave's target probability
    minus that of the silenced copy (all copies of one wave in one ``predict`` call).

    Args:
        expert: A voice expert.
        items: ``(wave, sample_rate)`` pairs.
        fractions: Fractions of each wave's cells to silence, each in (0, 1].
        targets: Ekman class per wave (``None``: predicted).
        seed: Seed of the random cells.
        n_random: Random draws per wave and fraction.
        window_s: Occlusion window, seconds.
        hop_s: Occlusion hop and cell length, seconds.

    Returns:
        ``{"fractions": [f, ...], "top": [mean drop, ...], "random": [mean drop, ...], "top_std":
        [...], "random_std": [...], "n_items": N, "target_prob_full": mean target probability of
        the full waves, "mean_cells": mean cells per wave}``; drops are probabilities (0..1)
        averaged over waves (and random draws), ``*_std`` their spread over waves.

    Raises:
        DataError: Bad waves (as :func:`voice_occlusion`), or no items.
        ConfigError: A fraction outside (0, 1], ``n_random`` < 1, bad targets or windows.
    """
    fr = check_deletion_args("voice_deletion_curve", fractions, n_random)
    items = list(items)
    if not items:
        raise DataError("voice_deletion_curve: got no items")
    if targets is not None and len(targets) != len(items):
        raise ConfigError(f"voice_deletion_curve: got {len(targets)} targets for {len(items)} items")
    rng = np.random.default_rng(seed)
    top = np.zeros((len(items), len(fr)))
    rand = np.zeros((len(items), len(fr)))
    p_full, cells_n = [], []
    for i, (wave, sr) in enumerate(items):
        occ = voice_occlusion(expert, wave, sr, target=None if targets is None else targets[i],
                              window_s=window_s, hop_s=hop_s)
        k_cls = ExpertOutput.ekman_classes.index(occ["target"])
        x = _wave(wave, sr)
        cell = max(1, round(float(hop_s) * int(sr)))
        edges = list(range(0, len(x), cell)) + [len(x)]
        spans = list(zip(edges[:-1], edges[1:], strict=True))
        score = np.array([np.mean([s["drop"] for s in occ["stretches"]
                                   if s["start"] * sr < b and s["end"] * sr > a] or [0.0]) for a, b in spans])
        n = len(spans)
        cells_n.append(n)
        order = np.argsort(-score, kind="stable")
        copies, ks = [], [max(1, round(f * n)) for f in fr]

        def silenced(cells: Sequence[int], x: np.ndarray = x, spans: list = spans) -> np.ndarray:
            c = x.copy()
            for j in cells:
                c[spans[j][0]:spans[j][1]] = 0.0
            return c

        for k in ks:
            copies.append(silenced(order[:k]))
            copies.extend(silenced(rng.permutation(n)[:k]) for _ in range(int(n_random)))
        q = _predict(expert, copies, int(sr))[:, k_cls].reshape(len(fr), 1 + int(n_random))
        p_full.append(occ["prob"])
        top[i] = occ["prob"] - q[:, 0]
        rand[i] = (occ["prob"] - q[:, 1:]).mean(1)
    return deletion_result(fr, top, rand, np.asarray(p_full), mean_cells=float(np.mean(cells_n)))
