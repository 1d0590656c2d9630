"""What the three deletion tests share: argument checks and the result they report.

A deletion test (:func:`~emofuse.explain.words.word_deletion_curve`,
:func:`~emofuse.explain.voice.voice_deletion_curve`,
:func:`~emofuse.explain.face.face_deletion_curve`) deletes, for each fraction, the parts of an
input its explainer scored highest and, as the baseline, random parts of the same size, and
records how far the target-class probability falls. A faithful explainer's curve lies above
the random one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import ConfigError

__all__ = ["check_deletion_args", "combine_deletion", "deletion_result", "deletion_rows", "format_deletion",
           "plot_deletion", "write_deletion_csv"]


def check_deletion_args(name: str, fractions: Sequence[float], n_random: int) -> list[float]:
    """``fractions`` as floats in ``(0, 1]``; :class:`ConfigError` naming ``name`` otherwise or if ``n_random`` < 1."""
    fr = [float(f) for f in fractions]
    if not fr or any(not 0.0 < f <= 1.0 for f in fr):
        raise ConfigError(f"{name}: fractions must be in (0, 1], got {list(fractions)}")
    if int(n_random) < 1:
        raise ConfigError(f"{name}: n_random must be >= 1, got {n_random}")
    return fr


def deletion_result(fractions: Sequence[float], top: np.ndarray, random: np.ndarray, p_full: np.ndarray,
                    **extra: Any) -> dict[str, Any]:
    """The common result of a deletion test.

    Args:
        fractions: ``F`` fractions deleted.
        top: ``(N, F)`` drop of each item's target probability when its top-scored parts go.
        random: ``(N, F)`` the same for random parts (averaged over the random draws).
        p_full: ``(N,)`` target probability of the intact items.
        **extra: Test-specific entries (``mean_deleted``, ``n_cells``, ...).

    Returns:
        ``{"fractions", "top", "random", "top_std", "random_std", "n_items", "target_prob_full", **extra}``:
        means and standard deviations over items, probabilities in 0..1.
    """
    top, random = np.asarray(top, np.float64), np.asarray(random, np.float64)
    return {"fractions": [float(f) for f in fractions], **extra, "top": top.mean(0).tolist(),
            "random": random.mean(0).tolist(), "top_std": top.std(0).tolist(), "random_std": random.std(0).tolist(),
            "n_items": int(top.shape[0]), "target_prob_full": float(np.mean(p_full))}


def combine_deletion(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Deletion results of disjoint item sets (e.g. one per utterance) → the result over all their items.

    Means are weighted by ``n_items``; standard deviations are pooled (the spread over all items);
    other numeric entries (``mean_cells`` ...) are item-weighted means.

    Raises:
        ConfigError: No results, or results over different fractions.
    """
    if not results:
        raise ConfigError("combine_deletion: no results")
    fr = results[0]["fractions"]
    if any(r["fractions"] != fr for r in results):
        raise ConfigError("combine_deletion: the results use different fractions")
    w = np.asarray([r["n_items"] for r in results], np.float64)
    out: dict[str, Any] = {"fractions": list(fr)}
    for key in ("top", "random"):
        m = np.asarray([r[key] for r in results])
        sd = np.asarray([r[f"{key}_std"] for r in results])
        mean = (w[:, None] * m).sum(0) / w.sum()
        var = (w[:, None] * (sd**2 + (m - mean) ** 2)).sum(0) / w.sum()
        out[key], out[f"{key}_std"] = mean.tolist(), np.sqrt(var).tolist()
    out["n_items"] = int(w.sum())
    for key, v in results[0].items():
        if key not in out and isinstance(v, int | float) and not isinstance(v, bool):
            out[key] = float((w * np.asarray([r[key] for r in results], np.float64)).sum() / w.sum())
    return out


def _size(r: dict[str, Any], i: int) -> float | None:
    for key in ("mean_deleted", "n_cells"):
        if key in r:
            return float(r[key][i])
    return None


def deletion_rows(curves: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (subset, fraction) of named deletion results: the drops, their difference and spread."""
    rows = []
    for name, r in curves.items():
        for i, f in enumerate(r["fractions"]):
            rows.append({"subset": name, "fraction": f, "deleted": _size(r, i), "top_drop": round(r["top"][i], 4),
                         "random_drop": round(r["random"][i], 4),
                         "top_minus_random": round(r["top"][i] - r["random"][i], 4),
                         "top_std": round(r["top_std"][i], 4), "random_std": round(r["random_std"][i], 4),
                         "n_items": r["n_items"]})
    return rows


def write_deletion_csv(curves: dict[str, dict[str, Any]], path: str | Path) -> None:
    """:func:`deletion_rows` as CSV (``deleted``: mean parts deleted per item, empty where unknown)."""
    import csv

    rows = deletion_rows(curves)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)


def format_deletion(curves: dict[str, dict[str, Any]]) -> str:
    """A plain-text table of :func:`deletion_rows` (for a recipe's log)."""
    lines = [f"{'subset':8} {'frac':>5} {'parts':>6} {'top':>7} {'random':>7} {'top-rand':>8}"]
    for r in deletion_rows(curves):
        parts = "" if r["deleted"] is None else f"{r['deleted']:.1f}"
        lines.append(f"{r['subset']:8} {r['fraction']:5.2f} {parts:>6} {r['top_drop']:7.3f} {r['random_drop']:7.3f} "
                     f"{r['top_minus_random']:8.3f}")
    return "\n".join(lines)


def plot_deletion(curves: dict[str, dict[str, Any]], path: str | Path, *, part: str, xlabel: str,
                  title: str) -> None:
    """PNG of the deletion curves: top-scored (red) vs random (blue) parts, one line style per subset.

    Args:
        curves: Named results (``{"all": ..., "correct": ...}``).
        path: PNG file.
        part: What was deleted, as a legend noun (``"words (IG)"``).
        xlabel: X-axis label (the fraction and of what).
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    for (tag, r), style in zip(curves.items(), ("-", "--", ":", "-."), strict=False):
        f = [0.0, *r["fractions"]]
        se = np.sqrt(max(1, r["n_items"]))
        for key, colour, label in (("top", "C3", f"top {part}"), ("random", "C0", "random")):
            err = [0.0] + [s / se for s in r[f"{key}_std"]]
            ax.errorbar(f, [0.0, *r[key]], yerr=err, color=colour, ls=style, marker="o", capsize=3,
                        label=f"{label}, {tag} (n={r['n_items']})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean drop of predicted-class prob. (± s.e.)")
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
