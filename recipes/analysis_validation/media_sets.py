"""What the validation-media builders of this recipe share: splits, source pools and one clip writer.

The issue's protocol splits every source by person: **train** clips use RAVDESS actors 01-14,
FER2013 ``Training`` faces and MELD ``train`` sentences; **val** clips use actors 15-18,
FER2013 ``PublicTest`` faces and MELD ``dev`` sentences. Labels are ekman7 (RAVDESS calm →
neutral, MELD joy → happiness).

Audio codecs cycle over the containers real files come in (AAC in MP4, Opus in WebM, MP3 in
Matroska), so the voice path is measured through lossy codecs, not on clean PCM.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.data.corpora import load_corpus
from emofuse.data.synth_media import write_video
from emofuse.labels import map_label
from emofuse.media.audio import load_audio

SR = 16000
SIZES = (0.35, 0.5, 0.7)  # pasted face height / frame height
#: (suffix, audio codec) cycled over the clips.
CODECS = ((".mp4", "aac"), (".webm", "libopus"), (".mkv", "libmp3lame"))
SPLITS: dict[str, dict[str, Any]] = {
    "train": {"actors": list(range(1, 15)), "fer": "Training", "meld": "train_sent_emo.csv"},
    "val": {"actors": [15, 16, 17, 18], "fer": "PublicTest", "meld": "dev_sent_emo.csv"},
}


@dataclass
class Sources:
    """Pools of one split, keyed by ekman7 class: faces (48x48 uint8), speech items, sentences."""

    faces: dict[str, list[np.ndarray]]
    speech: dict[tuple[int, str], list[Any]]
    sentences: dict[str, list[str]]
    actors: list[int]


def _sentences(path: Path, min_words: int = 4, max_words: int = 25) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            text = re.sub(r"\s+", " ", row["Utterance"].replace("\u2019", "'").replace("\u2018", "'")).strip()
            if min_words <= len(text.split()) <= max_words:
                out.setdefault(map_label(row["Emotion"], "meld7", "ekman7"), []).append(text)
    return out


def load_sources(data_dir: Path, split: str, actors: list[int] | None = None, texts: bool = False) -> Sources:
    """Load the faces, utterances (and with ``texts`` the MELD sentences) of one split."""
    spec = SPLITS[split]
    actors = list(actors or spec["actors"])
    faces: dict[str, list[np.ndarray]] = {}
    for item in load_corpus(data_dir / "fer2013", format="fer2013", usage=spec["fer"]):
        faces.setdefault(map_label(item.label, "fer2013", "ekman7"), []).append(item.pixels)
    speech: dict[tuple[int, str], list[Any]] = {}
    for item in load_corpus(data_dir / "ravdess", format="ravdess"):
        if int(item.speaker) in actors:
            speech.setdefault((int(item.speaker), map_label(item.label, "ravdess8", "ekman7")), []).append(item)
    sentences = _sentences(data_dir / "meld" / spec["meld"]) if texts else {}
    return Sources(faces, speech, sentences, actors)


def face_rgb(pixels: np.ndarray, side: int = 192) -> np.ndarray:
    """A 48x48 grey FER2013 face upscaled to ``side`` px RGB."""
    from PIL import Image

    img = Image.fromarray(np.asarray(pixels, np.uint8)).resize((side, side), Image.BICUBIC).convert("RGB")
    return np.asarray(img)


def write_clip(path_stem: Path, k: int, item: Any, face: np.ndarray, rng: random.Random,
               pad_s: float = 0.5) -> tuple[Path, float, float, float]:
    """Write one clip: the utterance of ``item`` with ``pad_s`` of silence around it, over ``face``.

    The container/codec and face size cycle with ``k``. Returns ``(path, speech_start_s,
    speech_end_s, face_scale)``.
    """
    wave, _ = load_audio(item.source, SR)
    pad = np.zeros(int(pad_s * SR), np.float32)
    audio = np.concatenate([pad, wave, pad])
    suffix, codec = CODECS[k % len(CODECS)]
    size = SIZES[(k // len(CODECS)) % len(SIZES)]
    path = path_stem.with_suffix(suffix)
    write_video(path, duration_s=len(audio) / SR, width=640, height=360, fps=15.0, audio=(audio, SR),
                audio_codec=codec, face=face_rgb(face), face_scale=size, seed=rng.randrange(1 << 30))
    return path, pad_s, pad_s + len(wave) / SR, size


def write_srt(path: Path, start: float, end: float, text: str) -> None:
    """One-cue SRT transcript."""
    def ts(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    path.write_text(f"1\n{ts(start)} --> {ts(end)}\n{text}\n", encoding="utf-8")


def write_voice_list(out: Path, rows: list[dict[str, Any]], data_dir: Path) -> Path:
    """``voice_files.csv``: the original RAVDESS file of each clip's utterance (``path,label,speaker``).

    ``emofuse evaluate voice-whisper <out>/voice_files.csv`` scores the voice expert on the same
    utterances as whole files — the reference the voice path inside ``analyze`` is held to.
    Paths are relative to ``out`` (the corpus is referenced, never copied).
    """
    import os

    target = out / "voice_files.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "speaker", "clip"])
        w.writeheader()
        for r in rows:
            actor = int(r["source"].rsplit("-", 1)[1].split(".")[0])
            src = data_dir / "ravdess" / f"Actor_{actor:02d}" / r["source"]
            w.writerow({"path": os.path.relpath(src.resolve(), out.resolve()), "label": r["voice_emotion"]
                        if "voice_emotion" in r else r["label"], "speaker": f"{actor:02d}", "clip": r["file"]})
    return target


def write_labels(path: Path, rows: list[dict[str, Any]]) -> None:
    """``labels.csv`` with one row per clip (``file,label`` first, then the clip's description)."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def split_parser(doc: str, kind: str) -> argparse.ArgumentParser:
    """The builders' shared options: ``--data-dir --split --out --actors --seed``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get("EMOFUSE_DATA_DIR"))
    ap.add_argument("--split", choices=sorted(SPLITS), default="val")
    ap.add_argument("--out", type=Path, default=None, help=f"default runs/<split>_{kind}")
    ap.add_argument("--actors", type=int, nargs="+", default=None, help="default: the split's actors")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def parse_split_args(ap: argparse.ArgumentParser, kind: str, needs: str) -> argparse.Namespace:
    """Parse, check ``--data-dir`` (``needs``: the corpora it must hold) and default ``--out``."""
    args = ap.parse_args()
    if args.data_dir is None:
        ap.error(f"--data-dir (or $EMOFUSE_DATA_DIR) must name the folder holding {needs}")
    args.out = args.out or Path(f"runs/{args.split}_{kind}")
    return args
