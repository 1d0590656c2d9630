"""Evaluate a physiological expert on labelled recordings: WESAD subject files as they are shared.

A recording with per-sample condition labels (the WESAD layout: ``SX_wrist.npz``; a folder of
them) is cut into the windows the expert reads (60 s, every ``hop_s``); a window is scored when
at least ``purity`` of its samples carry one of the 3-class conditions (baseline, stress,
amusement; WESAD codes 1, 2, 3 — meditation, transients and codes 5–7 are left out, as in the
published 3-class task). Each wearer is normalised against their own recording, as in the
analysis. Scores: 3-class (native ``wesad3``) and the 2-class view (stress vs the rest, from
``P(stress) > 0.5``), per subject and the worst-subject gap.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from emofuse.errors import DataError, MissingFileError
from emofuse.evaluate.metrics import classification_metrics

__all__ = ["WESAD_CODES", "evaluate_physio", "labelled_windows"]

#: WESAD condition codes of the 3-class task → class name.
WESAD_CODES = {1: "baseline", 2: "stress", 3: "amusement"}


def labelled_windows(rec: Any, window_s: float = 60.0, hop_s: float = 5.0,
                     purity: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Window ends and condition codes of a labelled recording.

    Returns:
        ``(ends, codes)``: ``(W,)`` end times (s) every ``hop_s`` and ``(W,)`` int codes — the
        code that at least ``purity`` of the window's labels carry, else ``-1``.

    Raises:
        DataError: The recording has no labels.
    """
    if rec.labels is None:
        raise DataError(f"{rec.source}: no condition labels (a labelled recording, e.g. a WESAD subject file)")
    ends = np.arange(rec.start + window_s, rec.end + 1e-9, hop_s)
    codes = np.full(len(ends), -1, np.int64)
    for i, e in enumerate(ends):
        seg = np.asarray(rec.labels.slice(e - window_s, e)).astype(np.int64)
        if not len(seg):
            continue
        vals, cnt = np.unique(seg, return_counts=True)
        k = int(cnt.argmax())
        if cnt[k] >= purity * len(seg):
            codes[i] = int(vals[k])
    return ends, codes


def _files(data: Path) -> list[Path]:
    if not data.exists():
        raise MissingFileError(f"not found: {data}")
    if data.is_file():
        return [data]
    files = sorted(p for p in data.iterdir() if p.suffix == ".npz")
    if not files:
        raise DataError(f"{data}: no labelled recordings (.npz in the WESAD layout) in this folder")
    return files


def evaluate_physio(expert: Any, data: str | Path, *, hop_s: float = 5.0, purity: float = 0.9,
                    predictions: str | Path | None = None,
                    on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Score a physio expert on a labelled recording (or a folder of them), windows as in its card.

    Args:
        expert: A loaded physio expert (``load_expert("physio-wesad")``).
        data: A WESAD-layout subject file (``S2_wrist.npz``) or a folder of them, unchanged.
        hop_s: Seconds between window ends.
        purity: Share of a window's labels that must agree for it to be scored.
        predictions: Optional CSV: one row per window (subject, end, true, predicted, probabilities).
        on_progress: Callback ``(files done, files)``.

    Returns:
        3-class metrics (``accuracy``, ``f1_macro``, ``uar``, confusion, ...), ``two_class``
        (accuracy, macro-F1 ``f1_macro`` of stress vs the rest), ``by_subject`` and the worst-subject gap,
        ``n`` windows, ``subjects``.

    Raises:
        DataError: No recording has a scorable window.
    """
    from emofuse.experts.physio import physio_windows
    from emofuse.media.physio_io import read_physio

    files = _files(Path(data))
    ys, ps, subj, ends_all = [], [], [], []
    for k, f in enumerate(files):
        rec = read_physio(f)
        ends, codes = labelled_windows(rec, expert.window_s, hop_s, purity)
        keep = np.isin(codes, list(WESAD_CODES))
        if keep.any():
            out = expert.predict(physio_windows(rec, ends[keep], expert.window_s))
            ys.append(np.asarray([list(WESAD_CODES).index(c) for c in codes[keep]]))
            ps.append(out.probs)
            subj += [rec.subject or f.stem] * int(keep.sum())
            ends_all.append(ends[keep])
        if on_progress is not None:
            on_progress(k + 1, len(files))
    if not ys:
        raise DataError(f"{data}: no 60 s window with a baseline, stress or amusement label")
    y, p = np.concatenate(ys), np.concatenate(ps)
    classes = list(expert.classes)
    res: dict[str, Any] = {"expert": expert.name, "corpus": str(data), "space": expert.label_space,
                           "classes": classes, "n": int(len(y)), "subjects": sorted(set(subj)), "dropped": 0,
                           **classification_metrics(y, p, num_classes=len(classes), classes=classes)}
    s = classes.index("stress")
    y2, p2 = (y == s).astype(int), (p[:, s] > 0.5).astype(int)
    two = classification_metrics(y2, np.stack([1 - p[:, s], p[:, s]], 1), num_classes=2,
                                 classes=["no_stress", "stress"])
    res["two_class"] = {"accuracy": two["accuracy"], "f1_macro": two["f1_macro"], "n": int(len(y2)),
                        "predicted_stress": int(p2.sum())}
    from emofuse.experts.evaluate import by_group

    wearers = [SimpleNamespace(speaker=w, meta={}) for w in subj]
    res["by_group"] = {**by_group(wearers, y, p.argmax(1), "speaker", len(classes)), "key": "subject"}
    if predictions is not None:
        path = Path(predictions)
        path.parent.mkdir(parents=True, exist_ok=True)
        ends_cat = np.concatenate(ends_all)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "subject", "end_s", "true", "predicted", *[f"p_{c}" for c in classes]])
            for i in range(len(y)):
                w.writerow([f"{subj[i]}@{ends_cat[i]:.0f}", subj[i], f"{ends_cat[i]:.1f}", classes[y[i]],
                            classes[int(p[i].argmax())], *[f"{v:.6f}" for v in p[i]]])
    return res
