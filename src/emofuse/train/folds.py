"""Group-independent (speaker-independent) nested cross-validation folds.

A *fold* is the list of groups (speakers) it holds out. Every sample belongs to one group and
every group to exactly one fold, so a held-out speaker never appears in training data of its
own fold; hyper-parameters are chosen by an inner group k-fold over the training groups only
(:func:`inner_group_kfold`), which makes the outer figures nearly unbiased.

Example:
    >>> import numpy as np
    >>> spk = np.array(["03", "01", "02", "04", "01"])
    >>> chunk_groups(spk, 2)
    [['01', '02'], ['03', '04']]
    >>> [(k, held, int(te.sum())) for k, held, tr, te in iter_folds(spk, chunk_groups(spk, 2))]
    [(0, ['01', '02'], 3), (1, ['03', '04'], 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from emofuse.errors import DataError
from emofuse.evaluate.metrics import classification_metrics

__all__ = [
    "chunk_groups",
    "cross_validate",
    "inner_group_kfold",
    "interleave_folds",
    "iter_folds",
    "leave_one_group_out",
    "prefix_groups",
    "random_folds",
]


def chunk_groups(groups: Sequence[str] | np.ndarray, size: int) -> list[list[str]]:
    """Folds of ``size`` consecutive groups in sorted order (e.g. RAVDESS actors 01-03, 04-06, ...)."""
    if size < 1:
        raise DataError(f"fold size must be >= 1, got {size}")
    names = sorted(set(np.asarray(groups).tolist()))
    return [names[i:i + size] for i in range(0, len(names), size)]


def leave_one_group_out(groups: Sequence[str] | np.ndarray) -> list[list[str]]:
    """One fold per group (leave-one-speaker-out)."""
    return chunk_groups(groups, 1)


def prefix_groups(prefix: str, groups: Sequence[str] | np.ndarray) -> np.ndarray:
    """``"<prefix>-<group>"`` for every group (keeps the speakers of two corpora apart)."""
    return np.char.add(f"{prefix}-", np.asarray(groups).astype(str))


def interleave_folds(folds: Sequence[Sequence[str]], extra: Sequence[str]) -> list[list[str]]:
    """``folds`` with the ``extra`` groups dealt round-robin into them (a joint protocol over two corpora)."""
    out = [list(f) for f in folds]
    if not out:
        raise DataError("interleave_folds needs at least one fold")
    for i, g in enumerate(extra):
        out[i % len(out)].append(g)
    return out


def random_folds(n: int, k: int = 2, seed: int = 0) -> np.ndarray:
    """``(n,)`` fold index in ``[0, k)`` of a seeded random split into ``k`` near-equal parts."""
    fold = np.empty(n, dtype=np.int64)
    for i, part in enumerate(np.array_split(np.random.default_rng(seed).permutation(n), k)):
        fold[part] = i
    return fold


def iter_folds(groups: Sequence[str] | np.ndarray,
               folds: Sequence[Sequence[str]]) -> Iterator[tuple[int, list[str], np.ndarray, np.ndarray]]:
    """``(k, held-out groups, train mask, test mask)`` of each fold.

    Raises:
        DataError: A group is in no fold or in two folds, or a fold names an unknown group.
    """
    g = np.asarray(groups).astype(str)
    seen: dict[str, int] = {}
    for k, fold in enumerate(folds):
        for name in fold:
            if name in seen:
                raise DataError(f"group {name!r} is held out by folds {seen[name]} and {k}")
            seen[name] = k
    known = set(g.tolist())
    unknown = sorted(set(seen) - known)
    never = sorted(known - set(seen))
    if unknown or never:
        raise DataError(f"folds must hold out every group exactly once: unknown groups {unknown[:5]}, "
                        f"never held out {never[:5]}")
    for k, fold in enumerate(folds):
        test = np.isin(g, list(fold))
        yield k, list(fold), ~test, test


def inner_group_kfold(groups: Sequence[str] | np.ndarray, n_splits: int = 4) -> GroupKFold:
    """The inner group k-fold (hyper-parameter search) over the training groups of one outer fold."""
    return GroupKFold(max(2, min(n_splits, len(set(np.asarray(groups).tolist())))))


def _summary(rows: list[dict[str, Any]], y: np.ndarray, scores: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    pooled = classification_metrics(y, scores, classes=list(classes))
    out: dict[str, Any] = {}
    for key in ("accuracy", "uar"):
        vals = [r[key] for r in rows]
        out[f"{key}_mean"], out[f"{key}_std"] = float(np.mean(vals)), float(np.std(vals))
    out["n_folds"] = len(rows)
    out["pooled"] = {k: pooled[k] for k in ("accuracy", "uar", "per_class_recall", "confusion_matrix", "support")}
    out["folds"] = rows
    return out


def cross_validate(fit: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
                   score: Callable[[Any, np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
                   groups: np.ndarray, folds: Sequence[Sequence[str]], classes: Sequence[str],
                   subsets: Mapping[str, np.ndarray] | None = None,
                   describe: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Outer group-held-out cross-validation of a classifier.

    Args:
        fit: ``fit(x_train, y_train, groups_train) -> model``; does its own inner search over
            the training groups (e.g. with :func:`inner_group_kfold`).
        score: ``score(model, x_test) -> (n_test, C)`` class scores (logits or log-probabilities).
        x: ``(N, D)`` features.
        y: ``(N,)`` integer labels in ``[0, C)``.
        groups: ``(N,)`` group (speaker) of each sample.
        folds: Held-out groups of each outer fold (every group exactly once).
        classes: The ``C`` class names.
        subsets: Named boolean masks ``(N,)`` to report separately (default: ``{"all": all}``).
        describe: ``describe(model)`` → what to record per fold (e.g. the chosen hyper-parameters).

    Returns:
        ``{"summary": {subset: {accuracy_mean, accuracy_std, uar_mean, uar_std, n_folds, pooled,
        folds}}, "chosen": [...], "oof": (N, C) out-of-fold scores, "fold_of": (N,) fold index}``.
    """
    y = np.asarray(y)
    subsets = dict(subsets or {"all": np.ones(len(y), bool)})
    oof = np.zeros((len(y), len(classes)))
    fold_of = np.full(len(y), -1)
    per_fold: dict[str, list[dict[str, Any]]] = {k: [] for k in subsets}
    chosen = []
    for k, held, tr, te in iter_folds(groups, folds):
        model = fit(x[tr], y[tr], groups[tr])
        chosen.append(describe(model) if describe else None)
        oof[te] = score(model, x[te])
        fold_of[te] = k
        for name, mask in subsets.items():
            sel = te & mask
            if sel.any():
                m = classification_metrics(y[sel], oof[sel], classes=list(classes))
                per_fold[name].append({"accuracy": m["accuracy"], "uar": m["uar"], "held_out": held})
    summary = {name: _summary(rows, y[subsets[name]], oof[subsets[name]], classes) for name, rows in per_fold.items()}
    return {"summary": summary, "chosen": chosen, "oof": oof, "fold_of": fold_of}
