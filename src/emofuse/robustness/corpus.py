"""Corpus files → inputs an expert robustness sweep can corrupt, with ``ekman7`` labels.

:func:`corpus_inputs` reads any corpus :func:`emofuse.data.corpora.load_corpus` reads (the
files ``emofuse evaluate`` takes, official test files included) and turns every item into the
raw input that :func:`emofuse.robustness.experts.expert_sweep` corrupts: a ``(wave, 16000)``
pair for a voice expert (float32 mono, 16 kHz), a uint8 ``48x48`` grey crop for a face expert
(face images of any size are detected and cropped as in ``evaluate``), a string for a text
expert. Labels are mapped to ``ekman7`` (the space the sweep scores, since every expert has an
Ekman view); items whose label has no Ekman counterpart, multi-label items spanning several
Ekman groups, unreadable files and images without a face are left out and counted.

:func:`babble_bank` picks the other talkers for ``babble_noise`` from the corpus itself:
utterances of *other* speakers than the ones scored where the corpus knows its speakers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import DataError, EmofuseError
from emofuse.experts.evaluate import expert_input
from emofuse.labels import get_mapping

__all__ = ["CorpusInputs", "babble_bank", "corpus_inputs"]

SAMPLE_RATE = 16000


@dataclass
class CorpusInputs:
    """Corruptible inputs of one corpus for one expert.

    Attributes:
        items: Voice ``(wave (T,) float32, 16000)`` pairs, face crops ``(N, 48, 48)`` uint8, or strings.
        labels: ``N`` true ``ekman7`` class names.
        ids: ``N`` item ids as the corpus names them.
        speakers: ``N`` speaker ids (``None`` where the corpus has none).
        skipped: Items left out, by reason (``no_ekman_label``, ``several_ekman_labels``,
            ``unreadable``, ``no_face``).
        sources: Audio file of every corpus item with one (the pool :func:`babble_bank` draws from).
        source_speakers: Speaker of each entry of ``sources``.
        scored_sources: The files of the scored items (never used as babble).
    """

    items: Any
    labels: list[str]
    ids: list[str]
    speakers: list[str | None]
    skipped: dict[str, int] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)
    source_speakers: list[str | None] = field(default_factory=list)
    scored_sources: set[Path] = field(default_factory=set)


def _ekman_label(corpus: Any, label: Any) -> tuple[str | None, str | None]:
    """``(ekman7 class, None)`` or ``(None, reason it is left out)``."""
    if corpus.multilabel:
        if corpus.label_space != "ekman7":
            raise DataError(f"a multi-label corpus in {corpus.label_space!r} has no single ekman7 label per item; "
                            "give its ekman7 view (e.g. --view ekman7 for GoEmotions)")
        labels = set(label)
        return (next(iter(labels)), None) if len(labels) == 1 else (None, "several_ekman_labels")
    if corpus.label_space == "ekman7":
        return str(label), None
    if corpus.label_space is None:
        raise DataError("the corpus labels have no label space; pass label_space= (or a label_map onto one)")
    mapped = get_mapping(corpus.label_space, "ekman7")[label]
    return (mapped, None) if mapped is not None else (None, "no_ekman_label")


def corpus_inputs(expert: Any, data: str | Path, *, format: str = "auto",  # noqa: A002 - mirrors load_corpus
                  limit: int | None = None, seed: int = 0, detector: Any = None,
                  on_progress: Callable[[int, int], None] | None = None, **reader_options: Any) -> CorpusInputs:
    """Read ``data`` and prepare each item as ``expert``'s corruptible input with an ``ekman7`` label.

    Args:
        expert: A loaded expert (its ``modality`` decides the input kind).
        data: A corpus file or folder (any reader of :func:`~emofuse.data.corpora.load_corpus`).
        format: Corpus reader name, or ``auto``.
        limit: Keep a random sample of ``limit`` usable items (drawn with ``seed``, kept in corpus
            order): corpora are often sorted by class, so the first items would be one class.
        seed: Seed of that sample.
        detector: Face detector for images larger than a crop (default MediaPipe).
        on_progress: Callback ``(done, total)`` as items are read.
        **reader_options: Passed to the reader (``usage=``, ``view=``, ``text_column=``, ...).

    Raises:
        DataError: No usable item, a multi-label corpus outside ``ekman7``, or an expert of
            another modality (physio recordings are not corpus items).
    """
    from emofuse.data.corpora import load_corpus
    from emofuse.media.audio import load_audio

    modality = getattr(expert, "modality", None)
    if modality not in ("audio", "voice", "face", "text"):
        raise DataError(f"expert {getattr(expert, 'name', expert)!r} reads {modality!r}: corruption sweeps cover "
                        "voice, face and text experts")
    corpus = load_corpus(data, format=format, **reader_options)
    all_items = list(corpus.items)
    if not all_items:
        raise DataError(f"corpus {data} has no items")
    out = CorpusInputs([], [], [], [])
    out.sources = [Path(it.source) for it in all_items if it.source is not None]
    out.source_speakers = [it.speaker for it in all_items if it.source is not None]
    order = np.arange(len(all_items))
    if limit is not None:
        if int(limit) < 1:
            raise DataError(f"limit must be >= 1; got {limit!r}")
        order = np.random.default_rng(seed).permutation(len(all_items))
    picked: list[tuple[int, Any, str, Any]] = []  # (corpus index, input, label, item)
    for done, k in enumerate(order):
        if limit is not None and len(picked) >= int(limit):
            break
        if on_progress is not None:
            on_progress(done, len(all_items))
        it = all_items[int(k)]
        label, reason = _ekman_label(corpus, it.label)
        x = None
        if reason is None:
            if modality == "face":
                x, reason = expert_input(expert, it, detector)
                if x is not None:
                    x = np.asarray(x)
                    if x.dtype != np.uint8 or x.shape != (48, 48):  # pixels a reader gave in another size
                        from emofuse.media.face import face_from_image

                        x = face_from_image(x).gray
            elif modality == "text":
                x = it.text
                reason = None if x else "empty_text"
            else:
                try:
                    x = (load_audio(it.source, SAMPLE_RATE)[0], SAMPLE_RATE)
                except EmofuseError:
                    reason = "unreadable"
        if reason is not None:
            out.skipped[reason] = out.skipped.get(reason, 0) + 1
            continue
        picked.append((int(k), x, str(label), it))
    for _, x, label, it in sorted(picked, key=lambda p: p[0]):
        out.items.append(x)
        out.labels.append(label)
        out.ids.append(str(it.id))
        out.speakers.append(it.speaker)
        if it.source is not None:
            out.scored_sources.add(Path(it.source))
    if not out.labels:
        raise DataError(f"corpus {data}: none of its {len(all_items)} items is usable by expert "
                        f"{getattr(expert, 'name', expert)!r} ({out.skipped})")
    if modality == "face":
        out.items = np.stack(out.items)
    return out


def babble_bank(inputs: CorpusInputs, *, size: int = 32, seed: int = 0,
                sources: Sequence[str | Path] | None = None) -> list[tuple[np.ndarray, int]]:
    """Up to ``size`` utterances to mix as babble, as ``(wave, 16000)`` pairs.

    From ``sources`` (audio files of other talkers) when given; else from the corpus's own
    files, of speakers *not* among the scored items when the corpus names speakers (so no
    item is babbled over by its own voice); when every speaker is scored, any file that is not
    itself scored (other utterances, possibly of the same talkers).

    Raises:
        DataError: No candidate file (every file of the corpus is scored); give ``sources``.
    """
    from emofuse.media.audio import load_audio

    if sources is not None:
        pool = [Path(s) for s in sources]
    else:
        scored = {s for s in inputs.speakers if s is not None}
        pool = [p for p, s in zip(inputs.sources, inputs.source_speakers, strict=True)
                if s is not None and s not in scored] if scored else []
        if not pool:  # every speaker is scored (or none is named): at least never an item's own file
            pool = [p for p in inputs.sources if p not in inputs.scored_sources]
    if not pool:
        raise DataError("babble noise needs speech of other talkers: every file of the corpus is scored; give a "
                        "folder of other speech with --bank")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(pool), size=min(int(size), len(pool)), replace=False)
    bank = []
    for i in sorted(int(j) for j in pick):
        try:
            bank.append((load_audio(pool[i], SAMPLE_RATE)[0], SAMPLE_RATE))
        except EmofuseError:
            continue  # an unreadable bank file is just not used
    if not bank:
        raise DataError("babble noise: none of the bank files could be read")
    return bank
