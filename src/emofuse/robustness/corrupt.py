"""Raw-media corruptions: noise, reverberation, blur, occlusion, compression and word errors.

Every corruption is registered in :data:`CORRUPTIONS` (the single source of names) as a
:class:`Corruption`: a function ``fn(x, level, rng, **context) -> x'`` plus its modality,
severity unit, default levels (mildest first) and a one-line description.
:func:`corrupt` validates the input and the level, seeds a generator and applies it:

* **audio** (1-D float mono wave; ``sample_rate=`` in Hz where needed):
  ``white_noise`` and ``babble_noise`` (SNR in dB w.r.t. the signal's *active* power, see
  :func:`active_power`), ``reverb`` (RT60 in s, a synthetic exponentially decaying noise
  impulse response, :func:`synthetic_rir`; the active power is kept). Outputs are not clipped,
  so the SNR is exact; a wave may leave ``[-1, 1]`` at low SNR.
* **face** (uint8 grey image ``(H, W)`` of any size, e.g. a ``(48, 48)`` crop, or a stack
  ``(N, H, W)`` corrupted image by image): ``blur`` (Gaussian σ in px), ``occlusion`` (fraction
  of the image area covered by one random block; for a face crop the image *is* the face),
  ``downscale`` (factor: shrink, then enlarge back), ``jpeg`` (PIL quality 1–100).
* **text** (a string): ``word_errors`` (word error rate in ``[0, 1]`` from seeded
  substitutions, deletions and insertions; substitutes come from :data:`COMMON_WORDS`).

A ``None`` level is the identity (the clean condition). The same seed gives the same output;
shape and dtype are kept; outputs are NaN-free.

Example:
    >>> import numpy as np
    >>> wave = np.sin(np.linspace(0, 200, 16000)).astype(np.float32)
    >>> noisy = corrupt("white_noise", wave, 10, seed=1)
    >>> noisy.dtype, noisy.shape
    (dtype('float32'), (16000,))
    >>> round(snr_db(wave, noisy - wave))
    10
    >>> corrupt("word_errors", "the cat sat on the mat", None)
    'the cat sat on the mat'
    >>> list_corruptions("face")
    ['blur', 'downscale', 'jpeg', 'occlusion']
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.registry import Registry

__all__ = [
    "COMMON_WORDS",
    "CORRUPTIONS",
    "Corruption",
    "UnknownCorruptionError",
    "active_power",
    "corrupt",
    "get_corruption",
    "list_corruptions",
    "snr_db",
    "synthetic_rir",
    "word_error_rate",
]

#: Modalities a corruption can act on (the row format's ``modality`` values).
CORRUPTION_MODALITIES = ("audio", "face", "text")


class UnknownCorruptionError(UnknownNameError, ConfigError):
    """An unknown corruption name (both a lookup error with close matches and a config error)."""


@dataclass(frozen=True)
class Corruption:
    """One registered corruption.

    Attributes:
        name: Registry name (``"white_noise"``).
        modality: ``"audio"``, ``"face"`` or ``"text"``.
        fn: ``fn(x, level, rng, **context) -> x'`` on one validated input.
        unit: Unit of the severity level (``"dB SNR"``, ``"s RT60"``, ...).
        levels: Default levels, mildest first.
        low, high: Valid level range (inclusive).
        description: One line saying what it does.
        label: Condition text with ``{level}`` (``"white noise {level} dB SNR"``).
        worse_when_lower: Whether a lower level is more severe (SNR, JPEG quality).
    """

    name: str
    modality: str
    fn: Callable[..., Any]
    unit: str
    levels: tuple[float, ...]
    low: float
    high: float
    description: str
    label: str
    worse_when_lower: bool = False

    def check_level(self, level: Any) -> float | None:
        """``level`` as a float inside ``[low, high]`` (``None`` stays ``None``), else :class:`ConfigError`."""
        if level is None:
            return None
        try:
            value = float(level)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(level, bool) or not math.isfinite(value) or not self.low <= value <= self.high:
            raise ConfigError(f"corruption {self.name!r} needs a level in {self.unit} between {self.low:g} and "
                              f"{self.high:g} (or None for clean); got {level!r}")
        return value

    def condition(self, level: float | None) -> str:
        """Human-readable condition: ``"white noise 10 dB SNR"``; ``"clean"`` for ``None``."""
        if level is None:
            return "clean"
        return self.label.format(level=f"{level:g}", pct=f"{100 * level:g}")


class _CorruptionRegistry(Registry[Corruption]):
    def get(self, name: str) -> Corruption:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownCorruptionError(self.kind, name, self._items) from None


CORRUPTIONS: Registry[Corruption] = _CorruptionRegistry("corruption")


def _register(name: str, modality: str, unit: str, levels: Sequence[float], low: float, high: float,
              label: str, *, worse_when_lower: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip().splitlines()
        CORRUPTIONS.add(name, Corruption(name, modality, fn, unit, tuple(float(v) for v in levels), low, high,
                                         doc[0] if doc else name, label, worse_when_lower))
        return fn

    return deco


def get_corruption(name: str) -> Corruption:
    """The corruption called ``name``; unknown names raise :class:`UnknownCorruptionError` (a ConfigError)."""
    return CORRUPTIONS.get(name)


def list_corruptions(modality: str | None = None) -> list[str]:
    """Sorted corruption names, optionally only those of ``modality`` (``"audio"``, ``"face"``, ``"text"``)."""
    if modality is None:
        return CORRUPTIONS.names()
    mod = "audio" if modality == "voice" else modality
    if mod not in CORRUPTION_MODALITIES:
        raise ConfigError(f"unknown modality {modality!r}; corruptions exist for {', '.join(CORRUPTION_MODALITIES)}")
    return [n for n in CORRUPTIONS.names() if CORRUPTIONS.get(n).modality == mod]


def corrupt(name: str, x: Any, level: float | None, *, seed: int = 0, **context: Any) -> Any:
    """Apply corruption ``name`` at severity ``level`` to one input.

    Args:
        name: A registered corruption (:func:`list_corruptions`).
        x: A 1-D float wave (audio), a uint8 ``(H, W)`` image or ``(N, H, W)`` stack (face), or
            a string (text).
        level: Severity in the corruption's unit; ``None`` returns ``x`` unchanged.
        seed: Seed of the random draws (same seed → same output).
        **context: What the corruption needs besides ``x``: ``sample_rate`` (Hz; ``reverb``,
            ``babble_noise``), ``bank`` (``babble_noise``), options such as ``talkers`` or ``fill``.

    Returns:
        The corrupted input, of the same type, shape and dtype as ``x``.

    Raises:
        ConfigError: Unknown name, level outside the valid range, missing context.
        DataError: Input of the wrong type, shape, dtype or with NaN/inf values.
    """
    spec = CORRUPTIONS.get(name)
    lv = spec.check_level(level)
    x = _check_input(spec, x)
    if lv is None:
        return x
    rng = np.random.default_rng(seed)
    if spec.modality == "face" and x.ndim == 3:
        return np.stack([spec.fn(img, lv, rng, **context) for img in x]) if len(x) else x.copy()
    return spec.fn(x, lv, rng, **context)


def _check_input(spec: Corruption, x: Any) -> Any:
    if spec.modality == "text":
        if not isinstance(x, str):
            raise DataError(f"corruption {spec.name!r} reads a text string; got {type(x).__name__}")
        return x
    arr = np.asarray(x)
    if spec.modality == "audio":
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.floating):
            raise DataError(f"corruption {spec.name!r} reads a 1-D float mono wave; got shape {arr.shape} "
                            f"dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise DataError(f"corruption {spec.name!r}: the wave has NaN or infinite samples")
        return arr
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or 0 in arr.shape[-2:]:
        raise DataError(f"corruption {spec.name!r} reads uint8 grey images (H, W) or stacks (N, H, W); got shape "
                        f"{arr.shape} dtype {arr.dtype}")
    return arr


# --------------------------------------------------------------------------------------------- audio

def active_power(wave: np.ndarray, sample_rate: int | None = None, *, floor_db: float = 40.0) -> float:
    """Mean power of the wave's active part (the level an SNR refers to).

    The wave is cut into 20 ms frames (320 samples when ``sample_rate`` is unknown); frames
    within ``floor_db`` dB of the loudest frame are active. Leading/trailing silence or pauses
    therefore do not inflate the SNR, unlike the plain mean power. Returns 0 for a silent wave.
    """
    w = np.asarray(wave, np.float64)
    if w.size == 0:
        return 0.0
    hop = max(1, int(round(0.02 * sample_rate))) if sample_rate else 320
    n = max(1, w.size // hop)
    frames = w[: n * hop].reshape(n, -1) if w.size >= hop else w[None, :]
    p = (frames**2).mean(1)
    if p.max() <= 0:
        return 0.0
    return float(p[p >= p.max() * 10 ** (-floor_db / 10)].mean())


def snr_db(signal: np.ndarray, noise: np.ndarray, sample_rate: int | None = None) -> float:
    """SNR in dB of ``signal`` (active power, :func:`active_power`) over ``noise`` (mean power)."""
    pn = float(np.mean(np.asarray(noise, np.float64) ** 2))
    return 10 * math.log10(active_power(signal, sample_rate) / pn) if pn > 0 else math.inf


def _add_at_snr(x: np.ndarray, noise: np.ndarray, snr: float, sample_rate: int | None) -> np.ndarray:
    ps, pn = active_power(x, sample_rate), float(np.mean(noise**2))
    if ps <= 0 or pn <= 0:  # a silent wave has no level to refer an SNR to: leave it as it is
        return x.copy()
    gain = math.sqrt(ps / (pn * 10 ** (snr / 10)))
    return (x.astype(np.float64) + gain * noise).astype(x.dtype)


@_register("white_noise", "audio", "dB SNR", (30, 20, 10, 5, 0), -20, 100, "white noise {level} dB SNR",
           worse_when_lower=True)
def _white_noise(x: np.ndarray, level: float, rng: np.random.Generator, *, sample_rate: int | None = None,
                 **_: Any) -> np.ndarray:
    """Gaussian white noise at an SNR (dB) w.r.t. the signal's active power."""
    return _add_at_snr(x, rng.standard_normal(x.size), level, sample_rate)


def _bank_wave(item: Any, sample_rate: int | None) -> np.ndarray:
    from scipy.signal import resample_poly

    if isinstance(item, tuple):
        wave, sr = item
        w = np.asarray(wave, np.float64)
        if sample_rate and int(sr) != int(sample_rate):  # a bank recorded at another rate
            g = math.gcd(int(sr), int(sample_rate))
            w = resample_poly(w, int(sample_rate) // g, int(sr) // g)
    else:
        w = np.asarray(item, np.float64)
    if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all():
        raise DataError("babble_noise: every bank item must be a non-empty finite 1-D wave or (wave, sample_rate)")
    return w


@_register("babble_noise", "audio", "dB SNR", (30, 20, 10, 5, 0), -20, 100, "babble noise {level} dB SNR",
           worse_when_lower=True)
def _babble_noise(x: np.ndarray, level: float, rng: np.random.Generator, *, bank: Sequence[Any] | None = None,
                  sample_rate: int | None = None, talkers: int = 4, **_: Any) -> np.ndarray:
    """Babble: ``talkers`` other speech waves from ``bank`` (random offsets, equal levels) summed, at an SNR (dB)."""
    if not bank:
        raise ConfigError("babble_noise needs bank=[wave or (wave, sample_rate), ...]: speech of other talkers")
    if int(talkers) < 1:
        raise ConfigError(f"babble_noise needs talkers >= 1; got {talkers!r}")
    pick = rng.choice(len(bank), size=int(talkers), replace=int(talkers) > len(bank))
    noise = np.zeros(x.size)
    for i in pick:
        w = _bank_wave(bank[int(i)], sample_rate)
        p = active_power(w, sample_rate)
        if p <= 0:
            continue
        # loop the talker to the wave's length from a random start, so short bank items still cover it
        start = int(rng.integers(0, w.size))
        seg = np.take(w, np.arange(start, start + x.size), mode="wrap")
        noise += seg / math.sqrt(p)
    return _add_at_snr(x, noise, level, sample_rate)


def synthetic_rir(rt60: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response ``(L,)``: a direct path plus an exponentially decaying noise tail.

    The tail is Gaussian noise under the envelope ``exp(-6.91 t / rt60)``, whose energy falls by
    60 dB in ``rt60`` seconds (the definition of RT60); it lasts ``1.2 rt60`` s. The direct path
    (1 at t=0) keeps the dry sound audible, as in a room where the talker is near the microphone.
    """
    n = max(2, int(round(1.2 * rt60 * sample_rate)))
    t = np.arange(n) / sample_rate
    h = rng.standard_normal(n) * np.exp(-3 * math.log(10) * t / rt60)
    h[0] = 1.0
    h[1:] *= 1.0 / math.sqrt(np.sum(h[1:] ** 2))  # tail energy = direct energy: a fixed direct-to-reverb ratio
    return h


@_register("reverb", "audio", "s RT60", (0.3, 0.6, 1.0), 0.01, 10, "reverb RT60 {level} s")
def _reverb(x: np.ndarray, level: float, rng: np.random.Generator, *, sample_rate: int | None = None,
            **_: Any) -> np.ndarray:
    """Reverberation: convolution with a synthetic RIR of RT60 (s), active power kept."""
    from scipy.signal import fftconvolve

    if not sample_rate:
        raise ConfigError("reverb needs sample_rate= (Hz) to build an impulse response of a given RT60")
    y = fftconvolve(x.astype(np.float64), synthetic_rir(level, int(sample_rate), rng))[: x.size]
    p_in, p_out = active_power(x, sample_rate), active_power(y, sample_rate)
    if p_out > 0:
        y *= math.sqrt(p_in / p_out)
    return y.astype(x.dtype)


# ---------------------------------------------------------------------------------------------- face

def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@_register("blur", "face", "px σ", (1, 2, 3, 4), 0, 50, "Gaussian blur σ={level} px")
def _blur(x: np.ndarray, level: float, rng: np.random.Generator, **_: Any) -> np.ndarray:
    """Gaussian blur of standard deviation σ (pixels)."""
    from scipy.ndimage import gaussian_filter

    return _to_uint8(gaussian_filter(x.astype(np.float32), sigma=level, mode="nearest"))


@_register("occlusion", "face", "fraction of area", (0.1, 0.25, 0.4, 0.6), 0, 1, "occlusion {pct}% of face")
def _occlusion(x: np.ndarray, level: float, rng: np.random.Generator, *, fill: int = 0, **_: Any) -> np.ndarray:
    """One random block (aspect 1:2..2:1, uniform position) over a fraction of the image area, set to ``fill``."""
    h, w = x.shape
    area = level * h * w
    aspect = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))  # block height / width
    bh = int(np.clip(round(math.sqrt(area * aspect)), 0, h))
    bw = int(np.clip(round(area / bh), 0, w)) if bh else 0
    if bw == w and bh < h:  # a clipped width gives its lost area back to the height
        bh = int(np.clip(round(area / w), 0, h))
    out = x.copy()
    if bh and bw:
        top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        out[top: top + bh, left: left + bw] = np.uint8(np.clip(fill, 0, 255))
    return out


@_register("downscale", "face", "factor", (2, 3, 4, 6), 1, 64, "downscale ×{level}")
def _downscale(x: np.ndarray, level: float, rng: np.random.Generator, **_: Any) -> np.ndarray:
    """Low resolution: shrink by a factor (box filter), then enlarge back (bilinear) to the original size."""
    from PIL import Image

    h, w = x.shape
    img = Image.fromarray(x)
    small = img.resize((max(1, round(w / level)), max(1, round(h / level))), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.uint8).copy()


@_register("jpeg", "face", "quality", (50, 20, 10, 5), 1, 100, "JPEG quality {level}", worse_when_lower=True)
def _jpeg(x: np.ndarray, level: float, rng: np.random.Generator, **_: Any) -> np.ndarray:
    """JPEG compression at a PIL quality (1 worst … 100 best), decoded back."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(x).save(buf, format="JPEG", quality=int(round(level)))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()


# ---------------------------------------------------------------------------------------------- text

#: Substitutes and insertions of ``word_errors``: frequent English words (ASR errors are mostly short words).
COMMON_WORDS = tuple("""
the be to of and a in that have it for not on with he as you do at this but his by from they we say her she
or an will my one all would there their what so up out if about who get which go me when make can like time
no just him know take people into year your good some could them see other than then now look only come its
over think also back after use two how our work first well way even new want because any these give day most
us is was are were been has had did said got made went thing man woman child world life hand part place case
week company system program question government number night point home water room mother area money story
fact month lot right study book eye job word business issue side kind head house service friend father power
hour game line end member law car city community name president team minute idea kid body information school
face others level office door health person art war history party result change morning reason research girl
guy moment air teacher force education yes okay oh really very still much many more here where why off down
""".split())


def _words_of(text: str) -> list[str]:
    return text.split()


def word_error_rate(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    """Word error rate: word-level Levenshtein distance over the number of reference words.

    Strings are split on whitespace; an empty reference gives 0 for an empty hypothesis, else inf.
    """
    ref = _words_of(reference) if isinstance(reference, str) else list(reference)
    hyp = _words_of(hypothesis) if isinstance(hypothesis, str) else list(hypothesis)
    if not ref:
        return 0.0 if not hyp else math.inf
    prev = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):  # one DP row per reference word
        cur = np.empty_like(prev)
        cur[0] = i
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return float(prev[-1]) / len(ref)


def _other_word(rng: np.random.Generator, avoid: set[str]) -> str:
    while True:
        w = COMMON_WORDS[int(rng.integers(len(COMMON_WORDS)))]
        if w not in avoid:
            return w


@_register("word_errors", "text", "WER", (0.1, 0.2, 0.3, 0.5), 0, 1, "word errors WER {level}")
def _word_errors(x: str, level: float, rng: np.random.Generator, *,
                 mix: tuple[float, float, float] = (0.6, 0.2, 0.2), **_: Any) -> str:
    """Word errors at a WER: substitutions, deletions, insertions (``mix`` proportions) at distinct words."""
    words = _words_of(x)
    n = len(words)
    if n == 0 or level == 0:
        return x
    # stochastic rounding: the expected number of errors is exactly level * n, even for short texts
    k = min(n, int(math.floor(level * n)) + int(rng.random() < level * n - math.floor(level * n)))
    if k == 0:
        return x
    p = np.asarray(mix, np.float64)
    if p.shape != (3,) or (p < 0).any() or p.sum() <= 0:
        raise ConfigError(f"word_errors mix must be 3 non-negative proportions (sub, del, ins); got {mix!r}")
    at = np.full(n, -1)
    at[rng.choice(n, size=k, replace=False)] = rng.choice(3, size=k, p=p / p.sum())
    # an insertion followed by a deletion with only substitutions between them is cheaper to align as
    # substitutions (``a [+x] b [-c]`` is 2 edits, not 3). Ordering each run of consecutive edited words
    # as deletions, substitutions, insertions keeps every edit separate, so the achieved WER is the level.
    if (at == 1).all():  # deleting every word leaves nothing to classify: one of them is substituted instead
        at[int(rng.integers(n))] = 0
    edited = np.flatnonzero(at >= 0)
    for run in np.split(edited, np.flatnonzero(np.diff(edited) > 1) + 1):
        at[run] = sorted(at[run].tolist(), key=(1, 0, 2).index)
    out: list[str] = []
    lower = [w.lower() for w in words]
    for i, w in enumerate(words):
        o = int(at[i])
        near = set(lower[max(0, i - 1): i + 2])  # a neighbour-equal substitute could align away the error
        if o == -1:
            out.append(w)
        elif o == 0:
            out.append(_other_word(rng, near))
        elif o == 2:
            out += [w, _other_word(rng, near)]
        # o == 1: deleted
    return " ".join(out)
