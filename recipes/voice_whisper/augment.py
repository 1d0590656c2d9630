"""Recording-condition augmentation of the ``voice-whisper`` training files, and its feature cache.

Each file draws, per augmented copy, one seeded random condition (labels kept):

* white or pink (1/f) noise at 5-30 dB SNR, babble of 3-6 OTHER speakers of the same corpus at
  10-30 dB (bank: 4 files per speaker; RAVDESS bank from actors 01-14 only, so the validation actors
  15-18 are never heard in training), reverberation RT60 0.2-1.2 s (the library's registered
  corruptions, :mod:`emofuse.robustness.corrupt`), a lossy codec round trip through PyAV (AAC 24-64,
  Opus 8-32, MP3 24-64 kbit/s), a gain change (peak to -35..+6 dBFS, clipped, 16-bit), or a speed
  perturbation of ±10 % (resampling: tempo and pitch together), or ``vadpad``: the file's voice
  activity (the library's VAD segmenter) with 0.4-1.2 s of digital silence around it instead of the
  recorded room tone — how ``emofuse analyze`` reads a segment (its ``segment_pad_s``);
* features as ``train.py`` caches them (Whisper tiny.en int8 states, the 10 s training window, float16,
  mean + std; the 279 hand-crafted statistics), in resumable chunks under ``runs/voice_whisper/features_aug/``.

Read by ``train.py --augment-copies`` (the shipped head) and ``augment_study.py`` (the before/after study).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from scipy.signal import correlate
from train import REPO, SEED, whisper_key  # this folder

from emofuse.experts.voice import SAMPLE_RATE, utterance_features
from emofuse.experts.whisper_features import WhisperEncoder, pool_frames
from emofuse.media.audio import load_audio, pad_silence, resample
from emofuse.robustness.corrupt import active_power, corrupt
from emofuse.train import speech

__all__ = ["AUG_VERSION", "CACHE", "KINDS", "WEIGHTS", "aug_features", "augment", "codec_roundtrip", "vad_padded"]

SR = SAMPLE_RATE
CACHE = REPO / "runs" / "voice_whisper" / "features_aug"
#: Babble comes from these RAVDESS actors only: the validation actors 15-18 are never heard in training.
BANK_ACTORS = tuple(f"{i:02d}" for i in range(1, 15))
#: Bump when the augmentation draws change (cache key).
AUG_VERSION = 2
KINDS = ("white", "pink", "babble", "reverb", "codec", "gain", "speed", "vadpad")
WEIGHTS = (0.15, 0.1, 0.15, 0.15, 0.1, 0.1, 0.1, 0.15)
CODECS = {"aac": ("adts", 24, 64), "libopus": ("ogg", 8, 32), "libmp3lame": ("mp3", 24, 64)}


def codec_roundtrip(x: np.ndarray, codec: str, kbps: float) -> np.ndarray:
    """Encode ``x`` (16 kHz) with a lossy codec through PyAV and decode it back, aligned and of the same length."""
    import av  # noqa: PLC0415

    fmt = CODECS[codec][0]
    rate = 48000 if codec == "libopus" else SR
    y = resample(x, SR, rate) if rate != SR else np.asarray(x, np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        st = out.add_stream(codec, rate=rate, layout="mono")
        st.bit_rate = int(kbps * 1000)
        frame = av.AudioFrame.from_ndarray(np.clip(np.rint(y * 32767), -32768, 32767).astype(np.int16)[None],
                                           format="s16", layout="mono")
        frame.sample_rate = rate
        for f in av.AudioResampler(format=st.codec_context.format.name, layout="mono", rate=rate).resample(frame):
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    buf.seek(0)
    parts = []
    with av.open(buf, "r") as inp:
        rs = av.AudioResampler(format="flt", layout="mono", rate=SR)
        for f in inp.decode(audio=0):
            parts += [g.to_ndarray().reshape(-1) for g in rs.resample(f)]
        parts += [g.to_ndarray().reshape(-1) for g in rs.resample(None)]
    z = np.concatenate(parts).astype(np.float32)
    # encoder priming delays the decoded wave (AAC ~1024 samples): realign by cross-correlation
    n = min(len(x), len(z), 4 * SR)
    lags = correlate(z[: n + 2048], x[:n], mode="valid", method="fft")
    lag = int(np.argmax(lags[:2049])) if len(lags) else 0
    z = z[lag: lag + len(x)]
    return np.pad(z, (0, len(x) - len(z))).astype(np.float32)


def pink_noise(x: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """1/f (pink) Gaussian noise added at ``snr`` dB w.r.t. the active power (as the library's white noise)."""
    spec = np.fft.rfft(rng.standard_normal(x.size))
    spec /= np.sqrt(np.maximum(np.arange(spec.size), 1.0))
    noise = np.fft.irfft(spec, n=x.size)
    gain = np.sqrt(active_power(x, SR) / (np.mean(noise**2) * 10 ** (snr / 10)))
    return (x + gain * noise).astype(np.float32)


def vad_padded(x: np.ndarray, pad_s: float) -> np.ndarray:
    """``x`` as ``emofuse analyze`` reads it: its voice activity (the library's VAD segmenter, first to
    last utterance) with ``pad_s`` of digital silence on each side; ``x`` when no speech is found."""
    from emofuse.media.segment import Segmenter  # noqa: PLC0415

    seg = Segmenter("vad", has_audio=True)
    segs = [s for s in seg.feed_audio(0.0, x) + seg.flush(len(x) / SR) if not s.filler and s.source == "vad"]
    if not segs:
        return x
    i0, i1 = int(round(min(s.start for s in segs) * SR)), int(round(max(s.end for s in segs) * SR))
    return pad_silence(x[i0:i1], pad_s)


def augment(x: np.ndarray, rng: np.random.Generator, bank: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """One random recording condition applied to ``x``: (wave, condition text)."""
    kind = str(rng.choice(KINDS, p=WEIGHTS))
    seed = int(rng.integers(2**31))
    if kind == "white":
        snr = rng.uniform(5, 30)
        return corrupt("white_noise", x, snr, seed=seed, sample_rate=SR), f"white {snr:.0f} dB"
    if kind == "pink":
        snr = rng.uniform(5, 30)
        return pink_noise(x, snr, rng), f"pink {snr:.0f} dB"
    if kind == "babble":
        snr, talkers = rng.uniform(10, 30), int(rng.integers(3, 7))
        return (corrupt("babble_noise", x, snr, seed=seed, sample_rate=SR, bank=bank, talkers=talkers),
                f"babble {snr:.0f} dB x{talkers}")
    if kind == "reverb":
        rt = rng.uniform(0.2, 1.2)
        return corrupt("reverb", x, rt, seed=seed, sample_rate=SR), f"reverb {rt:.2f} s"
    if kind == "codec":
        codec = str(rng.choice(list(CODECS)))
        kbps = int(rng.integers(CODECS[codec][1], CODECS[codec][2] + 1))
        return codec_roundtrip(x, codec, kbps), f"codec {codec} {kbps}k"
    if kind == "gain":  # peak to -35..+6 dBFS, clipped and 16-bit quantised (quiet or overdriven recordings)
        db = rng.uniform(-35, 6)
        y = np.clip(x * 10 ** (db / 20) / max(float(np.abs(x).max()), 1e-6), -1, 1)
        return (np.rint(y * 32767) / 32767).astype(np.float32), f"gain peak {db:+.0f} dBFS"
    if kind == "vadpad":  # the room tone around the speech replaced by digital silence, as analyze reads a segment
        pad = rng.uniform(0.4, 1.2)
        return vad_padded(x, pad), f"vadpad {pad:.2f} s"
    f = rng.uniform(0.9, 1.1)  # speed: read as if recorded at f * 16 kHz
    return resample(x, int(round(SR * f)), SR), f"speed {f:.2f}"


def banks(corpus: object, name: str) -> dict[str, list[np.ndarray]]:
    """4 random files per bank speaker (RAVDESS: actors 01-14 only), decoded at 16 kHz."""
    rng = np.random.default_rng([SEED, 7, len(name)])
    out: dict[str, list[np.ndarray]] = {}
    for spk in corpus.speakers():
        if name == "ravdess" and spk not in BANK_ACTORS:
            continue
        pool = [it for it in corpus if it.speaker == spk]
        out[spk] = [load_audio(pool[int(k)].source, SR)[0] for k in rng.choice(len(pool), 4, replace=False)]
    return out


def aug_features(name: str, corpus: object, copy_k: int, shard: tuple[int, int], window_s: float, chunk: int = 48
                 ) -> tuple[np.ndarray, list[str]] | None:
    """``whisper+hc`` features (N, 1047) of augmented copy ``copy_k`` of a corpus, and each file's condition.

    Chunks are cached and skipped when present; ``None`` while another shard's chunks are missing.
    """
    key = hashlib.sha1(f"{AUG_VERSION}-{whisper_key(window_s)}-{speech.HANDCRAFTED_VERSION}".encode()).hexdigest()[:8]
    items = list(corpus)
    bank, enc = None, None
    out_x, out_c = [], []
    for j, start in enumerate(range(0, len(items), chunk)):
        f = CACHE / f"{name}-aug{copy_k}-{key}-n{len(items)}-{start:05d}.npz"
        if not f.is_file() and j % shard[1] == shard[0]:
            bank = bank or banks(corpus, name)
            enc = enc or WhisperEncoder(threads=1, batch_size=8, window_s=window_s)
            waves, conds = [], []
            for i in range(start, min(start + chunk, len(items))):
                it = items[i]
                rng = np.random.default_rng([SEED, 1 + copy_k, len(name), i])
                others = [w for s, ws in bank.items() if s != it.speaker for w in ws]
                w, c = augment(load_audio(it.source, SR)[0], rng, others)
                waves.append(w.astype(np.float32))
                conds.append(c)
            fr = [pool_frames(e.astype(np.float16).astype(np.float32)) for e in enc.frames(waves)]
            hc = np.stack([utterance_features(w) for w in waves])
            CACHE.mkdir(parents=True, exist_ok=True)
            np.savez(f, x=np.concatenate([np.stack(fr), hc], axis=1).astype(np.float32), cond=np.array(conds))
            print(f"  {f.name}: {conds[:3]} ...", flush=True)
        if f.is_file():
            d = np.load(f)
            out_x.append(d["x"])
            out_c += d["cond"].tolist()
    return (np.concatenate(out_x), out_c) if len(out_c) == len(items) else None
