"""Settings of an analysis (:class:`AnalyzeConfig`), shared by batch and live analysis.

Example:
    >>> cfg = AnalyzeConfig(fps=2.0, asr=False)
    >>> cfg.segmentation, cfg.fusion, cfg.experts["audio"]
    ('auto', 'evidence', 'voice-whisper')
    >>> AnalyzeConfig.from_dict({"experts": {"voice": "voice-ekman"}}).experts["audio"]
    'voice-ekman'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from emofuse.config import from_dict
from emofuse.errors import ConfigError, UnknownNameError
from emofuse.media.vad import VadConfig
from emofuse.modalities import canonical_modality

__all__ = ["DEFAULT_EXPERTS", "FUSION_METHODS", "MAX_VOICE_S", "SEGMENTATIONS", "VOICE_PADDINGS", "AnalyzeConfig"]

SEGMENTATIONS = ("auto", "transcript", "vad", "window")
FUSION_METHODS = ("trained", "evidence", "linear", "log")
VOICE_PADDINGS = ("room", "silence")
#: Longest audio read by the voice expert and Whisper per segment (the start of longer ones), seconds.
MAX_VOICE_S = 30.0
#: The expert each modality path uses unless told otherwise.
DEFAULT_EXPERTS: dict[str, str] = {"text": "text-goemotions", "audio": "voice-whisper", "face": "face-fer2013",
                                   "physio": "physio-wesad"}
#: Keys of earlier versions, read into ``experts`` (one vocabulary: modality names).
_LEGACY_EXPERT_KEYS = {"text_expert": "text", "voice_expert": "audio", "face_expert": "face"}


@dataclass
class AnalyzeConfig:
    """Settings of :func:`emofuse.analyze` and of a live session (``emofuse analyze --set key=value``).

    Attributes:
        segmentation: ``"auto"``, ``"transcript"``, ``"vad"`` or ``"window"``: transcript cues
            when a transcript is given, else voice-activity utterances, else fixed windows
            (``"auto"`` picks in that order).
        window_s: Length of fixed windows, seconds.
        fill_gaps: In ``auto`` mode on video, cover speech-free stretches longer than
            ``min_gap_s`` with windows (face only).
        min_gap_s: Shortest speech-free stretch filled with windows, seconds.
        vad: Voice activity thresholds (:class:`~emofuse.media.vad.VadConfig` fields).
        asr: Transcribe speech with Whisper tiny.en (English only) when no transcript is given.
        asr_beam_size: Whisper beam size (1 = greedy, fastest).
        text: Run the text path.
        audio: Run the voice path (VAD still runs when segments come from speech).
        voice_speaker_norm: Read each utterance also with the voice expert's speaker-normalised
            head, its statistics running over the recording's utterances so far (one speaker
            assumed), blended in from 8 utterances and fully from 16
            (:mod:`emofuse.experts.speaker_norm`). Off by default: it helps when a person shows
            several emotions (held-out RAVDESS actors: 77.4 → 81.0 % UAR) but removes the
            emotion of a long recording in one mood, and it mixes people who take turns.
        voice_padding: What surrounds a segment's speech when the voice expert reads it with the
            padding its card asks for (``preprocessing.segment_pad_s``): ``"room"`` (default) the
            recording's own non-speech audio next to the speech, cut where someone speaks, digital
            silence only where the recording has none — the expert was trained on recorded files
            with room tone around the speech (held-out RAVDESS actors: whole files 77.4, segments
            + room tone 76.2, + digital silence 73.4 % UAR; recipes/voice_whisper/padding_check.py);
            ``"silence"``: digital silence (a segment then closes ``segment_pad_s`` sooner).
        face: Run the face path.
        physio: Run the physiological path when signals are given (``emofuse analyze --physio``).
        physio_offset_s: Media time (seconds) of the signals' time 0 (aligns a wearable's clock to
            the video's: a recording started 12.5 s after the video has offset 12.5).
        physio_units: Units of signals in a file whose values are not in emofuse's (``{"eda":
            "ohm"}``: EDA given as resistance; see :data:`emofuse.media.physio.UNITS`).
        fps: Video frames sampled per second for the face path.
        max_side: Long side (pixels) sampled frames are scaled to before face detection.
        max_faces: Faces read per frame.
        min_face_score: Detections below this score are ignored.
        fusion: a rule (:mod:`emofuse.analysis.fusion`): ``"evidence"`` (the default: weights
            follow each reading's certainty and quality; a neutral reading of words is absence
            of evidence; it scored at or above the trained model on every view of the
            validation media, recipes/analysis_validation), ``"linear"`` or ``"log"`` pooling of
            prior × reliability weights; or ``"trained"`` (the fusion model shipped in the
            package, trained on analysed media, :data:`~emofuse.analysis.fusion.SHIPPED_FUSION`;
            with one signal present the ``evidence`` rule passes it through).
        certainty_power: ``γ`` of the ``evidence`` rule (0 ignores certainty).
        neutral_absence: ``α`` of the ``evidence`` rule: the share of a neutral face or voice
            reading treated as absence of expression rather than evidence of a neutral state.
        absent_verdict: In the ``evidence`` rule, a reading whose top class is its expert's absent
            class (the text expert's ``neutral``) counts as absence as a whole, not only its
            neutral mass (chosen on the training clips: 67.6 → 68.4 % UAR; validation media
            71.9 → 72.4, recipes/analysis_validation).
        fusion_model: A trained zoo checkpoint used instead of the shipped model or the rule.
        experts: Registry name of the expert of each modality (``{"audio": "voice-ekman"}``
            changes one; the others keep their defaults; aliases such as ``voice`` accepted).
        expert_weights: A weights directory per modality to load that modality's expert from
            instead of its shipped weights (e.g. a head retrained without some speakers).
        priors: Fusion prior per modality overriding the one in the expert's model card.
        keep_frames: Keep the per-frame face timeline in the result.
        thumbnails: Keep a small JPEG of the main face of each segment for the HTML report's
            segment table. Off by default: face pixels identify a person beside sensitive
            emotion data. When on they stay in memory and go only into the HTML report, never
            into the JSON, CSV or Parquet outputs.
        explain: Put each segment's Shapley ``contributions`` (per modality, to the fused label
            and every class) and a ``rationale`` sentence into the result
            (:mod:`emofuse.analysis.explain`); off: nothing is computed.
        threads: Decoder/ASR/encoder threads (0 = automatic).
        max_bytes: Largest input file accepted, bytes.
        max_pixels: Video frames larger than this (width × height) are not decoded: the face
            path is reported missing and the audio is still analysed.
    """

    segmentation: str = "auto"
    window_s: float = 5.0
    fill_gaps: bool = True
    min_gap_s: float = 2.0
    vad: VadConfig = field(default_factory=VadConfig)
    asr: bool = True
    asr_beam_size: int = 1
    text: bool = True
    audio: bool = True
    voice_speaker_norm: bool = False
    voice_padding: str = "room"
    face: bool = True
    physio: bool = True
    physio_offset_s: float = 0.0
    physio_units: dict[str, str] = field(default_factory=dict)
    fps: float = 3.0
    max_side: int = 640
    max_faces: int = 3
    min_face_score: float = 0.5
    fusion: str = "evidence"
    certainty_power: float = 1.0
    neutral_absence: float = 0.0
    absent_verdict: bool = True
    fusion_model: str | None = None
    experts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EXPERTS))
    expert_weights: dict[str, str] = field(default_factory=dict)
    priors: dict[str, float] = field(default_factory=dict)
    keep_frames: bool = True
    thumbnails: bool = False
    explain: bool = False
    threads: int = 0
    max_bytes: int = 20 * 2**30
    max_pixels: int = 8192 * 4608

    def __post_init__(self) -> None:
        if self.segmentation not in SEGMENTATIONS:
            raise UnknownNameError("segmentation", self.segmentation, SEGMENTATIONS)
        if self.voice_padding not in VOICE_PADDINGS:
            raise UnknownNameError("voice padding", self.voice_padding, VOICE_PADDINGS)
        if self.fusion not in FUSION_METHODS:
            raise UnknownNameError("fusion method", self.fusion, FUSION_METHODS)
        if not self.certainty_power >= 0:
            raise ConfigError(f"analyze: certainty_power must be >= 0, got {self.certainty_power}")
        if not 0 <= self.neutral_absence <= 1:
            raise ConfigError(f"analyze: neutral_absence must be in [0, 1], got {self.neutral_absence}")
        if not math.isfinite(self.physio_offset_s):
            raise ConfigError(f"analyze: physio_offset_s must be a number of seconds, got {self.physio_offset_s}")
        if self.window_s <= 0 or self.fps < 0 or self.max_side < 32 or self.max_faces < 1:
            raise ConfigError("analyze: need window_s > 0, fps >= 0, max_side >= 32, max_faces >= 1")
        if self.window_s > MAX_VOICE_S or self.vad.max_segment_s > MAX_VOICE_S:
            raise ConfigError(f"analyze: window_s and vad.max_segment_s must be at most {MAX_VOICE_S:g} s "
                              "(segments are read by the voice expert and Whisper in one piece)")
        experts = dict(DEFAULT_EXPERTS)
        for m, name in dict(self.experts).items():
            experts[canonical_modality(m, strict=True)] = str(name)
        self.experts = experts
        self.priors = {canonical_modality(m, strict=True): float(v) for m, v in dict(self.priors).items()}
        self.expert_weights = {canonical_modality(m, strict=True): str(v)
                               for m, v in dict(self.expert_weights).items()}
        bad = [m for m, v in self.priors.items() if not v >= 0]
        if bad:
            raise ConfigError(f"analyze: priors must be >= 0; got {[(m, self.priors[m]) for m in bad]}")

    def check_experts(self) -> None:
        """Check that each named expert is registered and reads its modality.

        Raises:
            UnknownNameError: An expert name no registry knows (close matches suggested).
            ConfigError: An expert of another modality (e.g. a text expert for ``audio``).
        """
        from emofuse.experts import EXPERTS

        for m, name in self.experts.items():
            cls = EXPERTS.get(name)
            if cls.modality != m:
                raise ConfigError(f"analyze: experts.{m} = {name!r} reads {cls.modality}, not {m}; "
                                  f"choose one of {[n for n in EXPERTS.names() if EXPERTS.get(n).modality == m]}")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AnalyzeConfig:
        """Build from a (nested) dict, rejecting unknown keys.

        ``text_expert`` / ``voice_expert`` / ``face_expert`` (earlier versions) are read into
        ``experts``.
        """
        d = dict(d or {})
        legacy = {k: d.pop(k) for k in list(d) if k in _LEGACY_EXPERT_KEYS}
        if legacy:
            experts = dict(d.get("experts") or {})
            experts.update({_LEGACY_EXPERT_KEYS[k]: v for k, v in legacy.items()})
            d["experts"] = experts
        return from_dict(cls, d, where="analyze")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (goes into the result)."""
        return asdict(self)
