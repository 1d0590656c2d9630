"""The speaker-independent protocol of the utterance-level voice experts (scikit-learn heads).

Shared by ``recipes/voice`` (hand-crafted statistics) and ``recipes/voice_whisper`` (Whisper
encoder states): both validate logistic regression / MLP / RBF-SVM heads on speech corpora
with nested group cross-validation (:mod:`emofuse.train.folds`), per corpus in the native and
the ``ekman7`` label space, jointly over corpora, and across corpora; the shipped head is a
fitted scaler + linear/MLP classifier copied into a :class:`~emofuse.experts.voice.VoiceHead`.

A *table* is one corpus as a dict: ``name``, ``x`` ``(N, D)`` features, ``ids``, ``speaker``
``(N,)``, ``native`` (label space), ``y_native`` and ``y_ekman`` ``(N,)`` class indices.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emofuse.errors import CheckpointError, ConfigError, UnknownNameError
from emofuse.evaluate.metrics import classification_metrics
from emofuse.experts.calibration import calibration_report
from emofuse.experts.voice import N_FEATURES, SAMPLE_RATE, VoiceHead, VoiceHeadConfig, utterance_features
from emofuse.labels import get_label_space, get_mapping
from emofuse.train.folds import chunk_groups, cross_validate, inner_group_kfold, interleave_folds, prefix_groups

__all__ = [
    "CANDIDATES",
    "EXPORTABLE",
    "check_export",
    "class_scores",
    "cross_corpus",
    "feature_table",
    "fit_search",
    "handcrafted_table",
    "per_speaker",
    "speaker_folds",
    "joint_copies",
    "joint_table",
    "run_protocol",
    "to_voice_head",
    "with_copies",
]

EKMAN = get_label_space("ekman7")
#: Candidate heads: name -> (estimator factory taking a seed, hyper-parameter grid).
CANDIDATES: dict[str, tuple[Callable[[int], Any], dict[str, list[float]]]] = {
    "logreg": (lambda seed: LogisticRegression(max_iter=3000, class_weight="balanced"),
               {"clf__C": [0.003, 0.01, 0.03, 0.1, 0.3]}),
    "mlp": (lambda seed: MLPClassifier(hidden_layer_sizes=(128,), max_iter=400, random_state=seed),
            {"clf__alpha": [0.3, 1.0, 3.0]}),
    "svm-rbf": (lambda seed: SVC(kernel="rbf", class_weight="balanced", gamma="scale", random_state=seed),
                {"clf__C": [1.0, 3.0, 10.0]}),
}
#: Candidates that :func:`to_voice_head` can copy into a shipped head.
EXPORTABLE = ("logreg", "mlp")
#: Native label space of each speech corpus the voice experts train on.
NATIVE_SPACES = {"ravdess": "ravdess8", "emodb": "emodb7"}
#: Speakers per outer fold: RAVDESS 6 folds of 3 consecutive actors, EmoDB leave-one-speaker-out.
FOLD_SPEAKERS = {"ravdess": 3, "emodb": 1}
#: Ekman classes present in both RAVDESS and EmoDB (EmoDB has no surprise): the cross-corpus label set.
SHARED_EKMAN = ("anger", "disgust", "fear", "happiness", "sadness", "neutral")
#: Bump when :func:`~emofuse.experts.voice.utterance_features` changes (part of the cache key).
HANDCRAFTED_VERSION = 1


def feature_table(name: str, items: Sequence[Any], featurize: Callable[[Any], np.ndarray], native: str,
                  cache_file: Path | None = None, progress: Callable[[Iterable[Any]], Iterable[Any]] = iter
                  ) -> dict[str, Any]:
    """One corpus as a table, features cached as ``.npy`` (ids beside it as ``.ids.json``).

    Args:
        name: Corpus name (``"ravdess"``).
        items: Corpus items with ``id``, ``speaker`` and ``label`` attributes.
        featurize: ``featurize(item) -> (D,)`` features (decoding included).
        native: Name of the corpus' native label space (mapped to ``ekman7``).
        cache_file: Where to cache the ``(N, D)`` features; reused when its ids match.
        progress: Wraps the item iterator (e.g. ``tqdm``).
    """
    ids = [str(it.id) for it in items]
    x = None
    ids_file = cache_file.with_suffix(".ids.json") if cache_file is not None else None
    if cache_file is not None and cache_file.is_file():
        if not ids_file.is_file() or json.loads(ids_file.read_text()) == ids:
            x = np.load(cache_file)
    if x is None:
        x = np.stack([featurize(it) for it in progress(items)])
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache_file, x)
            ids_file.write_text(json.dumps(ids))
    space = get_label_space(native)
    labels = [it.label for it in items]
    table = get_mapping(space.name, "ekman7")
    return {"name": name, "x": x, "ids": ids, "speaker": np.array([str(it.speaker) for it in items]),
            "y_native": space.encode(labels), "native": space, "y_ekman": EKMAN.encode([table[lab] for lab in labels])}


def per_speaker(corpus: Any, limit: int | None) -> Any:
    """``corpus`` with at most ``limit`` evenly spaced items per speaker (smoke runs); all when ``None``."""
    if not limit:
        return corpus
    keep: list[int] = []
    for spk in corpus.speakers():
        idx = [i for i, it in enumerate(corpus) if it.speaker == spk]
        keep += sorted({idx[round(j)] for j in np.linspace(0, len(idx) - 1, min(limit, len(idx)))})
    return corpus.subset(sorted(keep))


def handcrafted_table(name: str, corpus: Any, cache_dir: Path,
                      progress: Callable[[Iterable[Any]], Iterable[Any]] = iter) -> dict[str, Any]:
    """The table of ``voice-ekman``'s hand-crafted utterance statistics, cached under ``cache_dir``."""
    from emofuse.media.audio import load_audio  # noqa: PLC0415  (optional audio backend)

    key = hashlib.sha1(f"{HANDCRAFTED_VERSION}-{N_FEATURES}-{SAMPLE_RATE}".encode()).hexdigest()[:10]
    return feature_table(name, list(corpus), lambda it: utterance_features(load_audio(it.source, SAMPLE_RATE)[0]),
                         NATIVE_SPACES[name], cache_dir / f"{name}-{key}-n{len(corpus)}.npy", progress)


def speaker_folds(tables: Sequence[dict[str, Any]]) -> dict[str, list[list[str]]]:
    """Outer folds of each corpus table, :data:`FOLD_SPEAKERS` speakers each (sorted speaker order)."""
    return {t["name"]: chunk_groups(t["speaker"], FOLD_SPEAKERS.get(t["name"], 1)) for t in tables}


def fit_search(kind: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, inner_folds: int = 4,
               seed: int = 0, grid: Mapping[str, Sequence[float]] | None = None) -> GridSearchCV:
    """Grid search of candidate ``kind`` by an inner group k-fold (speakers); refit on all rows given.

    ``grid`` replaces the candidate's hyper-parameter grid (e.g. ``{"clf__alpha": [1.0]}`` to refit
    a fixed configuration); default :data:`CANDIDATES`' grid.
    """
    if kind not in CANDIDATES:
        raise UnknownNameError("voice head candidate", kind, CANDIDATES)
    make, default_grid = CANDIDATES[kind]
    grid = default_grid if grid is None else {k: list(v) for k, v in grid.items()}
    pipe = Pipeline([("scale", StandardScaler()), ("clf", make(seed))])
    search = GridSearchCV(pipe, grid, scoring="balanced_accuracy", cv=inner_group_kfold(groups, inner_folds),
                          n_jobs=1, refit=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y, groups=groups)
    return search


def class_scores(model: GridSearchCV, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``(N, n_classes)`` log-probabilities (decision values for the SVM); unseen classes get a floor."""
    clf = model.best_estimator_
    s = (clf.decision_function(x) if isinstance(clf[-1], SVC) else np.log(np.clip(clf.predict_proba(x), 1e-12, None)))
    out = np.full((x.shape[0], n_classes), -1e9 if s.min() > -1e8 else s.min() - 1)
    out[:, model.classes_] = s
    return out


def with_copies(x: np.ndarray, y: np.ndarray, groups: np.ndarray, copies: Sequence[np.ndarray] = ()
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows and their augmented copies stacked: ``((1 + K) N, D)``, labels and groups repeated.

    ``copies``: ``K`` arrays ``(N, D)``, row ``i`` an augmented version of ``x[i]`` (same label and
    speaker, so a copy never crosses a speaker-held-out split).
    """
    k = 1 + len(copies)
    return np.concatenate([x, *copies]), np.tile(y, k), np.tile(groups, k)


def _cv(kind: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: Sequence[Sequence[str]],
        classes: Sequence[str], seed: int, subsets: Mapping[str, np.ndarray] | None = None,
        copies: Sequence[np.ndarray] = ()) -> dict[str, Any]:
    d = x.shape[1]
    # the copies ride along as extra columns so that every split slices them with their rows;
    # fitting unstacks them into extra training rows, scoring reads the clean columns only
    wide = np.concatenate([x, *copies], axis=1) if len(copies) else x

    def fit(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> GridSearchCV:
        blocks = [a[:, i * d:(i + 1) * d] for i in range(a.shape[1] // d)]
        return fit_search(kind, *with_copies(blocks[0], b, g, blocks[1:]), seed=seed)

    return cross_validate(fit, lambda m, a: class_scores(m, a[:, :d], len(classes)), wide, y, groups, folds,
                          classes, subsets=subsets, describe=lambda m: dict(m.best_params_))


def cross_corpus(kind: str, src: dict[str, Any], dst: dict[str, Any], shared: Sequence[str],
                 seed: int = 0) -> dict[str, Any]:
    """Train on all of ``src`` and test on all of ``dst``, on the ``shared`` Ekman classes only."""
    idx = EKMAN.encode(list(shared))
    ms, md = np.isin(src["y_ekman"], idx), np.isin(dst["y_ekman"], idx)
    rows = with_copies(src["x"][ms], src["y_ekman"][ms], src["speaker"][ms], [c[ms] for c in src.get("copies", ())])
    model = fit_search(kind, *rows, seed=seed)
    s = class_scores(model, dst["x"][md], len(EKMAN))[:, idx]
    remap = {int(c): i for i, c in enumerate(idx)}
    y = np.array([remap[int(v)] for v in dst["y_ekman"][md]])
    m = classification_metrics(y, s, classes=list(shared))
    return {"model": kind, "chosen": model.best_params_, "accuracy": m["accuracy"], "uar": m["uar"],
            "per_class_recall": m["per_class_recall"], "confusion_matrix": m["confusion_matrix"], "n": m["n"]}


def joint_table(tables: Sequence[dict[str, Any]], folds: Mapping[str, Sequence[Sequence[str]]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], list[list[str]]]:
    """Corpora stacked for the joint ``ekman7`` protocol.

    The first table's folds are kept and the other corpora's groups are dealt round-robin into
    them (speakers prefixed with their corpus name).

    Returns:
        ``(x, y_ekman, groups, {corpus: row mask}, folds)``.
    """
    x = np.concatenate([t["x"] for t in tables])
    y = np.concatenate([t["y_ekman"] for t in tables])
    groups = np.concatenate([prefix_groups(t["name"], t["speaker"]) for t in tables])
    sizes = np.cumsum([0] + [len(t["ids"]) for t in tables])
    masks = {}
    for i, t in enumerate(tables):
        m = np.zeros(len(y), bool)
        m[sizes[i]:sizes[i + 1]] = True
        masks[t["name"]] = m
    first = tables[0]["name"]
    joint = [[f"{first}-{g}" for g in f] for f in folds[first]]
    rest = [f"{t['name']}-{g}" for t in tables[1:] for f in folds[t["name"]] for g in f]
    return x, y, groups, masks, interleave_folds(joint, rest)


def joint_copies(tables: Sequence[dict[str, Any]]) -> list[np.ndarray]:
    """The tables' augmented copies (``table["copies"]``: ``K`` arrays aligned with ``x``) stacked as
    :func:`joint_table` stacks ``x``; ``[]`` when the tables carry none.

    Raises:
        ConfigError: Some tables carry copies and others not, or different numbers of them.
    """
    counts = {len(t.get("copies", ())) for t in tables}
    if len(counts) != 1:
        raise ConfigError(f"every corpus needs the same number of augmented copies, got {sorted(counts)}")
    return [np.concatenate([t["copies"][c] for t in tables]) for c in range(counts.pop())]


def run_protocol(tables: Sequence[dict[str, Any]], folds: Mapping[str, Sequence[Sequence[str]]],
                 kinds: Sequence[str], shared: Sequence[str], seed: int = 0,
                 log: Callable[[str], None] = print, label: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole validation protocol for every candidate in ``kinds``.

    Args:
        tables: The corpora (two for the cross-corpus figures).
        folds: Outer folds of each corpus (held-out speakers).
        kinds: Candidate names (:data:`CANDIDATES`).
            A table may carry ``"copies"``: augmented versions of its rows (``K`` arrays shaped like
            ``x``); every fit then also learns from the copies of its training rows (a held-out
            speaker's copies are never in training), and every score reads clean rows only.
        shared: Ekman classes present in every corpus (the cross-corpus label set).
        seed: Seed of the stochastic candidates.
        log: Where a one-line summary per candidate goes.
        label: Prefix of the log lines.

    Returns:
        ``(results, oof)``: results with ``native``, ``ekman_single``, ``joint`` (with
        ``calibration`` for exportable candidates) and ``cross_corpus``; ``oof`` maps each
        candidate to its joint out-of-fold scores and fold index.
    """
    unknown = [k for k in kinds if k not in CANDIDATES]
    if unknown:
        raise UnknownNameError("voice head candidate", unknown[0], CANDIDATES)
    if len(tables) != 2:
        raise ConfigError(f"the protocol compares two corpora, got {len(tables)}")
    res: dict[str, Any] = {"native": {}, "ekman_single": {}, "joint": {}, "cross_corpus": {},
                           "n_features": int(tables[0]["x"].shape[1])}
    oofs: dict[str, Any] = {}
    x, y, groups, masks, joint_folds = joint_table(tables, folds)
    copies = joint_copies(tables)
    for kind in kinds:
        for t in tables:
            f = folds[t["name"]]
            cp = t.get("copies", ())
            r = _cv(kind, t["x"], t["y_native"], t["speaker"], f, t["native"].classes, seed, copies=cp)
            res["native"].setdefault(t["name"], {})[kind] = {**r["summary"]["all"], "chosen": r["chosen"]}
            r = _cv(kind, t["x"], t["y_ekman"], t["speaker"], f, EKMAN.classes, seed, copies=cp)
            res["ekman_single"].setdefault(t["name"], {})[kind] = {**r["summary"]["all"], "chosen": r["chosen"]}
        r = _cv(kind, x, y, groups, joint_folds, EKMAN.classes, seed,
                subsets={"all": np.ones(len(y), bool), **masks}, copies=copies)
        res["joint"][kind] = {**r["summary"], "chosen": r["chosen"], "folds": joint_folds}
        if kind in EXPORTABLE:
            res["joint"][kind]["calibration"] = calibration_report(r["oof"], y, r["fold_of"])
        oofs[kind] = r
        a, b = tables
        res["cross_corpus"][kind] = {f"{a['name']}->{b['name']}": cross_corpus(kind, a, b, shared, seed),
                                     f"{b['name']}->{a['name']}": cross_corpus(kind, b, a, shared, seed)}
        native = ", ".join(f"{t['name']} native UAR {res['native'][t['name']][kind]['uar_mean']:.3f}" for t in tables)
        log(f"{label}{kind}: {native}; joint UAR {res['joint'][kind]['all']['uar_mean']:.3f}")
    return res, oofs


def to_voice_head(model: GridSearchCV, n_features: int, n_classes: int = 7) -> VoiceHead:
    """Copy a fitted scaler + logistic regression / MLP into a :class:`VoiceHead` (eval mode).

    Raises:
        CheckpointError: The classifier did not see all ``n_classes`` classes, or is not exportable.
    """
    pipe = model.best_estimator_
    scaler, clf = pipe["scale"], pipe["clf"]
    if list(clf.classes_) != list(range(n_classes)):
        raise CheckpointError(f"a shipped head must see all {n_classes} classes, saw {list(clf.classes_)}")
    if not isinstance(clf, (LogisticRegression, MLPClassifier)):
        raise CheckpointError(f"only {EXPORTABLE} heads can be exported, got {type(clf).__name__}")
    hidden = clf.hidden_layer_sizes[0] if isinstance(clf, MLPClassifier) else 0
    head = VoiceHead(VoiceHeadConfig(n_features=n_features, hidden=hidden, num_labels=n_classes))

    def put(t: torch.Tensor, v: np.ndarray) -> None:
        t.copy_(torch.as_tensor(v, dtype=torch.float32))

    with torch.no_grad():
        put(head.mean, scaler.mean_)
        put(head.scale, scaler.scale_)
        if hidden:
            put(head.net[0].weight, clf.coefs_[0].T)
            put(head.net[0].bias, clf.intercepts_[0])
            put(head.net[2].weight, clf.coefs_[1].T)
            put(head.net[2].bias, clf.intercepts_[1])
        else:
            put(head.net[0].weight, clf.coef_)
            put(head.net[0].bias, clf.intercept_)
    return head.eval()


def check_export(model: GridSearchCV, head: VoiceHead, x: np.ndarray, atol: float = 1e-4) -> None:
    """Raise :class:`~emofuse.errors.CheckpointError` unless ``head`` reproduces the sklearn probabilities."""
    with torch.no_grad():
        got = torch.softmax(head(torch.as_tensor(x, dtype=torch.float32)), 1).numpy()
    ref = model.best_estimator_.predict_proba(x)
    if not np.allclose(ref, got, atol=atol):
        raise CheckpointError(f"exported head disagrees with sklearn (max diff {np.abs(ref - got).max():.2g})")
