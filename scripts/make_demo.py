"""Build the demo shipped in ``src/emofuse/demo/`` (a build script: it is not part of the package).

Writes, deterministically for a given eSpeak NG / FFmpeg / Pillow version:

* ``face.jpg`` — head and shoulders of NASA's public-domain portrait of astronaut Eileen Collins
  (``skimage.data.astronaut()``), 280x280, JPEG quality 88;
* ``demo.mp4`` — 640x360, 25 fps, H.264 + AAC: the photo drifting over a slowly changing
  background (made by :func:`emofuse.data.synth_media.write_video`), hidden for ~3 s, with seven
  sentences of speech synthesised by ``espeak-ng`` and a 2.5 s pause;
* ``demo.srt`` — the sentences with their true start/end times;
* ``PROVENANCE.md`` — sources, licences, the rebuild command and the timeline.

Needs ``espeak-ng`` on the PATH (``apt-get install espeak-ng``) and emofuse with its ``audio``
and ``face`` extras. The photo comes from scikit-image; where it is not installed in the same
environment, save it from another one and pass ``--photo``::

    python -c "from skimage import data, io; io.imsave('/tmp/astronaut.png', data.astronaut())"
    .venv/bin/python scripts/make_demo.py --photo /tmp/astronaut.png

(with scikit-image installed next to emofuse, ``python scripts/make_demo.py`` is enough).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from emofuse.data.synth_media import write_video

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "emofuse" / "demo"

VOICE = "en-us+f3"  # the photo shows a woman; f3 came through Whisper best of the female variants
WIDTH, HEIGHT, FPS = 640, 360, 25.0
CRF, PRESET = 23, "medium"
SEED = 7
LEAD_S, GAP_S, PAUSE_S, TAIL_S = 0.6, 0.7, 2.5, 1.0
PAUSE_AFTER = 2  # the long pause follows the third sentence (0-based index 2)
FACE_HIDDEN_SENTENCE, FACE_HIDDEN_S = 4, 3.0  # the face is hidden from 0.3 s before this sentence, for 3 s
#: Crop of the 512x512 astronaut photo: (left, top, right, bottom), head and shoulders.
PHOTO_CROP = (85, 5, 365, 285)
SILENCE_DB = -45.0  # trimming threshold of espeak's leading/trailing silence


@dataclass(frozen=True)
class Sentence:
    """One line of the script: the emotion the words are written to express and espeak-ng prosody."""

    emotion: str
    text: str
    speed: int  # -s, words per minute
    pitch: int  # -p, 0-99
    amplitude: int  # -a, 0-200


SCRIPT = (
    Sentence("neutral", "Good morning. Today I want to tell you about my week.", 150, 45, 100),
    Sentence("happy", "I just got the news, we won! I am so happy about this!", 170, 75, 140),
    Sentence("sad", "I miss her so much. Everything feels empty now.", 130, 30, 85),
    Sentence("angry", "Stop it right now! I am furious, this is completely unacceptable!", 155, 35, 170),
    Sentence("fearful", "Did you hear that noise? I am scared. Someone is inside the house.", 175, 70, 90),
    Sentence("surprised", "Wait, what? You did all of this for me? I can't believe it!", 155, 85, 130),
    Sentence("neutral", "The next meeting is on Tuesday at ten o'clock.", 150, 50, 100),
)


def synthesize(sentence: Sentence, workdir: Path, index: int) -> tuple[np.ndarray, int]:
    """Speak one sentence with espeak-ng; return the waveform (float32, silence trimmed) and its rate (Hz)."""
    wav = workdir / f"s{index}.wav"
    cmd = [
        "espeak-ng",
        "-v",
        VOICE,
        "-s",
        str(sentence.speed),
        "-p",
        str(sentence.pitch),
        "-a",
        str(sentence.amplitude),
        "-w",
        str(wav),
        sentence.text,
    ]
    subprocess.run(cmd, check=True, capture_output=True)  # noqa: S603 - fixed program, our own text
    x, sr = sf.read(wav, dtype="float32")
    if x.ndim == 2:
        x = x.mean(axis=1)
    loud = np.flatnonzero(np.abs(x) > 10 ** (SILENCE_DB / 20))
    return x[loud[0] : loud[-1] + 1], int(sr)


def load_photo(photo: Path | None) -> np.ndarray:
    """The astronaut photo as RGB uint8, from ``--photo`` or scikit-image."""
    if photo is not None:
        with Image.open(photo) as img:
            a = np.asarray(img.convert("RGB"))
    else:
        try:
            from skimage import data
        except ImportError:
            sys.exit("scikit-image is not installed here: save skimage.data.astronaut() to a PNG and pass --photo")
        a = data.astronaut()
    if a.shape != (512, 512, 3):
        sys.exit(f"expected skimage.data.astronaut() (512x512 RGB), got an image of shape {a.shape}")
    return a


def srt_time(t: float) -> str:
    """Seconds to an SRT timestamp ``HH:MM:SS,mmm``."""
    ms = int(round(t * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def espeak_version() -> str:
    """``espeak-ng --version`` without its data path, e.g. ``eSpeak NG text-to-speech: 1.51``."""
    out = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True)  # noqa: S607
    return out.stdout.strip().splitlines()[0].split("Data at")[0].strip()


def provenance(
    timeline: list[tuple[Sentence, float, float]],
    hidden: tuple[float, float],
    duration: float,
    pause: tuple[float, float],
) -> str:
    """The text of PROVENANCE.md."""
    rows = "\n".join(
        f"| {i + 1} | {a:.2f} - {b:.2f} | {s.emotion} | {s.text} | `-s {s.speed} -p {s.pitch} -a {s.amplitude}` |"
        for i, (s, a, b) in enumerate(timeline)
    )
    return f"""# Demo assets: provenance and licences

The files in this folder are built by `scripts/make_demo.py` in the emofuse source repository.
Rebuild them (from the repository root, with `espeak-ng` installed) with

```bash
python -c "from skimage import data, io; io.imsave('/tmp/astronaut.png', data.astronaut())"
.venv/bin/python scripts/make_demo.py --photo /tmp/astronaut.png
```

(or just `python scripts/make_demo.py` where scikit-image is installed next to emofuse).
Built with {espeak_version()}.

## Files and licences

* **`face.jpg`** — a {PHOTO_CROP[2] - PHOTO_CROP[0]}x{PHOTO_CROP[3] - PHOTO_CROP[1]} head-and-shoulders crop
  (box left, top, right, bottom = {PHOTO_CROP}) of the 512x512 portrait of astronaut **Eileen Collins, NASA**,
  taken from scikit-image's `skimage.data.astronaut()`, whose documentation says: "This image was
  downloaded from the NASA Great Images database <https://flic.kr/p/r9qvLn>. No known copyright
  restrictions, released into the public domain." JPEG quality 88.
  Licence: **public domain** (work of NASA, a US government agency).
* **Speech in `demo.mp4`** — seven English sentences **synthesised by this project** with the
  eSpeak NG formant synthesizer, voice `{VOICE}`
  (`espeak-ng -v {VOICE} -s SPEED -p PITCH -a AMPLITUDE -w out.wav TEXT`, settings per sentence
  below). The audio is produced by the project; no recording of a person is involved. Licence:
  as emofuse (Apache-2.0). eSpeak NG itself (GPL-3.0) is only run at build time and is not shipped.
* **`demo.mp4`** — {WIDTH}x{HEIGHT}, {FPS:g} fps H.264 (crf {CRF}, preset {PRESET}) + AAC, {duration:.2f} s,
  assembled by `scripts/make_demo.py` with `emofuse.data.synth_media.write_video` (background texture
  seed {SEED}) from `face.jpg` and the speech. Licence: as emofuse (Apache-2.0); the photo in it
  stays public domain.
* **`demo.srt`** — the sentences with their start/end times, computed from the lengths of the
  synthesised sentences (espeak's leading/trailing silence trimmed at {SILENCE_DB:g} dBFS).
  Licence: as emofuse (Apache-2.0).

## Timeline

Times in seconds from the start of `demo.mp4`. The "intended emotion" is what the words of each
sentence were written to express (and what the espeak prosody settings try to suggest) — the
script's intent, not ground truth about a real person's feelings.

| # | start - end (s) | intended emotion | text | espeak-ng prosody |
|---|---|---|---|---|
{rows}

* {pause[0]:.2f} - {pause[1]:.2f} s: pause, no speech.
* {hidden[0]:.2f} - {hidden[1]:.2f} s: the face is not in the picture (only the background), so the
  face modality is missing there while speech goes on.

## Caveats

* The face is a **still photo** (a smiling portrait) moving across the frame: face predictions
  cannot follow the emotions of the words; they should stay roughly constant wherever the face
  is visible. Disagreement between the face and the text/voice is expected here.
* The voice is a formant synthesiser: its prosody only crudely suggests emotion, so voice
  predictions on it say little about real speech.
"""


def main(argv: list[str] | None = None) -> None:
    """Build face.jpg, demo.mp4, demo.srt and PROVENANCE.md in ``--out`` (default src/emofuse/demo)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", type=Path, help="skimage.data.astronaut() saved as PNG (default: import scikit-image)")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: %(default)s)")
    args = ap.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not on the PATH (apt-get install espeak-ng)")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    photo = load_photo(args.photo)
    face = photo[PHOTO_CROP[1] : PHOTO_CROP[3], PHOTO_CROP[0] : PHOTO_CROP[2]]
    Image.fromarray(np.ascontiguousarray(face)).save(out / "face.jpg", quality=88, optimize=True)
    with Image.open(out / "face.jpg") as img:  # use exactly what is shipped
        face = np.asarray(img.convert("RGB"))

    # speech: sentences separated by short gaps and one long pause
    pieces: list[np.ndarray] = []
    timeline: list[tuple[Sentence, float, float]] = []
    sr = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in enumerate(SCRIPT):
            x, sr_i = synthesize(sentence, Path(tmp), i)
            if sr and sr_i != sr:
                sys.exit(f"espeak-ng changed sample rate ({sr} -> {sr_i})")
            sr = sr_i
            if i == 0:
                pieces.append(np.zeros(int(round(LEAD_S * sr)), dtype=np.float32))
            start = sum(len(p) for p in pieces) / sr
            pieces.append(x)
            timeline.append((sentence, start, start + len(x) / sr))
            gap = PAUSE_S if i == PAUSE_AFTER else (GAP_S if i < len(SCRIPT) - 1 else TAIL_S)
            pieces.append(np.zeros(int(round(gap * sr)), dtype=np.float32))
    wave = np.concatenate(pieces)
    peak = float(np.abs(wave).max())
    if peak > 0.95:
        wave *= 0.95 / peak
    duration = len(wave) / sr
    pause = (timeline[PAUSE_AFTER][2], timeline[PAUSE_AFTER + 1][1])
    h0 = round(timeline[FACE_HIDDEN_SENTENCE][1] - 0.3, 2)
    hidden = (h0, h0 + FACE_HIDDEN_S)

    write_video(
        out / "demo.mp4",
        duration_s=duration,
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        audio=(wave, sr),
        face=face,
        face_visible=lambda t: not hidden[0] <= t < hidden[1],
        crf=CRF,
        preset=PRESET,
        seed=SEED,
    )

    srt = "".join(f"{i + 1}\n{srt_time(a)} --> {srt_time(b)}\n{s.text}\n\n" for i, (s, a, b) in enumerate(timeline))
    (out / "demo.srt").write_text(srt, encoding="utf-8")
    (out / "PROVENANCE.md").write_text(provenance(timeline, hidden, duration, pause), encoding="utf-8")

    print(f"wrote {out}: {duration:.2f} s, speech at {sr} Hz, face hidden {hidden[0]:.2f}-{hidden[1]:.2f} s")
    for s, a, b in timeline:
        print(f"  {a:6.2f} - {b:6.2f}  {s.emotion:9s} {s.text}")
    for name in ("face.jpg", "demo.mp4", "demo.srt", "PROVENANCE.md"):
        print(f"  {name}: {(out / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
