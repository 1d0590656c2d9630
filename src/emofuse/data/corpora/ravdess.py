"""RAVDESS: acted speech and song, codes in ``Actor_NN/MM-VV-EE-II-SS-RR-AA.<ext>`` file names."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from emofuse.data._readers import check_choices, require_path
from emofuse.data.corpora._base import corpus_reader
from emofuse.data.corpora._io import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, skip_report
from emofuse.data.corpora._labels import LabelMap, build_corpus
from emofuse.data.corpora._records import Corpus, CorpusItem
from emofuse.errors import DataError
from emofuse.labels import get_label_space

_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")
RAVDESS_MODALITIES = {"01": "audio_video", "02": "video", "03": "audio"}
RAVDESS_CHANNELS = {"01": "speech", "02": "song"}
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
_RAVDESS_INTENSITY = {"01": "normal", "02": "strong"}


def _sniff(path: Path) -> bool:
    if not path.is_dir():
        return False
    return bool(_ACTOR_DIR.match(path.name)) or any(
        _ACTOR_DIR.match(d.name) for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))


@corpus_reader("ravdess", layout="Actor_NN/ folders of MM-VV-EE-II-SS-RR-AA.<audio|video> files", sniff=_sniff,
               order=10, data_dir="ravdess")
def read_ravdess(
    path: str | Path,
    *,
    modalities: str | Sequence[str] = "audio",
    vocal_channels: str | Sequence[str] = "speech",
    strict: bool = False,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """List RAVDESS recordings from their file names (``Actor_NN/MM-VV-EE-II-SS-RR-AA.<ext>``).

    Codes: ``MM`` modality (01 audio-video, 02 video-only, 03 audio-only), ``VV`` vocal
    channel (01 speech, 02 song), ``EE`` emotion 01..08 (ravdess8: neutral calm happy sad
    angry fearful disgust surprised), ``II`` intensity (01 normal, 02 strong), ``SS``
    statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), ``RR``
    repetition, ``AA`` actor (odd male, even female). Files are found recursively in any
    common audio (wav, flac, mp3, ogg, m4a ...) or video (mp4 ...) format; nothing is decoded.

    Args:
        path: The folder holding ``Actor_NN/`` (or one ``Actor_NN`` folder).
        modalities: Which recordings to keep: ``audio`` (default), ``audio_video``, ``video``, several, or ``all``.
        vocal_channels: ``speech`` (default), ``song``, or ``all``.
        strict: Raise on files with malformed names (or in a different actor's folder) instead of
            skipping them with a warning.
        label_map: Map the ravdess8 class names to other classes.
        label_space: ``ravdess8`` (default) or a space with a registered mapping (``ekman7``).
        unknown: ``error`` or ``drop`` for class names outside ``label_map``.

    Returns:
        Items sorted by path: id = file stem, ``source``, ``speaker`` = actor ``AA``, ``text`` =
        the statement; ``meta``: ``modality``, ``vocal_channel``, ``intensity``, ``statement``,
        ``repetition``, ``actor``, ``gender``. ``info``: ``skipped`` and ``excluded`` counts.
    """
    p = require_path(path, "RAVDESS folder")
    if not p.is_dir():
        raise DataError(f"RAVDESS path {p} must be a folder holding Actor_NN/ folders")
    mods = set(check_choices(modalities, tuple(RAVDESS_MODALITIES.values()), "RAVDESS modality"))
    chans = set(check_choices(vocal_channels, tuple(RAVDESS_CHANNELS.values()), "RAVDESS vocal channel"))
    media = AUDIO_EXTENSIONS + VIDEO_EXTENSIONS
    files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    items, skipped = [], []
    excluded: Counter[str] = Counter()
    emotions = get_label_space("ravdess8").classes
    for f in files:
        m = _RAVDESS_RE.match(f.stem)
        codes = m.groups() if m else ()
        ok = (m is not None and f.suffix.lower() in media and codes[0] in RAVDESS_MODALITIES
              and codes[1] in RAVDESS_CHANNELS and 1 <= int(codes[2]) <= len(emotions)
              and codes[3] in _RAVDESS_INTENSITY and codes[4] in RAVDESS_STATEMENTS and codes[6] != "00")
        folder = _ACTOR_DIR.match(f.parent.name)
        if ok and folder is not None and folder.group(1) != codes[6]:
            ok = False
        if not ok:
            skipped.append(str(f.relative_to(p)))
            continue
        modality, channel, emo, intensity, statement, rep, actor = codes
        if RAVDESS_MODALITIES[modality] not in mods:
            excluded[f"modality={RAVDESS_MODALITIES[modality]}"] += 1
            continue
        if RAVDESS_CHANNELS[channel] not in chans:
            excluded[f"vocal_channel={RAVDESS_CHANNELS[channel]}"] += 1
            continue
        meta = {"modality": RAVDESS_MODALITIES[modality], "vocal_channel": RAVDESS_CHANNELS[channel],
                "intensity": _RAVDESS_INTENSITY[intensity], "statement": statement, "repetition": int(rep),
                "actor": actor, "gender": "male" if int(actor) % 2 else "female"}
        items.append(CorpusItem(f.stem, emotions[int(emo) - 1], source=f, text=RAVDESS_STATEMENTS[statement],
                                speaker=actor, meta=meta))
    skip_report(skipped, len(files), f"RAVDESS {p}", "Actor_NN/MM-VV-EE-II-SS-RR-AA.<audio>", strict)
    if not items and excluded:
        raise DataError(f"RAVDESS {p}: all {sum(excluded.values())} recordings were excluded by the filters "
                        f"({dict(excluded)}); widen modalities= / vocal_channels=")
    modality = "audio" if mods <= {"audio"} else "audiovisual"
    return build_corpus("ravdess", items, modality=modality, root=p, fmt="ravdess", native_space="ravdess8",
                  native_classes=emotions, label_map=label_map, label_space=label_space, unknown=unknown,
                  info={"skipped": len(skipped), "excluded": dict(sorted(excluded.items())),
                        "modalities": sorted(mods), "vocal_channels": sorted(chans)})
