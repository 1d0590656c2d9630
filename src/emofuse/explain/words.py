"""Which words the text expert read its emotion from: integrated gradients over word pieces.

:func:`word_attributions` explains the calibrated Ekman probability that
:meth:`TextGoEmotionsExpert.predict <emofuse.experts.text.TextGoEmotionsExpert.predict>` returns,
with integrated gradients (Sundararajan et al., ICML 2017; Captum ``LayerIntegratedGradients``) on
the MiniLM word-embedding layer. The baseline replaces every word piece by ``[PAD]`` and keeps
``[CLS]``/``[SEP]`` (and the attention mask), so a score says how much that piece's embedding moved
the probability away from "a sentence of the same length with no words". The forward it
differentiates is the expert's own (:func:`text_forward`: encoder hidden states, head, sigmoid,
the GoEmotions→Ekman grouping, the temperature), so the probability explained is the one the
expert reports. Word pieces are merged into the tokenizer's words (punctuation is a word of its
own), a word's score being the sum of its pieces' scores; completeness makes the scores of a text
add up to ``prob − base_prob`` (up to ``delta``, the integration error).

:func:`word_deletion_curve` checks that the scores mean something: deleting a text's top-scored
words should lower the target probability more than deleting as many random words.

Example:
    >>> from emofuse.experts import load_expert
    >>> expert = load_expert("text-goemotions")  # doctest: +SKIP
    >>> r = word_attributions(expert, ["I am so furious and angry at you"], targets=["anger"])[0]  # doctest: +SKIP
    >>> max(r["words"], key=lambda w: w["score"])["word"]  # doctest: +SKIP
    'furious'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from emofuse.errors import ConfigError, UnknownNameError
from emofuse.experts._minilm import check_texts
from emofuse.experts.base import ExpertOutput
from emofuse.explain.deletion import check_deletion_args, deletion_result
from emofuse.labels import mapping_matrix

__all__ = ["integrated_gradients", "text_forward", "word_attributions", "word_deletion_curve"]

_EPS = 1e-6  # the empty-group guard of emofuse.experts.base.map_to_ekman


class _EkmanForward(nn.Module):
    """Word-piece ids ``(N, T)`` → calibrated Ekman probabilities ``(N, 7)`` of the text expert.

    The arithmetic of :meth:`TextGoEmotionsExpert.predict` (``MiniLMEncoder.encode`` then the
    head): the requested hidden states times the mask, the L2-normalised masked mean of the last
    layer as sentence embedding, the head's logits; then its Ekman logits, the sigmoid
    probabilities grouped onto ekman7 (``map_to_ekman``), or (a residual adapter) their sum,
    divided by the temperature, softmax.
    """

    def __init__(self, expert: Any) -> None:
        super().__init__()
        self.model = expert.encoder.model
        self.head = expert.head
        self.layers = [int(k) for k in expert.head.config.layers]
        self.temperature = float(expert.temperature)
        self.register_buffer("group", torch.from_numpy(
            mapping_matrix(expert.label_space, "ekman7").astype(np.float64)), persistent=False)

    def forward(self, ids: Tensor, mask: Tensor, types: Tensor) -> Tensor:
        """``ids``/``mask``/``types`` ``(N, T)`` int → ``(N, 7)`` float32 probabilities."""
        out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
        m = mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
        last = out.last_hidden_state
        sentence = nn.functional.normalize((last * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1)
        tokens = torch.stack([out.hidden_states[k] * m for k in self.layers], dim=1)
        z, z_ek = self.head(tokens, mask.bool(), sentence)
        if z_ek is None or self.head.config.ekman_residual:
            # float64 as map_to_ekman: the log of a small group probability is where float32 drifts
            grouped = torch.sigmoid(z.double()) @ self.group + _EPS
            mapped = torch.log(grouped / grouped.sum(1, keepdim=True))
            z_ek = mapped if z_ek is None else mapped + z_ek.double()  # a residual adapter rides on it
        return torch.softmax(z_ek.double() / self.temperature, dim=-1).float()


def _check_expert(expert: Any) -> Any:
    enc = getattr(expert, "encoder", None)
    ok = (getattr(expert, "modality", None) == "text" and hasattr(enc, "tokenizer") and hasattr(enc, "model")
          and hasattr(getattr(expert, "head", None), "config"))
    if not ok:
        raise ConfigError(f"word attributions need the MiniLM text expert (load_expert('text-goemotions')), "
                          f"got {getattr(expert, 'name', type(expert).__name__)!r}")
    return expert


def _tokenize(expert: Any, texts: Sequence[str]) -> Any:
    enc = expert.encoder
    return enc.tokenizer(list(texts), padding=True, truncation=True, max_length=enc.max_tokens,
                         return_tensors="pt", return_offsets_mapping=True)


def text_forward(expert: Any, texts: Sequence[str]) -> Tensor:
    """The differentiable forward that :func:`word_attributions` explains.

    Args:
        expert: The MiniLM text expert (``load_expert("text-goemotions")``).
        texts: Non-blank strings.

    Returns:
        ``(N, 7)`` float32 calibrated Ekman probabilities, equal to ``expert.predict(texts).ekman``
        up to float rounding (about 1e-6), with autograd enabled.
    """
    expert = _check_expert(expert)
    enc = _tokenize(expert, check_texts(texts))
    return _EkmanForward(expert)(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])


def integrated_gradients(forward: Callable[..., Tensor], layer: nn.Module, ids: Tensor, baseline: Tensor,
                         target: Sequence[int], *, n_steps: int = 32,
                         extra: tuple[Any, ...] = ()) -> dict[str, np.ndarray]:
    """Integrated gradients of ``forward``'s output ``target`` over the output of an embedding layer.

    Args:
        forward: ``forward(ids, *extra)`` → ``(N, C)`` (probabilities, or any score).
        layer: The embedding module inside ``forward`` whose output is interpolated.
        ids: ``(N, T)`` input token ids.
        baseline: ``(N, T)`` baseline token ids (same shape).
        target: ``N`` output columns explained.
        n_steps: Gauss-Legendre steps of the path integral.
        extra: Further arguments of ``forward``, not interpolated (masks).

    Returns:
        ``{"scores": (N, T) float64 per-token attribution (the embedding attribution summed over
        its dimensions), "delta": (N,) Σ scores − (f(x) − f(baseline)), "prob": (N,) f(x)[target],
        "base_prob": (N,) f(baseline)[target]}``.
    """
    from captum.attr import LayerIntegratedGradients

    tgt = [int(t) for t in target]
    rows = torch.arange(len(tgt))
    with torch.no_grad():
        prob = forward(ids, *extra)[rows, tgt].double()
        base = forward(baseline, *extra)[rows, tgt].double()
    with torch.enable_grad():
        attr = LayerIntegratedGradients(forward, layer).attribute(
            ids, baselines=baseline, target=tgt, additional_forward_args=tuple(extra), n_steps=int(n_steps))
    scores = attr.detach().double().sum(-1)
    delta = scores.sum(1) - (prob - base)
    return {"scores": scores.numpy(), "delta": delta.numpy(), "prob": prob.numpy(), "base_prob": base.numpy()}


def _targets(targets: Sequence[str | None] | None, n: int, predicted: np.ndarray) -> list[int]:
    """Ekman class names per text (``None`` = predicted) → indices."""
    classes = ExpertOutput.ekman_classes
    if targets is None:
        return [int(i) for i in predicted]
    if isinstance(targets, str):
        raise ConfigError(f"word attributions: targets must be a list with one Ekman class (or None) per text, "
                          f"got the string {targets!r}")
    names = list(targets)
    if len(names) != n:
        raise ConfigError(f"word attributions: got {len(names)} targets for {n} texts; give one Ekman class "
                          "(or None) per text")
    out = []
    for name, p in zip(names, predicted, strict=True):
        if name is None:
            out.append(int(p))
        elif name not in classes:
            raise ConfigError(str(UnknownNameError("Ekman class (target)", str(name), classes)))
        else:
            out.append(classes.index(name))
    return out


def _words(text: str, word_ids: list[int | None], offsets: list[tuple[int, int]],
           scores: np.ndarray) -> list[dict[str, Any]]:
    """Merge word pieces into words: span from the first piece's start to the last's end, summed score."""
    merged: dict[int, list[Any]] = {}
    for j, w in enumerate(word_ids):
        if w is None:  # [CLS], [SEP], padding
            continue
        s, e = offsets[j]
        if w in merged:
            merged[w][1] = max(merged[w][1], int(e))
            merged[w][2] += float(scores[j])
        else:
            merged[w] = [int(s), int(e), float(scores[j])]
    return [{"word": text[s:e], "start": s, "end": e, "score": sc}
            for s, e, sc in sorted(merged.values(), key=lambda v: v[0])]


def word_attributions(expert: Any, texts: list[str], *, targets: list[str | None] | None = None,
                      n_steps: int = 32, batch_size: int = 8) -> list[dict[str, Any]]:
    """Integrated-gradients word attributions of the text expert's calibrated Ekman probability.

    Args:
        expert: The MiniLM text expert (``load_expert("text-goemotions")``, or one built around any
            :class:`~emofuse.experts.text.TextHead` and card).
        texts: Non-blank strings (a single string is taken as one text).
        targets: Ekman class explained per text (``"anger"``, ...; ``None`` entries, or ``None``
            for all: the predicted class).
        n_steps: Integration steps (cost grows linearly: one forward+backward of ``n_steps``
            copies per text).
        batch_size: Texts integrated together (each batch holds ``batch_size * n_steps``
            sequences; texts are sorted by length to limit padding).

    Returns:
        One dict per text, in input order: ``"method"`` ``"integrated_gradients"``; ``"target"``
        the Ekman class; ``"prob"`` its calibrated probability (as ``expert.predict(texts).ekman``);
        ``"base_prob"`` its probability for the all-``[PAD]`` baseline; ``"delta"`` the
        completeness error ``Σ scores − (prob − base_prob)`` (probability units); ``"words"``
        ``[{"word", "start", "end", "score"}]`` in text order (``start``/``end`` character offsets
        into the text, ``word == text[start:end]``, ``score`` in probability units, positive =
        raised the target); ``"truncated"`` whether the text was cut at the encoder's word-piece
        limit (words past it are absent).

    Raises:
        DataError: Not strings, none, or an empty / whitespace-only text.
        ConfigError: Not the MiniLM text expert, a target that is not an Ekman class (the message
            lists the classes), the wrong number of targets, or ``n_steps`` < 1.
    """
    expert = _check_expert(expert)
    texts = check_texts(texts)
    if int(n_steps) < 1:
        raise ConfigError(f"word attributions: n_steps must be >= 1, got {n_steps}")
    fwd = _EkmanForward(expert)
    layer = fwd.model.embeddings.word_embeddings
    special = set(expert.encoder.tokenizer.all_special_ids) - {expert.encoder.tokenizer.pad_token_id}
    pad = int(expert.encoder.tokenizer.pad_token_id)
    truncated = [n > expert.encoder.max_tokens for n in expert.encoder.count_tokens(texts)]
    order = np.argsort([len(t) for t in texts], kind="stable")
    out: list[dict[str, Any] | None] = [None] * len(texts)
    tgt_all: list[int | None] = [None] * len(texts)
    if targets is not None:  # validate the names before any compute
        _targets(targets, len(texts), np.zeros(len(texts), dtype=int))
    for s in range(0, len(texts), max(1, int(batch_size))):
        idx = [int(i) for i in order[s:s + max(1, int(batch_size))]]
        enc = _tokenize(expert, [texts[i] for i in idx])
        ids, mask, types = enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]
        keep = torch.isin(ids, torch.tensor(sorted(special))) | (mask == 0)
        baseline = torch.where(keep, ids, torch.full_like(ids, pad))
        with torch.no_grad():
            pred = fwd(ids, mask, types).argmax(1).numpy()
        sub = None if targets is None else [targets[i] for i in idx]
        tgt = _targets(sub, len(idx), pred)
        ig = integrated_gradients(fwd, layer, ids, baseline, tgt, n_steps=n_steps, extra=(mask, types))
        for j, i in enumerate(idx):
            tgt_all[i] = tgt[j]
            out[i] = {"method": "integrated_gradients", "target": ExpertOutput.ekman_classes[tgt[j]],
                      "prob": float(ig["prob"][j]), "base_prob": float(ig["base_prob"][j]),
                      "delta": float(ig["delta"][j]),
                      "words": _words(texts[i], enc.word_ids(j), enc["offset_mapping"][j].tolist(),
                                      ig["scores"][j]),
                      "truncated": bool(truncated[i])}
    return [o for o in out if o is not None]


def _delete(text: str, words: list[dict[str, Any]], drop: set[int]) -> str:
    """``text`` without the words at positions ``drop`` (whitespace collapsed)."""
    parts, pos = [], 0
    for j, w in enumerate(words):
        if j in drop:
            parts.append(text[pos:w["start"]])
            pos = w["end"]
    parts.append(text[pos:])
    return " ".join("".join(parts).split())


def word_deletion_curve(expert: Any, texts: list[str], *, fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.5),
                        targets: list[str | None] | None = None, seed: int = 0, n_random: int = 5,
                        n_steps: int = 32) -> dict[str, Any]:
    """Deletion test of the word scores: delete the top-scored words vs random words, see the drop.

    For each fraction ``f`` a text of ``n`` words loses ``k = min(max(1, round(f n)), n − 1,
    #positive words)`` words: its ``k`` highest-scored ones (:func:`word_attributions`) and, as
    the baseline, ``n_random`` draws of ``k`` random words. At least one word is always kept (the
    expert refuses an empty text); a text with no positive word, or a single word, loses none
    (its drops are 0 for both). The drop is the full text's target probability minus that of the
    shortened text, re-predicted with ``expert.predict`` (positive = the probability fell).

    Args:
        expert: The MiniLM text expert.
        texts: Non-blank strings.
        fractions: Fractions of each text's words to delete, each in (0, 1].
        targets: Ekman class per text (``None``: predicted).
        seed: Seed of the random words.
        n_random: Random draws per text and fraction.
        n_steps: Integration steps of the attributions.

    Returns:
        ``{"fractions": [f, ...], "top": [mean drop, ...], "random": [mean drop, ...], "top_std":
        [...], "random_std": [...], "mean_deleted": [mean k, ...], "n_items": N,
        "target_prob_full": mean target probability of the full texts}``; drops are probabilities
        (0..1) averaged over texts (and random draws), ``*_std`` their spread over texts.

    Raises:
        DataError: Bad texts (as :func:`word_attributions`).
        ConfigError: A fraction outside (0, 1], ``n_random`` < 1, or bad targets.
    """
    fr = check_deletion_args("word_deletion_curve", fractions, n_random)
    texts = check_texts(texts)
    att = word_attributions(expert, texts, targets=targets, n_steps=n_steps)
    tgt = np.asarray([ExpertOutput.ekman_classes.index(a["target"]) for a in att])
    n = len(texts)
    p_full = expert.predict(texts).ekman[np.arange(n), tgt].astype(np.float64)
    rng = np.random.default_rng(seed)

    def target_prob(shortened: list[str]) -> np.ndarray:
        return expert.predict(shortened).ekman[np.arange(n), tgt].astype(np.float64)

    top, rand, mean_k = np.zeros((n, len(fr))), np.zeros((n, len(fr))), []
    for j, f in enumerate(fr):
        ks, top_texts = [], []
        for t, a in zip(texts, att, strict=True):
            sc = np.asarray([w["score"] for w in a["words"]])
            nw = len(sc)
            k = int(min(max(1, round(f * nw)), nw - 1, int((sc > 0).sum())))
            ks.append(k)
            best = set(int(j) for j in np.argsort(-sc, kind="stable")[:k])
            top_texts.append(_delete(t, a["words"], best))
        top[:, j] = p_full - target_prob(top_texts)
        for _ in range(int(n_random)):
            shortened = [_delete(t, a["words"], set(int(j) for j in rng.permutation(len(a["words"]))[:k]))
                         for t, a, k in zip(texts, att, ks, strict=True)]
            rand[:, j] += (p_full - target_prob(shortened)) / int(n_random)
        mean_k.append(float(np.mean(ks)))
    return deletion_result(fr, top, rand, p_full, mean_deleted=mean_k)
