"""Whisper tiny.en encoder states as voice features: validate, compare, ship ``voice-whisper`` if better.

One command, fixed seed, CPU only (1 thread; ~12 min of encoding the first time, then
about 30-60 min of nested cross-validation):

    python recipes/voice_whisper/train.py --data-dir <data-dir>     # or set EMOFUSE_DATA_DIR

Steps:

1. decode every RAVDESS (actors 01-18, speech) and EmoDB file at 16 kHz; cache as .npy under
   ``runs/voice_whisper/features/``: the last-layer Whisper tiny.en encoder states of the real
   audio (:class:`emofuse.experts.whisper_features.WhisperEncoder` reading a 10 s window, as at
   inference: ``--window-s``, README "Encoder window"; float16, ragged) and the 279
   hand-crafted statistics of ``voice-ekman`` (:func:`emofuse.experts.voice.utterance_features`);
2. feature sets: ``whisper`` (mean + std of the states over time, 768 dims) and
   ``whisper+hc`` (those and the 279 hand-crafted statistics, 1047 dims);
3. for each feature set, exactly the protocol of ``recipes/voice/train.py`` (the library's
   :func:`emofuse.train.speech.run_protocol`): speaker-independent nested CV with logreg / MLP / RBF-SVM, RAVDESS
   8-class (6 folds of 3 actors), EmoDB 7-class (leave-one-speaker-out), ekman7 per corpus and
   jointly (6 folds), cross-corpus on the 6 shared classes, temperature scaling + ECE;
4. compare with the current ``voice-ekman`` figures (``recipes/voice/results.json``) fold by fold
   on the joint protocol; only if the best Whisper-based exportable head (logreg, MLP) beats the
   current expert clearly (mean joint UAR +3 points or more *and* better on at least 5 of the 6
   held-out fold groups) is it fitted on all data and shipped as ``voice-whisper``
   (``src/emofuse/experts/weights/voice-whisper/``);
5. ``results.json`` here and in ``runs/voice_whisper/``, and the tables of README.md.

The official RAVDESS actors 19-24 are withheld; every figure is a validation figure.

Validation-only head (README: "Validation-only head without the validation actors"):

    python recipes/voice_whisper/train.py --data-dir <data-dir> --exclude-speakers ravdess:15,16,17,18 \
        --ship-only --out runs/voice_whisper_heldout/weights

``--exclude-speakers`` drops those speakers' files from everything the recipe fits and validates
(the Whisper/hand-crafted caches of all files are reused); ``--ship-only`` skips model selection
and the shipping rule: it validates only the shipped configuration (features, head type and
hyper-parameters read from the shipped card) for the card's metrics, calibration and fusion
prior, refits it with those hyper-parameters and writes head + card to ``--out`` (never this
folder's results.json / README; the shipped weights are refused as ``--out`` when speakers are
excluded).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _card import build_card, render_readme  # noqa: E402  (this recipe's folder, first on sys.path)
from tqdm import tqdm  # noqa: E402

from emofuse.data.corpora import DATA_DIR_ENV, load_corpus  # noqa: E402
from emofuse.experts.base import weights_dir, write_weights  # noqa: E402
from emofuse.experts.voice import FEATURE_NAMES, SAMPLE_RATE  # noqa: E402
from emofuse.experts.whisper_features import (  # noqa: E402
    TARGET_RMS,
    WHISPER_DIM,
    WHISPER_FEATURE_NAMES,
    WhisperEncoder,
    pool_frames,
)
from emofuse.media.audio import load_audio  # noqa: E402
from emofuse.train import speech  # noqa: E402

torch.set_num_threads(1)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXPERT = "voice-whisper"
SEED = 0
SHARED = list(speech.SHARED_EKMAN)
FEATURE_SETS = ("whisper", "whisper+hc")
#: Bump when WhisperEncoder's features change (cache key).
WHISPER_FEATURES_VERSION = 2
#: Shipping rule: mean joint UAR gain (absolute) and folds that must improve.
MIN_GAIN, MIN_FOLDS_BETTER = 0.03, 5


# --------------------------------------------------------------------------- features


def whisper_key(window_s: float) -> str:
    return hashlib.sha1(f"{WHISPER_FEATURES_VERSION}-tiny.en-int8-last-{WHISPER_DIM}-{TARGET_RMS}-w{window_s:g}"
                        .encode()).hexdigest()[:10]


def whisper_frames(name: str, corpus: object, cache: Path, threads: int, batch_size: int,
                   window_s: float) -> tuple[list, dict]:
    """Encoder states of every file of a corpus (cached, float16), and timing."""
    ids = corpus.ids()
    stem = cache / f"{name}-whisper-{whisper_key(window_s)}-n{len(ids)}"
    ff, fo, fi = Path(f"{stem}.frames.npy"), Path(f"{stem}.offsets.npy"), Path(f"{stem}.ids.json")
    timing_f = Path(f"{stem}.timing.json")
    if ff.is_file() and fo.is_file() and fi.is_file() and json.loads(fi.read_text()) == ids:
        frames, offsets = np.load(ff), np.load(fo)
        timing = json.loads(timing_f.read_text()) if timing_f.is_file() else {}
    else:
        enc = WhisperEncoder(threads=threads, batch_size=batch_size, window_s=window_s)
        out: list[np.ndarray] = []
        t_decode = t_encode = 0.0
        batch: list[np.ndarray] = []
        items = list(corpus)
        durations = []
        bar = tqdm(total=len(items), desc=f"whisper {name}", unit="file")
        for k, item in enumerate(items):
            t = time.perf_counter()
            wave, _ = load_audio(item.source, SAMPLE_RATE)
            t_decode += time.perf_counter() - t
            durations.append(len(wave) / SAMPLE_RATE)
            batch.append(wave)
            if len(batch) == batch_size or k == len(items) - 1:
                t = time.perf_counter()
                out += enc.frames(batch)
                t_encode += time.perf_counter() - t
                bar.update(len(batch))
                batch = []
        bar.close()
        offsets = np.cumsum([0] + [len(f) for f in out])
        frames = np.concatenate(out).astype(np.float16)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(ff, frames)
        np.save(fo, offsets)
        fi.write_text(json.dumps(ids))
        timing = {"n": len(items), "encode_s": t_encode, "decode_s": t_decode, "threads": threads,
                  "batch_size": batch_size, "window_s": window_s, "mean_duration_s": float(np.mean(durations)),
                  "encode_s_per_utterance": t_encode / len(items)}
        timing_f.write_text(json.dumps(timing))
    per = [frames[offsets[i]:offsets[i + 1]].astype(np.float32) for i in range(len(ids))]
    return per, timing


def handcrafted_timing(root: Path, n: int = 40) -> float:
    """Seconds per utterance of utterance_features (decode excluded) on the first ``n`` EmoDB files."""
    from emofuse.experts.voice import utterance_features  # noqa: PLC0415

    waves = [load_audio(s, SAMPLE_RATE)[0] for s in load_corpus(root, format="emodb").sources()[:n]]
    t = time.perf_counter()
    for w in waves:
        utterance_features(w)
    return (time.perf_counter() - t) / len(waves)


def feature_matrix(kind: str, frames: list[np.ndarray], hc: np.ndarray) -> np.ndarray:
    w = np.stack([pool_frames(f) for f in frames])
    if kind == "whisper":
        return w
    if kind == "whisper+hc":
        return np.concatenate([w, hc], axis=1)
    raise ValueError(kind)


def cached_tables(data_dir: Path, features: str, window_s: float,
                  exclude: dict[str, list[str]] | None = None) -> dict[str, dict]:
    """RAVDESS and EmoDB tables whose ``x`` is the ``features`` matrix (float64) from this recipe's caches.

    Reads ``runs/voice/features`` and ``runs/voice_whisper/features`` (encoding what is missing) at
    the encoder window ``window_s``; the files of the speakers in ``exclude`` (per corpus) are dropped.
    """
    tabs = {}
    for name in ("ravdess", "emodb"):
        corpus = load_corpus(data_dir / name, format=name)
        tab = speech.handcrafted_table(name, corpus, REPO / "runs" / "voice" / "features")
        frames, _ = whisper_frames(name, corpus, REPO / "runs" / "voice_whisper" / "features", 1, 8, window_s)
        if (exclude or {}).get(name):
            tab, frames, corpus = drop_speakers(tab, frames, corpus, exclude[name])
        tab["x"] = feature_matrix(features, frames, tab["x"]).astype(np.float64)
        tabs[name] = tab
    return tabs


def feature_names(kind: str) -> tuple[str, ...]:
    return WHISPER_FEATURE_NAMES + (FEATURE_NAMES if kind == "whisper+hc" else ())


def portable(path: Path, placeholder: str) -> str:
    """``path`` relative to the repository (cards hold no machine-specific paths), else ``placeholder``."""
    p = path.resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else placeholder


def parse_exclusions(specs: list[str] | None) -> dict[str, list[str]]:
    """``["ravdess:15,16", "emodb:03"]`` -> ``{"ravdess": ["15", "16"], "emodb": ["03"]}`` (ids zero-padded)."""
    out: dict[str, list[str]] = {}
    for spec in specs or []:
        corpus, sep, ids = spec.partition(":")
        if not sep or corpus not in ("ravdess", "emodb") or not ids.strip():
            raise ValueError(f"--exclude-speakers wants CORPUS:ID,ID,... with CORPUS ravdess or emodb, got {spec!r}")
        for s in ids.split(","):
            s = s.strip()
            s = s.zfill(2) if s.isdigit() else s
            if s and s not in out.setdefault(corpus, []):
                out[corpus].append(s)
    return {k: sorted(v) for k, v in out.items()}


def drop_speakers(table: dict, frames: list, corpus: object, speakers: list[str]) -> tuple[dict, list, object]:
    """The table, encoder frames and corpus without the files of ``speakers`` (all must be present)."""
    missing = sorted(set(speakers) - set(table["speaker"].tolist()))
    if missing:
        raise ValueError(f"{table['name']}: no files of speaker(s) {missing} to exclude "
                         f"(speakers: {sorted(set(table['speaker'].tolist()))})")
    keep = ~np.isin(table["speaker"], speakers)
    idx = np.flatnonzero(keep)
    t = dict(table, ids=[table["ids"][i] for i in idx])
    for k in ("x", "speaker", "y_native", "y_ekman"):
        t[k] = np.asarray(table[k])[keep]
    if "copies" in table:
        t["copies"] = [c[keep] for c in table["copies"]]
    return t, [frames[i] for i in idx], corpus.subset(idx.tolist())


def augmented(tabs: dict[str, dict], corpora: dict, copies: int, window_s: float, features: str) -> dict[str, dict]:
    """The tables with ``copies`` augmented ``whisper+hc`` copies of every file (``augment.py``'s cache, encoded
    when missing) under ``"copies"``: every fit of the protocol and the shipped head also learn from them."""
    if features != "whisper+hc":
        raise SystemExit(f"--augment-copies: the augmented caches hold whisper+hc features, not {features!r}")
    import augment  # noqa: PLC0415  (this folder; imports this module)

    out = {}
    for name, tab in tabs.items():
        got = [augment.aug_features(name, corpora[name], k, (0, 1), window_s) for k in range(copies)]
        out[name] = dict(tab, copies=[g[0].astype(np.float64) for g in got])
        print(f"{name}: {copies} augmented cop{'y' if copies == 1 else 'ies'} of {len(tab['ids'])} files", flush=True)
    return out


# --------------------------------------------------------------------------- protocol


def paired(base: dict, new: dict) -> dict:
    """Joint-protocol fold-by-fold UAR difference (new - base); folds matched by held-out speakers."""
    b = {tuple(f["held_out"]): f["uar"] for f in base["all"]["folds"]}
    diffs = [f["uar"] - b[tuple(f["held_out"])] for f in new["all"]["folds"]]
    return {"diff_mean": float(np.mean(diffs)), "diffs": diffs, "folds_better": int(sum(d > 0 for d in diffs)),
            "n_folds": len(diffs)}


# --------------------------------------------------------------------------- shipping


def main(argv: list[str] | None = None) -> None:
    """Run the recipe (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV),
                    help=f"folder holding ravdess/ and emodb/ (default ${DATA_DIR_ENV})")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "voice_whisper")
    ap.add_argument("--models", default="logreg,mlp,svm-rbf", help="candidates to validate (comma-separated)")
    ap.add_argument("--features", default=",".join(FEATURE_SETS), help="feature sets to validate")
    ap.add_argument("--threads", type=int, default=1, help="CTranslate2 encoder threads")
    ap.add_argument("--batch-size", type=int, default=8, help="utterances per encode call")
    ap.add_argument("--window-s", type=float, default=10.0,
                    help="Whisper encoder input window for training and validation, s (the shipped head: 10, as "
                         "at inference; 30 = Whisper's own, the window of the model selection in README)")
    ap.add_argument("--infer-window-s", type=float, default=10.0,
                    help="encoder window written to the card for inference (see the README: Encoder window)")
    ap.add_argument("--out", type=Path, default=None,
                    help="weights folder (default the shipped voice-whisper weights; "
                         "runs/voice_whisper_heldout/weights with --exclude-speakers)")
    ap.add_argument("--exclude-speakers", nargs="+", metavar="CORPUS:IDS", default=None,
                    help="speakers left out of everything fitted and validated, e.g. ravdess:15,16,17,18 "
                         "(a validation-only head; the card says so)")
    ap.add_argument("--ship-only", action="store_true",
                    help="no model selection, no shipping rule: validate and fit only the shipped configuration "
                         "(features, head, hyper-parameters from --ship-card) and write it to --out")
    ap.add_argument("--ship-card", type=Path, default=weights_dir(EXPERT) / "card.json",
                    help="card whose configuration --ship-only refits (default the shipped voice-whisper card)")
    ap.add_argument("--augment-copies", type=int, default=None, choices=(0, 1, 2),
                    help="augmented copies of every training file (augment.py; whisper+hc only), in every fit "
                         "of the protocol and in the shipped head (default: the --ship-card's with --ship-only, "
                         "else 0)")
    ap.add_argument("--no-ship", action="store_true", help="validate only, never write weights")
    ap.add_argument("--limit", type=int, default=None,
                    help="files per speaker (smoke runs: implies --no-ship and leaves this folder untouched)")
    args = ap.parse_args(argv)
    if args.data_dir is None:
        ap.error(f"--data-dir (or ${DATA_DIR_ENV}) must name the folder holding ravdess/ and emodb/")
    smoke = bool(args.limit)
    try:
        excluded = parse_exclusions(args.exclude_speakers)
    except ValueError as e:
        ap.error(str(e))
    if args.out is None:
        args.out = REPO / "runs" / "voice_whisper_heldout" / "weights" if excluded else weights_dir(EXPERT)
    if excluded and args.out.resolve() == weights_dir(EXPERT).resolve():
        ap.error("--exclude-speakers writes a validation-only head: give an --out other than the shipped weights")
    alt = bool(excluded or args.ship_only)  # never rewrites this folder's results.json / README
    res_dir = args.out.parent if alt and args.out.resolve() != weights_dir(EXPERT).resolve() else args.runs
    ship_cfg = None
    if args.ship_only:
        shipped = json.loads(args.ship_card.read_text())
        ship_cfg = {"card": portable(args.ship_card, "<ship-card>"), "features": shipped["preprocessing"]["features"],
                    "model": shipped["head"]["type"], "hyper_parameters": shipped["head"]["hyper_parameters"],
                    "head_config": shipped["head"]["config"],
                    "encoder_window_s": shipped["preprocessing"].get("encoder_window_s"),
                    "augment_copies": (shipped["training_data"].get("augmentation") or {}).get("copies", 0)}
        args.models, args.features = ship_cfg["model"], ship_cfg["features"]
        print(f"--ship-only: {ship_cfg}", flush=True)
        if ship_cfg["encoder_window_s"] not in (None, args.infer_window_s):
            print(f"warning: --infer-window-s {args.infer_window_s:g} differs from the card's encoder_window_s "
                  f"{ship_cfg['encoder_window_s']:g}", flush=True)
    if args.augment_copies is None:
        args.augment_copies = ship_cfg["augment_copies"] if ship_cfg else 0
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    t0 = time.time()
    cache = args.runs / "features"
    corpora = {n: speech.per_speaker(load_corpus(args.data_dir / n, format=n), args.limit)
               for n in ("ravdess", "emodb")}
    hc_cache = REPO / "runs" / "voice" / "features"  # shared with recipes/voice (same features, same key)
    rav, emo = (speech.handcrafted_table(n, c, hc_cache, progress=lambda xs, n=n: tqdm(xs, desc=f"features {n}"))
                for n, c in corpora.items())
    frames, timing = {}, {}
    for name, corpus in corpora.items():
        frames[name], timing[name] = whisper_frames(name, corpus, cache, args.threads, args.batch_size,
                                                    args.window_s)
    timing["handcrafted_s_per_utterance"] = handcrafted_timing(args.data_dir / "emodb")
    tabs = {"ravdess": rav, "emodb": emo}
    if args.augment_copies:
        tabs = augmented(tabs, corpora, args.augment_copies, args.window_s, args.features)
    for name, spk in excluded.items():  # features of all files are cached; the excluded ones are dropped here
        tabs[name], frames[name], corpora[name] = drop_speakers(tabs[name], frames[name], corpora[name], spk)
        print(f"excluded {name} speakers {spk}: {len(tabs[name]['ids'])} files left", flush=True)
    rav, emo = tabs["ravdess"], tabs["emodb"]
    print(f"[{time.time() - t0:6.0f}s] features ready; timing {timing}", flush=True)

    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    sets = [k.strip() for k in args.features.split(",") if k.strip()]
    base = json.loads((HERE.parent / "voice" / "results.json").read_text())
    results: dict = {"seed": SEED, "n": {"ravdess": len(rav["ids"]), "emodb": len(emo["ids"])}, "timing": timing,
                     "encoder_window_s": args.window_s, "infer_window_s": args.infer_window_s,
                     "baseline": "recipes/voice/results.json (voice-ekman, 279 hand-crafted statistics)",
                     "feature_sets": {}}
    if excluded:
        results["excluded_speakers"] = excluded
    if args.augment_copies:
        import augment  # noqa: PLC0415

        results["augmentation"] = {"copies": args.augment_copies, "version": augment.AUG_VERSION,
                                   "conditions": dict(zip(augment.KINDS, augment.WEIGHTS, strict=True)),
                                   "description": " ".join(augment.__doc__.split("\n\n")[1:3]),
                                   "validation": "recipes/voice_whisper/results_augment.md (before/after study)"}
    if ship_cfg:
        results["ship_only"] = ship_cfg
    results["command"] = " ".join(
        ["python recipes/voice_whisper/train.py --data-dir <data-dir>"]
        + ([f"--window-s {args.window_s:g}"] if args.window_s != 10.0 else [])
        + ([f"--infer-window-s {args.infer_window_s:g}"] if args.infer_window_s != 10.0 else [])
        + ([f"--augment-copies {args.augment_copies}"]
           if args.augment_copies != (ship_cfg["augment_copies"] if ship_cfg else 0) else [])
        + (["--exclude-speakers"] + [c + ":" + ",".join(v) for c, v in excluded.items()] if excluded else [])
        + (["--ship-only"] if args.ship_only else [])
        + ([f"--out {portable(args.out, '<out>')}"] if alt else []))
    folds = speech.speaker_folds([rav, emo])
    for fs in sets:
        r2 = dict(rav, x=feature_matrix(fs, frames["ravdess"], rav["x"]))
        e2 = dict(emo, x=feature_matrix(fs, frames["emodb"], emo["x"]))  # copies (whisper+hc) ride along
        res, _ = speech.run_protocol([r2, e2], folds, kinds, SHARED, seed=SEED, label=f"{fs} ",
                                     log=lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True))
        # fold-by-fold pairing needs voice-ekman's folds: not with other speakers or a smoke subset
        res["paired_vs_baseline"] = {k: paired(base["joint"][k], res["joint"][k]) for k in kinds
                                     if k in base["joint"] and not smoke and not excluded}
        results["feature_sets"][fs] = res
        res_dir.mkdir(parents=True, exist_ok=True)
        (res_dir / "results.partial.json").write_text(json.dumps(results, indent=1, default=float))

    # decision: best exportable (logreg/mlp) head over all feature sets, on the joint protocol
    base_best = max(speech.EXPORTABLE, key=lambda k: base["joint"][k]["all"]["uar_mean"])
    cands = [(fs, k) for fs in sets for k in kinds if k in speech.EXPORTABLE]
    if not cands:
        ap.error(f"--models must include one of {speech.EXPORTABLE}")
    fs_best, k_best = max(cands, key=lambda c: results["feature_sets"][c[0]]["joint"][c[1]]["all"]["uar_mean"])
    new = results["feature_sets"][fs_best]["joint"][k_best]
    gain = new["all"]["uar_mean"] - base["joint"][base_best]["all"]["uar_mean"]
    if args.ship_only:
        # a smoke run may write only outside the shipped weights (to test the card path)
        ship = not args.no_ship and (not smoke or args.out.resolve() != weights_dir(EXPERT).resolve())
        results["decision"] = {"ship_only": True, "best": {"features": fs_best, "model": k_best},
                               "joint_uar": new["all"]["uar_mean"],
                               "rule": "--ship-only: the configuration of " + ship_cfg["card"] + " (features, head, "
                                       "hyper-parameters), no model selection and no shipping rule",
                               "ship": bool(ship)}
        print(f"ship-only: {fs_best}/{k_best} joint UAR {new['all']['uar_mean']:.3f} -> "
              f"{'WRITE ' + str(args.out) if ship else 'not written'}", flush=True)
    else:
        cmp = ({"folds_better": 0, "diffs": []} if smoke or excluded
               else paired(base["joint"][base_best], new))
        ship = (gain >= MIN_GAIN and cmp["folds_better"] >= MIN_FOLDS_BETTER and not args.no_ship and not smoke
                and not excluded)  # a head without some speakers is only written by --ship-only
        results["decision"] = {"baseline_shipped": base_best, "best": {"features": fs_best, "model": k_best},
                               "joint_uar_gain": gain, "paired_vs_shipped_baseline": cmp,
                               "rule": f"ship if gain >= {MIN_GAIN} and >= {MIN_FOLDS_BETTER}/6 folds better",
                               "ship": bool(ship)}
        print(f"decision: best {fs_best}/{k_best} joint UAR {new['all']['uar_mean']:.3f} vs voice-ekman "
              f"{base['joint'][base_best]['all']['uar_mean']:.3f} (gain {gain:+.3f}, {cmp['folds_better']}/6 folds "
              f"better) -> {'SHIP' if ship else 'do not ship'}", flush=True)

    card = None
    if ship:
        tables = [dict(t, x=feature_matrix(fs_best, frames[t["name"]], t["x"])) for t in (rav, emo)]
        x, y, groups, _, _ = speech.joint_table(tables, folds)
        x_clean = x
        x, y, groups = speech.with_copies(x, y, groups, speech.joint_copies(tables))
        grid = {k: [v] for k, v in ship_cfg["hyper_parameters"].items()} if ship_cfg else None
        model = speech.fit_search(k_best, x, y, groups, inner_folds=6, seed=SEED, grid=grid)
        head = speech.to_voice_head(model, x.shape[1])
        speech.check_export(model, head, x[:20])
        if ship_cfg and head.config.to_dict() != ship_cfg["head_config"]:
            raise SystemExit(f"--ship-only: head {head.config.to_dict()} differs from {ship_cfg['head_config']}")
        results["shipped"] = {"features": fs_best, "model": k_best, "chosen": dict(model.best_params_),
                              "calibration": new["calibration"]}
        card = build_card(results, head.config.to_dict(), fs_best, k_best, feature_names(fs_best), base, SHARED)
        write_weights(args.out, head, card)
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / "results.json").write_text(json.dumps(results, indent=1, default=float))
    if not smoke and not alt:
        (HERE / "results.json").write_text(json.dumps(results, indent=1, default=float))
        render_readme(results, base, card, HERE / "README.md")
    if ship:
        from emofuse.experts.voice_whisper import VoiceWhisperExpert  # noqa: PLC0415

        expert = VoiceWhisperExpert.from_dir(args.out, threads=args.threads)
        srcs = corpora["emodb"].sources()[:3]
        out = expert.predict(srcs)
        # the shipped expert reproduces the cached-feature probabilities (float16 frame cache aside)
        with torch.no_grad():
            ref = torch.softmax(head(torch.as_tensor(x_clean[len(rav["ids"]):len(rav["ids"]) + 3])), 1).numpy()
        print("shipped", fs_best, k_best, model.best_params_, "weights", args.out, "T",
              card["calibration"]["temperature"], "example", out.ekman_labels(),
              f"max |p - p_cached| {np.abs(out.probs - ref).max():.3g}", f"[{time.time() - t0:.0f}s]")
    print(f"done [{time.time() - t0:.0f}s]")


if __name__ == "__main__":
    main()
