"""Readers for raw emotion corpora: labelled images, audio files and texts.

The per-modality experts (face, voice, text) train on raw corpora, not on pre-extracted
features. Every reader here lists a corpus in its official layout and returns a
:class:`Corpus`: an ordered list of :class:`CorpusItem` (id, label, and the file path, text
or pixels of one example) plus the class names. Readers never decode media: audio and image
files are listed by path and decoded later by the component that consumes them.

One entry point, :func:`load_corpus`, takes a path (the reader is sniffed from its layout)
or a corpus name (resolved under ``data_dir`` or ``$EMOFUSE_DATA_DIR``); the readers are
registered in :data:`CORPORA`, one module per reader:

==============  =====================================================================================
reader          what it reads
==============  =====================================================================================
``fer2013``     ``emotion,pixels,Usage`` CSV (plain, gzipped, or a ``.tar.gz``/``.zip`` holding it)
``goemotions``  ``text<TAB>ids<TAB>comment id`` TSV + ``emotions.txt`` (+ ``ekman_mapping.json``)
``emodb``       Berlin EmoDB ``wav/SSTTTEv.wav`` files
``ravdess``     RAVDESS ``Actor_NN/MM-VV-EE-II-SS-RR-AA.<ext>`` files
``audio_csv``   a CSV listing audio files (``path,label,speaker`` columns by default)
``text_table``  a CSV/TSV with a text column and a label column
``folders``     images or audio files in class-named sub-folders (``root/<class>/*``)
==============  =====================================================================================

Every reader takes ``label_map`` (raw label → target class, a dict or a JSON/YAML file),
``label_space`` (a registered space the labels must belong to, or are mapped to through
:mod:`emofuse.labels`) and ``unknown`` (``"error"`` or ``"drop"`` for labels outside them).
A missing path raises :class:`~emofuse.errors.MissingFileError`, an empty corpus or bad
content :class:`~emofuse.errors.DataError`, an unknown option value
:class:`~emofuse.errors.UnknownNameError` (with close matches).

Adding a corpus is one module: a function decorated with
:func:`~emofuse.data.corpora._base.corpus_reader` (its name, layout line and sniffer), imported
below. Option validation, sniffing and label mapping are shared (``_base``, ``_labels``).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for name in ("03a01Wa.wav", "03a02Fc.wav", "08b01Nd.wav"):
    ...         _ = (Path(d) / name).write_bytes(b"")
    ...     corpus = load_corpus(d)
    >>> corpus.name, len(corpus), corpus.speakers()
    ('emodb', 3, ['03', '08'])
    >>> corpus[0].label, corpus.labels_as_indices().tolist()
    ('anger', [0, 4, 6])
"""

from __future__ import annotations

from emofuse.data.corpora import audio_csv, class_folders, emodb, fer2013, goemotions, ravdess, text_table
from emofuse.data.corpora._base import CORPORA, DATA_DIR_ENV, corpus_reader, list_corpora, load_corpus, sniff_corpus
from emofuse.data.corpora._io import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, UNKNOWN_POLICIES, VIDEO_EXTENSIONS
from emofuse.data.corpora._records import Corpus, CorpusItem
from emofuse.data.corpora.audio_csv import read_audio_csv
from emofuse.data.corpora.class_folders import read_folders
from emofuse.data.corpora.emodb import EMODB_EMOTIONS, read_emodb
from emofuse.data.corpora.fer2013 import FER2013_USAGES, read_fer2013
from emofuse.data.corpora.goemotions import read_goemotions
from emofuse.data.corpora.ravdess import RAVDESS_CHANNELS, RAVDESS_MODALITIES, RAVDESS_STATEMENTS, read_ravdess
from emofuse.data.corpora.text_table import read_text_table

__all__ = [
    "AUDIO_EXTENSIONS",
    "CORPORA",
    "DATA_DIR_ENV",
    "EMODB_EMOTIONS",
    "FER2013_USAGES",
    "IMAGE_EXTENSIONS",
    "RAVDESS_CHANNELS",
    "RAVDESS_MODALITIES",
    "RAVDESS_STATEMENTS",
    "UNKNOWN_POLICIES",
    "VIDEO_EXTENSIONS",
    "Corpus",
    "CorpusItem",
    "audio_csv",
    "class_folders",
    "corpus_reader",
    "emodb",
    "fer2013",
    "goemotions",
    "list_corpora",
    "load_corpus",
    "ravdess",
    "read_audio_csv",
    "read_emodb",
    "read_fer2013",
    "read_folders",
    "read_goemotions",
    "read_ravdess",
    "read_text_table",
    "sniff_corpus",
    "text_table",
]
