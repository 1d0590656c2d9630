"""Voice emotion expert: utterance-level acoustic statistics + a small trained classifier.

``voice-ekman`` reads speech (one utterance per input, about 1-5 s) and returns a
distribution over ``ekman7`` (Ekman 6 + neutral); its native space *is* ``ekman7``, so the
calibrated Ekman view is the same classifier with a temperature fitted on speaker-held-out
validation predictions. It was trained jointly on acted English (RAVDESS) and German
(EmoDB) speech, with RAVDESS *calm* and EmoDB *boredom* mapped to *neutral*
(:mod:`emofuse.labels`). Figures, the training recipe and the reasons for a joint
``ekman7`` model are in ``recipes/voice/README.md`` and the model card.

Features (:func:`utterance_features`, no learned front end, numpy/scipy only):

1. the waveform (16 kHz mono) is level-normalised: divided by the RMS of its loudest frames,
   so recording gain does not matter (relative loudness contours still do);
2. 25 ms / 10 ms frames; *active* frames are those within 40 dB of the loudest (this drops
   the zero padding and leading/trailing silence); statistics use active frames only;
3. per frame: 64 log-mel bands, 20 MFCCs + deltas + delta-deltas, log energy, spectral
   centroid / bandwidth / roll-off / flatness / flux, zero-crossing rate, and a YIN-style
   pitch (60-450 Hz, 50 ms window);
4. per utterance: means and standard deviations of the frame features, percentiles, range
   and slope of pitch (in semitones) and energy, voiced fraction and voiced-segment rate.

The trained head standardises these :data:`N_FEATURES` statistics and applies a linear
layer (multinomial logistic regression) or a one-hidden-layer MLP, as the card says.

Example:
    >>> from emofuse.experts import load_expert
    >>> import numpy as np
    >>> expert = load_expert("voice-ekman")
    >>> t = np.arange(32000) / 16000
    >>> vowel = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12)).astype(np.float32)
    >>> out = expert.predict([(0.1 * vowel, 16000)])
    >>> out.ekman.shape, round(float(out.ekman.sum()), 4)
    ((1, 7), 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.fft import dct
from torch import Tensor, nn

from emofuse.errors import CheckpointError, ConfigError, DataError
from emofuse.experts.base import Expert, ExpertNeeds, read_card, read_weights, register_expert
from emofuse.media.audio import MIN_DURATION_S, check_waveform, estimate_snr_db, load_audio

__all__ = [
    "FEATURE_NAMES",
    "N_FEATURES",
    "SAMPLE_RATE",
    "VoiceEkmanExpert",
    "VoiceHead",
    "VoiceHeadConfig",
    "frame_features",
    "read_waveform",
    "utterance_features",
]

SAMPLE_RATE = 16000
_WIN, _HOP, _NFFT = 400, 160, 512
_N_MELS, _N_MFCC = 64, 20
_FMIN, _FMAX = 50.0, 8000.0
_F0_MIN, _F0_MAX, _F0_WIN, _YIN_THRESHOLD = 60.0, 450.0, 800, 0.2
_ACTIVE_DB = 40.0


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@lru_cache(maxsize=1)
def _mel_filterbank() -> np.ndarray:
    """``(n_fft/2+1, n_mels)`` triangular HTK-mel filters, area-normalised (Slaney style)."""
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, _NFFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(_FMIN)), _hz_to_mel(np.array(_FMAX)), _N_MELS + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lo) / (mid - lo)
    down = (hi - freqs[None, :]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return fb.T.astype(np.float64)


def _frames(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    """``(n_frames, win)`` frames of ``x`` (centred: ``x`` is padded by ``win // 2`` each side)."""
    x = np.pad(x, (win // 2, win // 2))
    n = 1 + max(0, (x.shape[0] - win) // hop)
    return np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]


def _deltas(f: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas along time of ``(T, D)`` features (edges repeated)."""
    t = f.shape[0]
    p = np.pad(f, ((width, width), (0, 0)), mode="edge")
    num = sum(k * (p[width + k:width + k + t] - p[width - k:width - k + t]) for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def _pitch(x: np.ndarray, n_frames: int, mask: np.ndarray | None = None) -> np.ndarray:
    """YIN-style f0 per 10 ms frame in Hz (0 where unvoiced), ``(n_frames,)``.

    ``mask`` (``(n_frames,)`` bool): frames to analyse; the others get 0 without the cost (silence
    padding around an utterance is most of a short segment's frames).
    """
    fr = _frames(x, _F0_WIN, _HOP)[:n_frames].astype(np.float64)
    if mask is not None:
        out = np.zeros(len(fr))
        keep = np.asarray(mask[:len(fr)], bool)
        if keep.any():
            out[keep] = _pitch_frames(fr[keep])
        return out
    return _pitch_frames(fr)


def _pitch_frames(fr: np.ndarray) -> np.ndarray:
    fr = fr - fr.mean(1, keepdims=True)
    tau_min, tau_max = int(SAMPLE_RATE / _F0_MAX), int(SAMPLE_RATE / _F0_MIN)
    spec = np.fft.rfft(fr, n=2048, axis=1)
    r = np.fft.irfft(np.abs(spec) ** 2, n=2048, axis=1)[:, :tau_max + 2]
    d = 2.0 * (r[:, :1] - r)  # difference function (stationary approximation)
    d[:, 0] = 0.0
    cum = np.cumsum(d[:, 1:], axis=1) / np.arange(1, d.shape[1])
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] / np.maximum(cum, 1e-12)
    seg = cmnd[:, tau_min:tau_max + 1]
    below = seg < _YIN_THRESHOLD
    first = below.argmax(1)
    # refine: the local minimum in the 1.5x neighbourhood after the first crossing
    lags = np.arange(seg.shape[1])
    window = (lags[None, :] >= first[:, None]) & (lags[None, :] <= (first[:, None] * 1.5 + tau_min // 2))
    best = np.where(window, seg, np.inf).argmin(1)
    f0 = SAMPLE_RATE / (best + tau_min).astype(np.float64)
    return np.where(below.any(1), f0, 0.0)


def frame_features(wave: np.ndarray) -> dict[str, np.ndarray]:
    """Frame-level features of a 16 kHz mono waveform (after level normalisation).

    Returns:
        Dict of arrays with ``T`` rows (10 ms hop): ``logmel`` ``(T, 64)``, ``mfcc`` ``(T, 20)``,
        ``energy_db`` ``(T,)``, ``centroid``, ``bandwidth``, ``rolloff``, ``flatness``, ``flux``,
        ``zcr``, ``f0`` (Hz, 0 = unvoiced) ``(T,)`` and the boolean ``active`` mask ``(T,)``.
    """
    x = np.asarray(wave, dtype=np.float64)
    fr = _frames(x, _WIN, _HOP)
    energy = np.sqrt((fr ** 2).mean(1) + 1e-12)
    # level normalisation: divide by the RMS of the loudest 10% of frames
    top = np.sort(energy)[-max(1, len(energy) // 10):]
    gain = 1.0 / max(float(np.sqrt((top ** 2).mean())), 1e-8)
    x, fr, energy = x * gain, fr * gain, energy * gain
    energy_db = 20.0 * np.log10(energy + 1e-6)
    active = energy_db > energy_db.max() - _ACTIVE_DB
    window = np.hanning(_WIN + 1)[:-1]
    power = np.abs(np.fft.rfft(fr * window, n=_NFFT, axis=1)) ** 2  # (T, 257)
    mel = power @ _mel_filterbank()
    logmel = np.log(mel + 1e-6)
    mfcc = dct(logmel, type=2, norm="ortho", axis=1)[:, :_N_MFCC]
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, _NFFT // 2 + 1)
    psum = power.sum(1) + 1e-12
    centroid = (power * freqs).sum(1) / psum
    bandwidth = np.sqrt((power * (freqs[None, :] - centroid[:, None]) ** 2).sum(1) / psum)
    rolloff = freqs[np.minimum((np.cumsum(power, 1) < 0.85 * psum[:, None]).sum(1), len(freqs) - 1)]
    flatness = np.exp(np.log(power + 1e-12).mean(1)) / (power.mean(1) + 1e-12)
    mag = np.sqrt(power)
    magn = mag / (mag.sum(1, keepdims=True) + 1e-12)
    flux = np.r_[0.0, np.sqrt((np.diff(magn, axis=0) ** 2).sum(1))]
    zcr = (np.abs(np.diff(np.signbit(fr).astype(np.int8), axis=1)).sum(1)) / _WIN
    f0 = _pitch(x, fr.shape[0], mask=active)  # 0 outside the active frames, as before, computed only inside
    return {"logmel": logmel, "mfcc": mfcc, "energy_db": energy_db, "centroid": centroid / 1000.0,
            "bandwidth": bandwidth / 1000.0, "rolloff": rolloff / 1000.0, "flatness": flatness, "flux": flux,
            "zcr": zcr, "f0": f0, "active": active}


def _stats(v: np.ndarray) -> list[float]:
    return [float(v.mean()), float(v.std())]


def _contour(v: np.ndarray) -> list[float]:
    """Mean, std, 10/50/90th percentile, 90-10 range, slope (per s), mean |delta| of a contour."""
    if v.size < 2:
        return [float(v.mean()) if v.size else 0.0] + [0.0] * 7
    p10, p50, p90 = np.percentile(v, [10, 50, 90])
    t = np.arange(v.size) * (_HOP / SAMPLE_RATE)
    slope = float(np.polyfit(t, v, 1)[0]) if np.ptp(t) > 0 else 0.0
    return [float(v.mean()), float(v.std()), float(p10), float(p50), float(p90), float(p90 - p10), slope,
            float(np.abs(np.diff(v)).mean())]


def _feature_names() -> tuple[str, ...]:
    names = [f"logmel{i}_{s}" for s in ("mean", "std") for i in range(_N_MELS)]
    for kind in ("mfcc", "dmfcc", "ddmfcc"):
        names += [f"{kind}{i}_{s}" for s in ("mean", "std") for i in range(_N_MFCC)]
    for k in ("centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr"):
        names += [f"{k}_mean", f"{k}_std"]
    contour = ("mean", "std", "p10", "p50", "p90", "range", "slope", "absdelta")
    names += [f"energy_{s}" for s in contour] + [f"f0st_{s}" for s in contour]
    names += ["voiced_fraction", "voiced_segments_per_s", "active_fraction"]
    return tuple(names)


#: Names of the utterance statistics, in column order.
FEATURE_NAMES = _feature_names()
N_FEATURES = len(FEATURE_NAMES)


def utterance_features(wave: np.ndarray) -> np.ndarray:
    """Utterance statistics ``(N_FEATURES,)`` float32 of a 16 kHz mono waveform ``(T,)``.

    Statistics use the active (non-silent) frames; see the module docstring.
    """
    f = frame_features(wave)
    act = f["active"]
    if act.sum() < 3:
        act = np.ones_like(act)
    mfcc = f["mfcc"][act]
    d1 = _deltas(f["mfcc"])[act]
    d2 = _deltas(_deltas(f["mfcc"]))[act]
    out: list[float] = []
    for m in (f["logmel"][act], mfcc, d1, d2):
        out += m.mean(0).tolist() + m.std(0).tolist()
    for k in ("centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr"):
        out += _stats(f[k][act])
    out += _contour(f["energy_db"][act])
    voiced = f["f0"] > 0
    semitones = 12.0 * np.log2(f["f0"][voiced] / 100.0) if voiced.any() else np.zeros(0)
    out += _contour(semitones)
    edges = np.diff(np.r_[0, voiced.astype(np.int8), 0])
    n_seg = int((edges == 1).sum())
    active_s = act.sum() * _HOP / SAMPLE_RATE
    out += [float(voiced.sum() / max(act.sum(), 1)), n_seg / max(active_s, 1e-3), float(act.mean())]
    vec = np.asarray(out, dtype=np.float32)
    return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0)


# --------------------------------------------------------------------------- the head


@dataclass(frozen=True)
class VoiceHeadConfig:
    """Shape of a voice head (stored in the model card).

    Attributes:
        n_features: Input statistics (:data:`N_FEATURES`).
        hidden: Width of the hidden layer; ``0`` = multinomial logistic regression.
        num_labels: Output classes (7 for ``ekman7``).
    """

    n_features: int = N_FEATURES
    hidden: int = 0
    num_labels: int = 7

    def __post_init__(self) -> None:
        if self.n_features < 1 or self.hidden < 0 or self.num_labels < 2:
            raise ConfigError(f"voice head config: invalid sizes {self}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VoiceHeadConfig:
        """Build from a card dict, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"voice head config: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


class VoiceHead(nn.Module):
    """Standardisation + linear layer or one-hidden-layer MLP on utterance statistics.

    Shapes: ``(B, n_features)`` → logits ``(B, num_labels)``.
    """

    def __init__(self, config: VoiceHeadConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.zeros(config.n_features))
        self.register_buffer("scale", torch.ones(config.n_features))
        if config.hidden:
            self.net = nn.Sequential(nn.Linear(config.n_features, config.hidden), nn.ReLU(),
                                     nn.Linear(config.hidden, config.num_labels))
        else:
            self.net = nn.Sequential(nn.Linear(config.n_features, config.num_labels))

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the native classes."""
        return self.net((x - self.mean) / self.scale)


def _as_items(inputs: Any) -> list[Any]:
    if isinstance(inputs, (str, Path)) or (isinstance(inputs, tuple) and len(inputs) == 2
                                           and isinstance(inputs[1], (int, np.integer))
                                           and not isinstance(inputs[0], (str, Path))):
        return [inputs]
    if isinstance(inputs, np.ndarray):
        raise DataError("voice expert: a bare array has no sample rate; pass (waveform, sample_rate) or a list "
                        "of such pairs, or audio file paths")
    if not isinstance(inputs, Sequence) or isinstance(inputs, (bytes, bytearray)):
        raise DataError(f"voice expert: expected an audio path, a (waveform, sample_rate) pair or a list of "
                        f"them, got {type(inputs).__name__}")
    items = list(inputs)
    if not items:
        raise DataError("voice expert: got an empty list of inputs")
    return items


def read_waveform(item: Any, index: int = 0, min_duration: float = MIN_DURATION_S) -> np.ndarray:
    """One voice-expert input (audio path or ``(waveform, sample_rate)``) → 16 kHz mono float32.

    Raises:
        DataError: Not a path or a pair, or audio that is empty, too short, silent or non-finite.
        MissingFileError: A path that does not exist.
    """
    if isinstance(item, (str, Path)):
        return load_audio(item, SAMPLE_RATE, min_duration=min_duration)[0]
    if isinstance(item, tuple) and len(item) == 2:
        return check_waveform(item[0], item[1], target_sr=SAMPLE_RATE, min_duration=min_duration,
                              name=f"input {index}")
    raise DataError(f"input {index}: expected an audio path or a (waveform, sample_rate) pair, "
                    f"got {type(item).__name__}")

@register_expert
class VoiceEkmanExpert(Expert):
    """Speech emotion expert over ``ekman7`` (acoustic statistics + trained head).

    Args:
        head: The trained :class:`VoiceHead` (eval mode).
        card: Its model card.
        min_duration: Shortest utterance accepted, in seconds.

    Inputs of :meth:`predict`: an audio file path, a ``(waveform, sample_rate)`` pair, or a
    list of them. Waveforms may be ``(T,)`` mono or ``(C, T)`` multichannel at any rate (they
    are averaged to mono and resampled to 16 kHz). Empty, too short (< 0.25 s), silent or
    non-finite audio raises :class:`~emofuse.errors.DataError`. ``info["duration_s"]`` gives
    each input's duration, ``info["voiced_fraction"]`` the share of active frames with pitch,
    ``info["snr_db"]`` a blind SNR estimate (:func:`emofuse.media.audio.estimate_snr_db`).
    """

    name = "voice-ekman"
    modality = "audio"
    label_space = "ekman7"
    multilabel = False
    needs = ExpertNeeds(input="waveform", sample_rate=SAMPLE_RATE)
    description = "Ekman 6 + neutral from speech (acoustic utterance statistics + linear head; RAVDESS + EmoDB)"

    def __init__(self, head: VoiceHead, card: dict[str, Any], *, min_duration: float = MIN_DURATION_S) -> None:
        super().__init__(card)
        self.head = head.eval()
        self.min_duration = float(min_duration)
        sr = int(card["preprocessing"].get("sample_rate", SAMPLE_RATE))
        if sr != SAMPLE_RATE or int(card["preprocessing"].get("n_features", N_FEATURES)) != N_FEATURES:
            raise CheckpointError(f"voice expert card expects sample_rate={sr} and n_features="
                                  f"{card['preprocessing'].get('n_features')}; this emofuse computes "
                                  f"{N_FEATURES} features at {SAMPLE_RATE} Hz")

    @classmethod
    def from_dir(cls, directory: str | Path, **kwargs: Any) -> VoiceEkmanExpert:
        """Load head + card from ``directory`` (strict, safetensors only)."""
        card = read_card(directory)
        if card["name"] != cls.name:
            raise CheckpointError(f"{directory}: card is for expert {card['name']!r}, not {cls.name!r}")
        head = VoiceHead(VoiceHeadConfig.from_dict(card["head"]["config"]))
        read_weights(directory, head)
        return cls(head, card, **kwargs)

    def waveform(self, item: Any, index: int = 0) -> np.ndarray:
        """One input (path or ``(waveform, sr)``) → validated 16 kHz mono float32 waveform."""
        return read_waveform(item, index, self.min_duration)

    def features(self, inputs: Any) -> np.ndarray:
        """Utterance statistics ``(N, N_FEATURES)`` of the inputs."""
        return np.stack([utterance_features(self.waveform(it, i)) for i, it in enumerate(_as_items(inputs))])

    @torch.inference_mode()
    def _forward(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None, dict[str, list[Any]]]:
        waves = [self.waveform(it, i) for i, it in enumerate(_as_items(inputs))]
        feats = np.stack([utterance_features(w) for w in waves])
        logits = self.head(torch.from_numpy(feats)).double().numpy()
        vf = FEATURE_NAMES.index("voiced_fraction")
        info = {"duration_s": [round(len(w) / SAMPLE_RATE, 3) for w in waves],
                "voiced_fraction": [round(float(f[vf]), 3) for f in feats],
                "snr_db": [round(estimate_snr_db(w, SAMPLE_RATE), 1) for w in waves]}
        return logits, logits.copy(), info
