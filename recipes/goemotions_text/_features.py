"""Cache frozen MiniLM features of a GoEmotions split to disk (plain .npy, no pickle).

Layout of one cache directory ``<root>/<split>-<key>/``:

* ``meta.json``: split name, file hash, encoder package version, max_tokens, layers, n;
* ``offsets.npy``: ``(N + 1,)`` int64, sample ``i`` owns token rows ``offsets[i]:offsets[i+1]``;
* ``tokens_L{k}.npy``: ``(T_total, 384)`` float16 hidden states of layer ``k`` (ragged, flat);
* ``sentence.npy``: ``(N, 384)`` float32 sentence-transformers embedding (float32 pooling);
* ``labels.npy``: ``(N, 28)`` uint8 multi-hot labels.

Texts are encoded in batches sorted by length (little padding); results go back to file order.
Run directly to fill the cache for a data directory:
``python recipes/goemotions_text/_features.py --data-dir ../shared/data/goemotions --layers 6``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from _data import GoSplit, read_split  # noqa: E402

from emofuse.experts._minilm import HIDDEN_SIZE, MAX_TOKENS, MiniLMEncoder, minilm_version  # noqa: E402


def cache_key(split: GoSplit, max_tokens: int) -> str:
    blob = json.dumps([split.sha1, max_tokens, minilm_version()])
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


class FeatureCache:
    """Read-only view of one cache directory (arrays are memory-mapped)."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        self.meta = json.loads((d / "meta.json").read_text())
        self.offsets = np.load(d / "offsets.npy")
        self.sentence = np.load(d / "sentence.npy")
        self.labels = np.load(d / "labels.npy")
        self._tokens: dict[int, np.ndarray] = {}

    def tokens(self, layer: int) -> np.ndarray:
        if layer not in self._tokens:
            self._tokens[layer] = np.load(self.dir / f"tokens_L{layer}.npy", mmap_mode="r")
        return self._tokens[layer]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def build_cache(split: GoSplit, root: Path, *, max_tokens: int = MAX_TOKENS, layers: tuple[int, ...] = (6,),
                batch_size: int = 64, progress: bool = True) -> FeatureCache:
    """Encode ``split`` unless a complete cache with these layers exists; return the cache.

    The cache is keyed by the file's hash, ``max_tokens`` and the encoder package version; a cache
    holding a superset of ``layers`` is reused, one lacking a layer is rebuilt with the union.
    """
    layers = tuple(sorted(set(layers) | {6}))
    d = root / f"{split.name}-{cache_key(split, max_tokens)}"
    if (d / "meta.json").is_file():
        have = FeatureCache(d)
        if set(layers) <= set(have.meta["layers"]):
            return have
        layers = tuple(sorted(set(layers) | set(have.meta["layers"])))
        shutil.rmtree(d)
    tmp = d.with_name(d.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    enc = MiniLMEncoder(max_tokens=max_tokens, layers=layers)
    lengths = np.minimum(np.asarray(enc.count_tokens(split.texts)), max_tokens)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    total = int(offsets[-1])
    mm = {k: np.lib.format.open_memmap(tmp / f"tokens_L{k}.npy", mode="w+", dtype=np.float16,
                                       shape=(total, HIDDEN_SIZE)) for k in layers}
    sentence = np.zeros((len(split), HIDDEN_SIZE), dtype=np.float32)
    order = np.argsort(lengths, kind="stable")
    t0 = time.perf_counter()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    cols = [TextColumn(f"encoding {split.name}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*cols, disable=not progress) as bar:
        task = bar.add_task("enc", total=len(split))
        for s in range(0, len(split), batch_size):
            idx = order[s:s + batch_size]
            out = enc.encode([split.texts[i] for i in idx])
            if not np.array_equal(out.lengths.numpy(), lengths[idx]):
                raise RuntimeError("token counts disagree between counting and encoding")
            sentence[idx] = out.sentence.numpy()
            for k, tok in zip(layers, out.tokens, strict=True):
                t = tok.numpy()
                for j, i in enumerate(idx):
                    mm[k][offsets[i]:offsets[i + 1]] = t[j, :lengths[i]]
            bar.advance(task, len(idx))
    for a in mm.values():
        a.flush()
    del mm
    np.save(tmp / "offsets.npy", offsets)
    np.save(tmp / "sentence.npy", sentence)
    np.save(tmp / "labels.npy", split.labels)
    meta = {"split": split.name, "sha1": split.sha1, "n": len(split), "max_tokens": max_tokens,
            "layers": list(layers), "encoder": f"all-MiniLM-L6-v2 ({minilm_version()})",
            "total_tokens": total, "truncated": int((np.asarray(enc.count_tokens(split.texts)) > max_tokens).sum()),
            "seconds": round(time.perf_counter() - t0, 1), "torch_threads": torch.get_num_threads()}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    tmp.rename(d)
    return FeatureCache(d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--out", default=Path("runs/goemotions_text/features"), type=Path)
    ap.add_argument("--splits", default="dev,train")
    ap.add_argument("--layers", default="6")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    layers = tuple(int(x) for x in args.layers.split(","))
    for name in args.splits.split(","):
        c = build_cache(read_split(args.data_dir / f"{name}.tsv"), args.out, layers=layers)
        print(name, c.dir, c.meta)


if __name__ == "__main__":
    main()
