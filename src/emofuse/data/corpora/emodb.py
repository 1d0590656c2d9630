"""Berlin EmoDB: German acted speech, labels and speakers in the ``SSTTTEv.wav`` file names."""

from __future__ import annotations

import re
from pathlib import Path

from emofuse.data._readers import require_path
from emofuse.data.corpora._base import corpus_reader
from emofuse.data.corpora._io import AUDIO_EXTENSIONS, skip_report
from emofuse.data.corpora._labels import LabelMap, build_corpus
from emofuse.data.corpora._records import Corpus, CorpusItem
from emofuse.errors import DataError
from emofuse.labels import get_label_space

_EMODB_RE = re.compile(r"^(?P<speaker>\d{2})(?P<text>[a-z]\d{2})(?P<emotion>[WLEAFTN])(?P<version>[a-z])$")
#: EmoDB emotion letters (German initials) → emodb7 classes.
EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
                  "N": "neutral"}
# Speaker genders from the EmoDB documentation (10 actors, 5 female, 5 male).
_EMODB_GENDER = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male", "12": "male",
                 "13": "female", "14": "female", "15": "male", "16": "female"}


def _sniff(path: Path) -> bool:
    if not path.is_dir():
        return False
    return (path / "wav").is_dir() or any(_EMODB_RE.match(f.stem) for f in path.iterdir() if f.is_file())


@corpus_reader("emodb", layout="a folder of SSTTTEv.wav files (or holding wav/)", sniff=_sniff, order=30,
               data_dir="emodb")
def read_emodb(
    path: str | Path,
    *,
    strict: bool = False,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """List the Berlin Database of Emotional Speech (EmoDB) utterances from their file names.

    File names follow ``SSTTTEv.wav``: speaker ``SS``, text code ``TTT``, emotion letter ``E``
    (W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral), version ``v``.
    Any audio extension is accepted (a converted copy); nothing is decoded.

    Args:
        path: The EmoDB folder (its ``wav/`` sub-folder is used when present) or ``wav/`` itself.
        strict: Raise on files not named like ``SSTTTEv.<audio>`` instead of skipping them with a warning.
        label_map: Map the emodb7 class names to other classes.
        label_space: ``emodb7`` (default) or a space with a registered mapping (``ekman7``).
        unknown: ``error`` or ``drop`` for class names outside ``label_map``.

    Returns:
        Items sorted by file name: id = file stem, ``source``, ``speaker`` = ``SS``, ``text`` =
        the text code ``TTT`` (the sentence, e.g. ``a01``, the same in every emotion); ``meta``:
        ``text_code``, ``version``, ``gender``. Label space ``emodb7``; ``info["skipped"]``.
    """
    p = require_path(path, "EmoDB folder")
    if not p.is_dir():
        raise DataError(f"EmoDB path {p} must be a folder (of SSTTTEv.wav files, or holding wav/)")
    folder = p / "wav" if (p / "wav").is_dir() else p
    files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    items, skipped = [], []
    for f in files:
        m = _EMODB_RE.match(f.stem)
        if m is None or f.suffix.lower() not in AUDIO_EXTENSIONS:
            skipped.append(f.name)
            continue
        spk = m["speaker"]
        meta = {"text_code": m["text"], "version": m["version"]}
        if spk in _EMODB_GENDER:
            meta["gender"] = _EMODB_GENDER[spk]
        items.append(CorpusItem(f.stem, EMODB_EMOTIONS[m["emotion"]], source=f, text=m["text"], speaker=spk,
                                meta=meta))
    skip_report(skipped, len(files), f"EmoDB {folder}", "SSTTTEv.wav (e.g. 03a01Wa.wav)", strict)
    return build_corpus("emodb", items, modality="audio", root=folder, fmt="emodb", native_space="emodb7",
                  native_classes=get_label_space("emodb7").classes, label_map=label_map, label_space=label_space,
                  unknown=unknown, info={"skipped": len(skipped)})
