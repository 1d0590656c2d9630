"""Face expert on faces as the pipeline sees them: FER2013 PublicTest faces inside larger scenes (validation).

A stratified, seeded subset of FER2013 ``PublicTest`` (the validation split; ``PrivateTest`` is
never read) is rendered into 640x480 scenes: each 48x48 face is enlarged (bicubic) so that
the FER crop is 64, 96, 160 or 256 px high, rolled in-plane by 0 or ±15°, pasted with feathered
edges at a seeded random position onto a seeded background (tinted gradient + blurred noise
texture + sensor noise), and saved as PNG (or JPEG quality 60 for the ``jpeg`` conditions).
Each condition is a folder of class-named sub-folders scored by
:func:`emofuse.experts.evaluate.evaluate_expert`, the path ``emofuse evaluate face-fer2013 DIR``
takes for image files: MediaPipe detection → FER-framed crop (levelled by the eyes) → 48x48
grey → ``face-fer2013``. The same faces saved as 48x48 PNGs (read as crops, no detection)
are the baseline.

Per condition: images, faces found, accuracy / UAR on the detected faces, and accuracy / UAR
counting a missed face as a wrong answer. Writes ``results/pipeline_crops.{md,csv,json,png}``
(CSV/JSON in the common robustness row format, :mod:`emofuse.robustness.report`).

Run (about 27 minutes on one thread of a busy 2-core machine; ``--limit 100`` for a smoke run)::

    OMP_NUM_THREADS=1 .venv/bin/python recipes/face/pipeline_crops.py --data-dir /work/shared/data
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from emofuse.data.corpora import load_corpus  # noqa: E402
from emofuse.evaluate.metrics import classification_metrics  # noqa: E402
from emofuse.experts.evaluate import evaluate_expert  # noqa: E402
from emofuse.labels import get_label_space  # noqa: E402
from emofuse.robustness.report import to_csv, to_json  # noqa: E402
from emofuse.robustness.rows import make_row  # noqa: E402

CLASSES = get_label_space("fer2013").classes
RESULTS = Path(__file__).resolve().parent / "results"
EXPERT = "face-fer2013"
SCENE = (640, 480)  # width, height
SIZES = (64, 96, 160, 256)  # side of the pasted FER crop (the face box is ~1/1.2 of it)
ROLLS = (0, -15, 15)  # degrees, positive = counter-clockwise on screen
JPEG_QUALITY = 60


def stratified_subset(labels: np.ndarray, limit: int, seed: int) -> list[int]:
    """About ``limit`` indices, each class in proportion to its share (at least one), seeded."""
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = min(len(idx), max(1, round(limit * len(idx) / len(labels))))
        keep += rng.choice(idx, k, replace=False).tolist()
    return sorted(keep)


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A seeded plausible backdrop ``(H, W, 3)`` uint8: tinted gradient + smooth texture + sensor noise."""
    import cv2

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / max(width, height)
    gx, gy = rng.uniform(-90, 90, 2)
    grey = rng.uniform(70, 180) + gx * (xx - 0.5) + gy * (yy - 0.5)
    cell = int(rng.choice([6, 12, 24]))  # texture grain in px: foliage/fabric .. blurred room
    coarse = rng.standard_normal((height // cell + 2, width // cell + 2), dtype=np.float32)
    texture = cv2.GaussianBlur(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), cell / 3)
    grey = grey + texture / (texture.std() + 1e-6) * rng.uniform(8, 30)
    tint = (1 + rng.uniform(-0.15, 0.15, 3)).astype(np.float32)
    rgb = grey[..., None] * tint + 2.0 * rng.standard_normal((height, width, 3), dtype=np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def render_scene(face: np.ndarray, size: int, roll: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float]]:
    """The 48x48 grey ``face`` enlarged to ``size`` px, rolled by ``roll``° and pasted into a scene.

    Returns:
        The ``(H, W, 3)`` uint8 scene and the centre ``(x, y)`` of the pasted crop in its pixels.
    """
    w, h = SCENE
    scene = Image.fromarray(background(rng, w, h))
    patch = Image.fromarray(face).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")
    # feathered edges (outer 6% of the side) so the crop's border does not read as a hard square
    ramp = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / max(1.0, 0.06 * size), 0, 1)
    mask = Image.fromarray((255 * np.minimum.outer(ramp, ramp)).astype(np.uint8))
    if roll:
        patch = patch.rotate(roll, resample=Image.Resampling.BICUBIC, expand=True)
        mask = mask.rotate(roll, resample=Image.Resampling.BILINEAR, expand=True)
    x = int(rng.integers(0, w - patch.width + 1))
    y = int(rng.integers(0, h - patch.height + 1))
    scene.paste(patch, (x, y), mask)
    return np.asarray(scene), (x + patch.width / 2, y + patch.height / 2)


def conditions() -> list[dict[str, Any]]:
    """Every rendering condition: sizes × rolls as PNG, then sizes at roll 0 as JPEG."""
    out = [{"size": s, "roll": r, "jpeg": None} for r in ROLLS for s in SIZES]
    return out + [{"size": s, "roll": 0, "jpeg": JPEG_QUALITY} for s in SIZES]


def kind_of(cond: dict[str, Any]) -> str:
    """Row ``kind`` (one curve over face sizes per roll / compression)."""
    return f"roll {cond['roll']:+d}°" + (f", JPEG q{cond['jpeg']}" if cond["jpeg"] else "")


def write_folder(root: Path, images: list[np.ndarray], labels: list[str], jpeg: int | None) -> list[str]:
    """``root/<class>/<k>.png|jpg``, the class-folder layout ``emofuse evaluate`` reads; the item ids."""
    for c in CLASSES:
        (root / c).mkdir(parents=True, exist_ok=True)
    names = []
    for k, (img, lab) in enumerate(zip(images, labels, strict=True)):
        names.append(f"{lab}/{k:05d}.{'jpg' if jpeg else 'png'}")
        Image.fromarray(img).save(root / names[-1], **({"quality": jpeg} if jpeg else {"compress_level": 1}))
    return names


class RecordingDetector:
    """The pipeline's detector (``FaceDetector()``, what ``crop_face`` builds by default) keeping each call's faces."""

    def __init__(self) -> None:
        from emofuse.media.face import FaceDetector

        self.detector = FaceDetector()
        self.calls: list[list[Any]] = []

    def __call__(self, rgb: np.ndarray) -> list[Any]:
        """Detections of one image, as the wrapped detector returns them (recorded in call order)."""
        found = self.detector(rgb)
        self.calls.append(found)
        return found


def score(root: Path, detector: RecordingDetector, truth: dict[str, tuple[float, float, int]] | None = None,
          batch_size: int = 128, weights: Path | None = None) -> dict[str, Any]:
    """``evaluate_expert`` on a class folder, plus figures counting a missed face as wrong.

    ``truth`` (item id → pasted crop centre and side) adds ``on_face``: the main detection's
    centre lies within a quarter of the crop side of the pasted face (else it is a false one),
    and ``roll_est``: the median roll read from the eyes (:func:`emofuse.media.face.roll_angle`).
    """
    from emofuse.media.face import roll_angle

    preds = root.parent / f"{root.name}_predictions.csv"
    detector.calls = []
    res = evaluate_expert(EXPERT, root, format="folders", label_space="fer2013", batch_size=batch_size,
                          predictions=preds, detector=detector, weights=weights)
    with open(preds, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    miss = len(CLASSES)  # an extra "no face" class: never true, so misses only lower the true class's recall
    y = [CLASSES.index(r["true"]) for r in table]
    p = [CLASSES.index(r["predicted"]) if r["predicted"] else miss for r in table]
    strict = classification_metrics(y, p, num_classes=miss + 1, classes=[*CLASSES, "no_face"])
    res.update(images=len(table), accuracy_all=strict["accuracy"], uar_all=strict["uar"])
    if truth is not None:
        ids = sorted(truth)  # the folder reader's order: class folder, then file name
        if len(ids) != len(detector.calls):
            raise RuntimeError(f"{len(detector.calls)} detector calls for {len(ids)} scenes")
        on_face, rolls = 0, []
        for item, found in zip(ids, detector.calls, strict=True):
            found = [d for d in found if d[4] >= 0.5 and d[2] > d[0] and d[3] > d[1]]  # as crop_face keeps them
            if not found:
                continue
            best = max(found, key=lambda d: (d[2] - d[0]) * (d[3] - d[1]) * d[4])
            cx, cy, side = truth[item]
            on_face += bool(np.hypot((best[0] + best[2]) / 2 - cx, (best[1] + best[3]) / 2 - cy) <= side / 4)
            rolls.append(roll_angle(best[5] if len(best) > 5 else None))
        res.update(on_face=on_face, roll_est=float(np.median(rolls)) if rolls else None)
    return res


def empty_scene_faces(detector: RecordingDetector, n: int, seed: int) -> int:
    """How many of ``n`` seeded backgrounds without a face the detector finds a face in."""
    rng = np.random.default_rng([seed, 999])
    return sum(any(d[4] >= 0.5 for d in detector(background(rng, *SCENE))) for _ in range(n))


def to_row(cond: dict[str, Any] | None, res: dict[str, Any], seed: int) -> dict[str, Any]:
    """One row of the common robustness format with the detection figures as extra keys."""
    if cond is None:
        row = make_row(EXPERT, "crop", "face", "48x48 crop (no detection)", None, res, seed)
    else:
        cname = f"face {cond['size']} px, roll {cond['roll']:+d}°" + (f", JPEG q{cond['jpeg']}" if cond["jpeg"] else "")
        row = make_row(EXPERT, kind_of(cond), "face", cname, cond["size"], res, seed)
        row.update(roll=cond["roll"], jpeg_quality=cond["jpeg"])
    no_face = int(res.get("no_face", 0)) + int(res.get("unreadable", 0))
    row.update(unit="px crop side", images=res["images"], no_face=no_face,
               detection_rate=1 - no_face / res["images"], accuracy_all=res["accuracy_all"], uar_all=res["uar_all"])
    if "on_face" in res:
        row.update(on_face=res["on_face"], roll_est=res["roll_est"])
    return row


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Table: detection (found, on the face, roll read), acc / UAR on found faces and with misses wrong."""
    lines = [f"{EXPERT} on FER2013 PublicTest faces rendered into {SCENE[0]}x{SCENE[1]} scenes "
             f"(validation; {meta['images']} faces, seed {meta['seed']}; metrics in %)", "",
             "| condition | faces found | on the face | roll read | acc (found) | UAR (found) "
             "| acc (miss = wrong) | UAR (miss = wrong) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        on = f"{100 * r['on_face'] / max(1, r['n']):.1f}" if "on_face" in r else "—"
        roll = "—" if r.get("roll_est") is None else f"{r['roll_est']:+.1f}°"
        lines.append(f"| {r['condition']} | {100 * r['detection_rate']:.1f} | {on} | {roll} "
                     f"| {100 * r['accuracy']:.1f} | {100 * r['uar']:.1f} "
                     f"| {100 * r['accuracy_all']:.1f} | {100 * r['uar_all']:.1f} |")
    e = meta["empty_scenes"]
    lines += ["", f"{meta['images']} images per condition. *faces found*: images with a detection (the rest are "
              "`no_face`); *on the face*: of those, the main detection centred within a quarter crop side of the "
              "pasted face; *roll read*: median roll the pipeline read from the eyes and levelled (the scene "
              "rolls the face counter-clockwise by the condition's angle). "
              f"Backgrounds alone: a face found in {e['with_face']} of {e['n']}."]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy (misses wrong) and detection rate against face size, one line per roll / JPEG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    base = next(r for r in rows if r["kind"] == "crop")
    for kind in dict.fromkeys(r["kind"] for r in rows if r["kind"] != "crop"):
        pts = [r for r in rows if r["kind"] == kind]
        xs = [r["level"] for r in pts]
        ax1.plot(xs, [100 * r["accuracy_all"] for r in pts], marker="o", label=kind)
        ax2.plot(xs, [100 * r["detection_rate"] for r in pts], marker="o", label=kind)
    ax1.axhline(100 * base["accuracy"], color="k", linestyle="--", linewidth=1, label="48x48 crop")
    ax1.set_ylabel("accuracy, missed face = wrong (%)")
    ax2.set_ylabel("faces found (%)")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xticks(SIZES, [str(s) for s in SIZES])
        ax.minorticks_off()
        ax.set_xlabel("pasted FER crop side (px) in a 640x480 scene")
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    fig.suptitle(f"{EXPERT} through MediaPipe crops, FER2013 PublicTest (validation)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("EMOFUSE_DATA_DIR"),
                   help="folder holding fer2013/fer2013.csv.gz (default $EMOFUSE_DATA_DIR)")
    p.add_argument("--limit", type=int, default=700, help="faces in the stratified subset (0: all 3,589)")
    p.add_argument("--seed", type=int, default=0, help="subset, background, position seed")
    p.add_argument("--out", type=Path, default=RESULTS, help="where pipeline_crops.* are written")
    p.add_argument("--weights", type=Path, default=None,
                   help="a face-fer2013 weight folder to score instead of the shipped one")
    p.add_argument("--keep", type=Path, default=None, help="render the scenes here (kept) instead of a temp dir")
    args = p.parse_args(argv)
    if not args.data_dir:
        raise SystemExit("give --data-dir or set $EMOFUSE_DATA_DIR")
    return args


def main(argv: list[str] | None = None) -> None:
    """Render, score and report every condition."""
    args = parse_args(argv)
    t0 = time.time()
    import torch

    torch.set_num_threads(1)
    corpus = load_corpus(Path(args.data_dir) / "fer2013", format="fer2013", usage="PublicTest")
    if args.limit:
        corpus = corpus.subset(stratified_subset(corpus.labels_as_indices(), args.limit, args.seed))
    faces = corpus.pixel_array()
    labels = [it.label for it in corpus.items]
    print(f"{len(faces)} PublicTest faces", flush=True)
    rows = []
    detector = RecordingDetector()
    with tempfile.TemporaryDirectory(prefix="pipeline_crops_") as tmp:
        work = args.keep or Path(tmp)
        write_folder(work / "crop48", list(faces), labels, None)
        rows.append(to_row(None, score(work / "crop48", detector, weights=args.weights), args.seed))
        print(f"48x48 crops: acc {rows[-1]['accuracy']:.3f}", flush=True)
        for i, cond in enumerate(conditions()):
            t = time.time()
            # one generator per condition: the same seed gives the same scenes whatever runs before
            rng = np.random.default_rng([args.seed, i])
            scenes, centres = zip(*(render_scene(f, cond["size"], cond["roll"], rng) for f in faces), strict=True)
            folder = work / (f"s{cond['size']}_r{cond['roll']:+d}" + (f"_q{cond['jpeg']}" if cond["jpeg"] else ""))
            names = write_folder(folder, list(scenes), labels, cond["jpeg"])
            truth = {n: (cx, cy, cond["size"]) for n, (cx, cy) in zip(names, centres, strict=True)}
            rows.append(to_row(cond, score(folder, detector, truth, weights=args.weights), args.seed))
            r = rows[-1]
            print(f"{r['condition']}: found {r['detection_rate']:.3f} (on the face {r['on_face']}), "
                  f"roll read {r['roll_est']}, acc {r['accuracy']:.3f} "
                  f"(miss = wrong {r['accuracy_all']:.3f}) ({time.time() - t:.0f}s)", flush=True)
        empty = empty_scene_faces(detector, len(faces), args.seed)
        print(f"empty scenes with a 'face': {empty} of {len(faces)}", flush=True)
    meta = {"expert": EXPERT, "weights": str(args.weights or "shipped"),
            "corpus": "FER2013 PublicTest (validation)", "images": len(faces), "seed": args.seed,
            "empty_scenes": {"n": len(faces), "with_face": empty},
            "scene": list(SCENE), "level": "side of the pasted FER crop in px (face box ~ side / 1.2)",
            "jpeg_quality": JPEG_QUALITY, "metrics": "accuracy/f1/uar on detected faces; *_all count misses wrong",
            "seconds": round(time.time() - t0, 1), "python": platform.python_version(),
            "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / "pipeline_crops"
    title = f"{EXPERT} on FER2013 PublicTest faces in {SCENE[0]}x{SCENE[1]} scenes (validation)"
    stem.with_suffix(".csv").write_text(to_csv(rows), encoding="utf-8")
    stem.with_suffix(".json").write_text(to_json(rows, title=title, meta=meta), encoding="utf-8")
    md = markdown(rows, meta)
    stem.with_suffix(".md").write_text(md, encoding="utf-8")
    plot(rows, stem.with_suffix(".png"))
    print(md)
    print(f"done in {time.time() - t0:.0f}s -> {stem}.*", flush=True)


if __name__ == "__main__":
    main()
