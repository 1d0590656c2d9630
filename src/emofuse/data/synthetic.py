"""A generated multimodal dataset in which fusion, context and missing modalities matter.

Used by the default benchmark (no download needed) and by tests. The four classes are the
combinations of two hidden binary factors: the *text* modality carries factor A, the *audio*
sequence carries factor B (in its temporal mean, buried in per-step noise), and the *face*
sequence carries a weaker view of both. No single modality can reach full accuracy, so a
good fusion model must beat every modality alone, and removing a modality costs accuracy.
Utterances come in dialogues whose members tend to share one dominant class, so a context
encoder over a dialogue can help too.
"""

from __future__ import annotations

import numpy as np

from emofuse.data.dataset import FeatureDataset

SYNTHETIC_CLASSES = ("calm-negative", "calm-positive", "aroused-negative", "aroused-positive")


def make_synthetic(
    n_dialogues: int = 80,
    utterances: tuple[int, int] = (4, 10),
    *,
    seed: int = 0,
    text_dim: int = 16,
    audio_dim: int = 6,
    face_dim: int = 8,
    audio_len: tuple[int, int] = (6, 20),
    face_len: tuple[int, int] = (8, 24),
    noise: float = 1.0,
    dominance: float = 0.6,
    missing_rate: float = 0.05,
) -> FeatureDataset:
    """Generate the dataset.

    Args:
        n_dialogues: Number of context groups.
        utterances: Inclusive range of utterances per dialogue.
        seed: Random seed (the data are a pure function of the arguments).
        text_dim: Pooled text feature size.
        audio_dim: Audio frame feature size.
        face_dim: Face frame feature size (per video frame).
        audio_len: Inclusive range of audio sequence lengths (frames).
        face_len: Inclusive range of face sequence lengths (video frames).
        noise: Standard deviation of the noise relative to the signal.
        dominance: Probability that an utterance takes its dialogue's dominant class.
        missing_rate: Probability that each modality of an utterance is missing.

    Returns:
        A :class:`FeatureDataset` with pooled ``text`` ``(N, text_dim)`` and sequential
        ``audio`` ``(N, T_a, audio_dim)`` / ``face`` ``(N, T_v, face_dim)``, four classes,
        groups ``dialogue`` and ``speaker``.
    """
    rng = np.random.default_rng(seed)
    labels, dialogue, speaker, pos = [], [], [], []
    for d in range(n_dialogues):
        k = int(rng.integers(utterances[0], utterances[1] + 1))
        dominant = int(rng.integers(0, 4))
        for i in range(k):
            labels.append(dominant if rng.random() < dominance else int(rng.integers(0, 4)))
            dialogue.append(f"dlg{d:03d}")
            speaker.append(f"spk{d % 7}{i % 2}")
            pos.append(i)
    y = np.asarray(labels, dtype=np.int64)
    n = len(y)
    a = np.where((y // 2) == 1, 1.0, -1.0)  # arousal factor, seen by text
    b = np.where((y % 2) == 1, 1.0, -1.0)   # valence factor, seen by audio
    # fixed directions (independent of `seed`, so all splits share them): the signal lives
    # in a random subspace, not in one coordinate
    drng = np.random.default_rng(20261122)
    dir_text = drng.normal(size=text_dim)
    dir_text /= np.linalg.norm(dir_text)
    dir_audio = drng.normal(size=audio_dim)
    dir_audio /= np.linalg.norm(dir_audio)
    dir_va, dir_vb = drng.normal(size=(2, face_dim))
    dir_va /= np.linalg.norm(dir_va)
    dir_vb /= np.linalg.norm(dir_vb)

    text = (1.6 * a[:, None] * dir_text + noise * rng.normal(size=(n, text_dim))).astype(np.float32)

    t_a = rng.integers(audio_len[0], audio_len[1] + 1, size=n)
    audio = np.zeros((n, audio_len[1], audio_dim), dtype=np.float32)
    for i in range(n):
        steps = 0.9 * b[i] * dir_audio + 2.0 * noise * rng.normal(size=(t_a[i], audio_dim))
        audio[i, : t_a[i]] = steps
    t_v = rng.integers(face_len[0], face_len[1] + 1, size=n)
    face = np.zeros((n, face_len[1], face_dim), dtype=np.float32)
    for i in range(n):
        steps = (0.2 * a[i] * dir_va + 0.2 * b[i] * dir_vb) + 1.5 * noise * rng.normal(size=(t_v[i], face_dim))
        face[i, : t_v[i]] = steps

    present = {m: rng.random(n) >= missing_rate for m in ("text", "audio", "face")}
    none = ~(present["text"] | present["audio"] | present["face"])
    present["text"][none] = True  # keep at least one modality per utterance
    ids = [f"{dg}_{p}" for dg, p in zip(dialogue, pos, strict=True)]
    return FeatureDataset(
        {"text": text, "audio": audio, "face": face}, y, "classification",
        lengths={"audio": t_a.astype(np.int64), "face": t_v.astype(np.int64)}, present=present,
        ids=ids, groups={"dialogue": np.asarray(dialogue), "speaker": np.asarray(speaker)},
        positions=np.asarray(pos, dtype=np.int64), classes=SYNTHETIC_CLASSES, context_key="dialogue",
    )


def synthetic_splits(seed: int = 0, **kwargs: object) -> dict[str, FeatureDataset]:
    """Train/validation/test splits drawn independently (disjoint dialogues by construction)."""
    return {
        "train": make_synthetic(80, seed=seed * 3 + 0, **kwargs),  # type: ignore[arg-type]
        "valid": make_synthetic(30, seed=seed * 3 + 1, **kwargs),  # type: ignore[arg-type]
        "test": make_synthetic(30, seed=seed * 3 + 2, **kwargs),  # type: ignore[arg-type]
    }
