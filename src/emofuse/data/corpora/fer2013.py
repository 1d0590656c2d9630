"""FER2013: 48x48 grey face images inlined in ``fer2013.csv`` (``emotion,pixels,Usage``)."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emofuse.data._readers import check_choices, require_path
from emofuse.data.corpora._base import corpus_reader
from emofuse.data.corpora._io import first_line, header_columns, read_bytes
from emofuse.data.corpora._labels import LabelMap, build_corpus
from emofuse.data.corpora._records import Corpus, CorpusItem
from emofuse.errors import DataError, MissingFileError
from emofuse.labels import get_label_space

FER2013_USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
_FER_SIDE = 48


def _fer_file_in(folder: Path) -> Path | None:
    for name in ("fer2013.csv.gz", "fer2013.csv", "fer2013.tar.gz", "fer2013.zip"):
        if (folder / name).is_file():
            return folder / name
    cands = sorted(f for f in folder.iterdir() if f.is_file() and f.name.lower().endswith((".csv", ".csv.gz")))
    return cands[0] if len(cands) == 1 else None


def _fer_pixel_row(text: bytes, line: int, name: str) -> np.ndarray:
    """One ``pixels`` field → 2304 int16 values, parsed by numpy's C text parser.

    ``np.fromstring`` stops early on anything that is not a number, with a DeprecationWarning
    that the caller turns into an error; the slow diagnosis below runs only for such a bad row.
    """
    per_row = _FER_SIDE * _FER_SIDE
    try:
        values = np.fromstring(text.strip(b' "'), dtype=np.int16, sep=" ")
    except (DeprecationWarning, ValueError):
        values = None
    if values is None or values.size != per_row:
        tokens = text.strip(b' "').split()
        odd = next((t for t in tokens if not t.isdigit()), None)
        what = f"value {odd.decode('utf-8', 'replace')!r}" if odd is not None else f"{len(tokens)} pixel values"
        raise DataError(f"{name} line {line}: {what}; expected {per_row} space-separated integers 0..255 "
                        f"({_FER_SIDE}x{_FER_SIDE} grey levels)")
    return values


def _sniff(path: Path) -> bool:
    if path.is_dir():
        return _fer_file_in(path) is not None
    return "pixels" in header_columns(first_line(path))


@corpus_reader("fer2013", layout="fer2013.csv[.gz] (emotion,pixels,Usage), or a folder holding it", sniff=_sniff,
               order=40, data_dir="fer2013")
def read_fer2013(
    path: str | Path,
    *,
    usage: str | Sequence[str] | None = None,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """Read FER2013 face images from the official ``fer2013.csv`` (``emotion,pixels,Usage``).

    The file may be plain, gzipped or inside a ``.tar.gz``/``.zip`` (told from its magic bytes,
    not its name); a folder holding ``fer2013.csv[.gz]`` is accepted too. Any number of rows is
    read, so the official test rows read like the training rows. Parsing is vectorised (the
    35,887-row file takes about as long as its decompression).

    Args:
        path: The CSV file, or a folder holding it.
        usage: Keep rows of this ``Usage`` (``Training``, ``PublicTest``, ``PrivateTest``) or of
            several; ``None`` keeps all rows.
        label_map: Map the ``fer2013`` class names to other classes.
        label_space: Label space of the result: ``fer2013`` (default) or any space with a
            registered mapping (``ekman7``); with ``label_map``, the space its targets belong to.
        unknown: ``error`` or ``drop`` for class names outside ``label_map``.

    Returns:
        Items with id = the 0-based data row, ``pixels`` ``(48, 48)`` uint8, ``meta["usage"]``;
        label space ``fer2013`` (0 angry … 6 neutral), modality ``face``.

    Raises:
        UnknownNameError: a ``usage`` value that is not an official one (with close matches).
        DataError: a header without ``emotion``/``pixels``, a row without 2304 pixel values, an
            emotion outside 0..6, or no rows of the requested usage.
    """
    p = require_path(path, "FER2013 path")
    if p.is_dir():
        found = _fer_file_in(p)
        if found is None:
            raise MissingFileError(f"{p} holds no fer2013.csv or fer2013.csv.gz")
        p = found
    wanted = None if usage is None else set(check_choices(usage, FER2013_USAGES, "FER2013 usage"))
    lines = read_bytes(p).split(b"\n")
    header = lines[0].decode("utf-8-sig", "replace").strip()
    cols = [c.strip().strip('"').lower() for c in header.split(",")]
    if "emotion" not in cols or "pixels" not in cols:
        raise DataError(f"{p.name}: header {header[:80]!r} lacks the columns emotion and pixels of fer2013.csv")
    j_emo, j_pix = cols.index("emotion"), cols.index("pixels")
    j_use = cols.index("usage") if "usage" in cols else None
    if j_use is None and wanted is not None:
        raise DataError(f"{p.name} has no Usage column, so usage={usage!r} cannot select rows")
    classes = get_label_space("fer2013").classes
    official = {u.encode(): u for u in FER2013_USAGES}
    usages: Counter[str] = Counter()
    rows: list[tuple[int, int, str, bytes, str]] = []  # (data row, line, usage, pixel field, class)
    data_row = -1
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.rstrip(b"\r").split(b",")
        if len(fields) == 1 and not fields[0].strip():
            continue
        data_row += 1
        if len(fields) != len(cols):
            raise DataError(f"{p.name} line {lineno}: {len(fields)} fields, expected {len(cols)} ({header})")
        use = ""
        if j_use is not None:
            raw_use = fields[j_use].strip(b' "')
            if raw_use not in official:
                raise DataError(f"{p.name} line {lineno}: Usage {raw_use.decode('utf-8', 'replace')!r} is not one "
                                f"of {list(FER2013_USAGES)}")
            use = official[raw_use]
        usages[use] += 1
        if wanted is not None and use not in wanted:
            continue
        code = fields[j_emo].strip(b' "')
        if not (code.isdigit() and int(code) < len(classes)):
            raise DataError(f"{p.name} line {lineno}: emotion {code.decode('utf-8', 'replace')!r} is not a class "
                            f"0..{len(classes) - 1} ({', '.join(classes)})")
        rows.append((data_row, lineno, use, fields[j_pix], classes[int(code)]))
    del lines
    if not rows:
        raise DataError(f"{p.name}: no rows with Usage in {sorted(wanted or ())}; the file holds {dict(usages)}")
    pixels = np.empty((len(rows), _FER_SIDE * _FER_SIDE), dtype=np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # np.fromstring's "could not be read to its end"
        for k, (_, lineno, _, text, _) in enumerate(rows):
            pixels[k] = _fer_pixel_row(text, lineno, p.name)
    if pixels.min() < 0 or pixels.max() > 255:
        k = int(np.flatnonzero((pixels < 0).any(axis=1) | (pixels > 255).any(axis=1))[0])
        raise DataError(f"{p.name} line {rows[k][1]}: pixel values must lie in 0..255")
    images = pixels.astype(np.uint8).reshape(len(rows), _FER_SIDE, _FER_SIDE)
    del pixels
    items = [CorpusItem(str(row), label, pixels=images[k], meta={"usage": use})
             for k, (row, _, use, _, label) in enumerate(rows)]
    return build_corpus("fer2013", items, modality="face", root=p, fmt="fer2013", native_space="fer2013",
                  native_classes=classes, label_map=label_map, label_space=label_space, unknown=unknown,
                  info={"usage": None if wanted is None else sorted(wanted)})
