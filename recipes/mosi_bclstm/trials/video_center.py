"""Trial (issue 10, item 6): subtract each video's mean from every utterance feature.

Writes a copy of a ``mosi_bclstm`` ``.npz`` in which each modality's features ``(N, D)`` are
centred per video (``x - mean over the video's utterances``; ``--scale`` also divides by the
video's per-feature standard deviation), the speaker-level normalisation that helps the voice
expert. Per-video statistics use only the video itself, so the same transform applies to the
withheld test file unchanged. Score the copies with ``emofuse benchmark`` (see the README).

    python recipes/mosi_bclstm/trials/video_center.py \
        ../shared/data/mosi_bclstm/train.npz runs/mosi_norm/train_center.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

MODALITIES = ("text", "audio", "video")


def center_by_video(arrays: dict[str, np.ndarray], scale: bool = False) -> dict[str, np.ndarray]:
    """Return ``arrays`` with each modality centred (and optionally scaled) within each ``video_id``."""
    out = dict(arrays)
    vid = arrays["video_id"].astype(str)
    for m in MODALITIES:
        x = arrays[m].astype(np.float64)
        y = np.empty_like(x)
        for v in np.unique(vid):
            rows = vid == v
            y[rows] = x[rows] - x[rows].mean(0)
            if scale:  # one-utterance videos have std 0: the epsilon keeps them at 0
                y[rows] /= x[rows].std(0) + 1e-6
        out[m] = y.astype(np.float32)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--scale", action="store_true", help="also divide by the video's per-feature std")
    a = p.parse_args()
    with np.load(a.src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    a.dst.parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.dst, **center_by_video(arrays, a.scale))
    print(f"wrote {a.dst} ({len(arrays['label'])} utterances, {len(np.unique(arrays['video_id']))} videos)")


if __name__ == "__main__":
    main()
