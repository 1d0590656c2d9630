"""Images or audio files stored in class-named sub-folders (``root/<class>/*``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from emofuse.data._readers import require_path
from emofuse.data.corpora._base import corpus_reader
from emofuse.data.corpora._io import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from emofuse.data.corpora._labels import LabelMap, build_corpus
from emofuse.data.corpora._records import Corpus, CorpusItem
from emofuse.errors import DataError


def _sniff(path: Path) -> bool:
    if not path.is_dir():
        return False
    media = AUDIO_EXTENSIONS + IMAGE_EXTENSIONS
    subdirs = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    return any(f.is_file() and f.suffix.lower() in media for d in subdirs for f in d.rglob("*"))


@corpus_reader("folders", layout="class-named sub-folders of images or audio files (root/<class>/*)", sniff=_sniff,
               order=90)
def read_folders(
    path: str | Path,
    *,
    extensions: Sequence[str] | None = None,
    recursive: bool = True,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """List images or audio files stored in class-named sub-folders (``root/<class>/*.png|jpg|wav ...``).

    Args:
        path: The root folder; each sub-folder is a class (its name, or ``label_map`` of it).
        extensions: File suffixes to list (default: common image and audio formats).
        recursive: Also list files in nested folders of a class folder (``root/happy/spk1/x.wav``).
        label_map: Folder name → class (dict, or a JSON/YAML file).
        label_space: Registered space the (mapped) folder names must belong to.
        unknown: ``error`` or ``drop`` for folder names outside ``label_map``/``label_space``.

    Returns:
        Items sorted by path: id = path relative to the root, ``source``. Classes: those of
        ``label_space``, else of ``label_map``, else the sorted folder names (empty ones included).
        Modality ``image``, ``audio`` or ``mixed``. Files are not decoded.
    """
    p = require_path(path, "class folder root")
    if not p.is_dir():
        raise DataError(f"{p} must be a folder of class sub-folders")
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}"
                 for e in (extensions or AUDIO_EXTENSIONS + IMAGE_EXTENSIONS))
    class_dirs = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{p} has no class sub-folders (expected root/<class>/<files>)")
    items = []
    for d in class_dirs:
        found = d.rglob("*") if recursive else d.glob("*")
        for f in sorted(found):
            if f.is_file() and f.suffix.lower() in exts and not f.name.startswith("."):
                items.append(CorpusItem(f.relative_to(p).as_posix(), d.name, source=f))
    if not items:
        raise DataError(f"{p}: no files with suffixes {list(exts)} in its {len(class_dirs)} class folders")
    kinds = {"image" if it.source.suffix.lower() in IMAGE_EXTENSIONS  # type: ignore[union-attr]
             else "audio" if it.source.suffix.lower() in AUDIO_EXTENSIONS else "other"  # type: ignore[union-attr]
             for it in items}
    modality = kinds.pop() if len(kinds) == 1 else "mixed"
    root_files = sum(1 for f in p.iterdir() if f.is_file() and f.suffix.lower() in exts)
    native = [d.name for d in class_dirs] if label_map is None and label_space is None else None
    return build_corpus(p.name, items, modality=modality, root=p, fmt="folders", native_classes=native,
                  label_map=label_map, label_space=label_space, unknown=unknown,
                  info={"root_files_ignored": root_files} if root_files else None)
