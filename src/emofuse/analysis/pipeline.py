"""``emofuse.analyze``: a video, an audio file or a text in; timed, fused emotions out.

The pipeline is a short loop: one streaming decode pass (:func:`~emofuse.media.stream.stream_media`:
16 kHz audio chunks and frames sampled at ``fps``) feeds an
:class:`~emofuse.analysis.session.AnalysisSession`, the same object a live caller feeds::

    stream → Segmenter (closed segments) → modality paths (text, audio, face, ...) → fusion → result

* the **segmenter** (:mod:`emofuse.media.segment`) decides where segments are: transcript
  cues, Silero VAD utterances, or fixed windows (``segmentation``; ``"auto"`` picks in that
  order and, for videos, covers stretches without speech with windows so the face timeline has
  no holes); untimed transcripts are spread over the speech;
* each **modality path** (:mod:`emofuse.analysis.paths`) reads a closed segment with its
  expert — words (transcript or Whisper tiny.en, English only) → text expert; speech → voice
  expert, sharing one Whisper encoder pass with speech recognition; faces tracked over the
  sampled frames → face expert — and says how reliable the reading is, or why it is missing;
* **fusion** (:mod:`emofuse.analysis.fusion`): the shipped fusion model over the experts'
  outputs and their quality, or the evidence rule (each expert's prior from its model card ×
  reliability × how certain the reading is; lexically neutral words count as absence of
  evidence, not as evidence of a neutral state).

Only the audio of segments not yet analysed is buffered; frames are dropped as soon as their
faces are read, so memory stays flat whatever the length. Experts and models are loaded once
per process and shared by every file of a batch.

Whatever cannot be read is reported, not fatal: no audio track, no speech, no face, a damaged
stretch (skipped, decoding resumes after it; what was lost is a warning), a broken stream
(analysis stops where decoding stopped), a transcript that cannot be decoded (ignored
with a warning; the pipeline falls back to speech recognition), cues past the end of the
media (cut/dropped with a warning). Each segment says which modality is missing and why.

Example:
    >>> cfg = AnalyzeConfig(fps=2.0, asr=False)
    >>> cfg.segmentation, cfg.fusion
    ('auto', 'evidence')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from emofuse.analysis.config import SEGMENTATIONS, AnalyzeConfig
from emofuse.analysis.result import AnalysisResult
from emofuse.errors import DataError, EmofuseError, MissingFileError
from emofuse.media.segment import SAMPLE_RATE, sentences

__all__ = ["SEGMENTATIONS", "TEXT_SUFFIXES", "AnalyzeConfig", "analyze", "analyze_text"]

#: Inputs with these suffixes are read as text to analyse (not as media).
TEXT_SUFFIXES = (".txt", ".text", ".md")
#: Largest text input, in characters.
MAX_TEXT_CHARS = 2_000_000


def analyze_text(text: str, *, config: AnalyzeConfig | dict[str, Any] | None = None,
                 source: str = "<text>", resources: Any = None) -> AnalysisResult:
    """Analyse a text: one segment per sentence (time axis = sentence index), read by the text path.

    Raises:
        DataError: Empty text or text over :data:`MAX_TEXT_CHARS` characters.
    """
    from emofuse.analysis.session import AnalysisSession
    from emofuse.media.transcript import Cue

    cfg = config if isinstance(config, AnalyzeConfig) else AnalyzeConfig.from_dict(config)
    if not isinstance(text, str):
        raise DataError(f"analyze_text: expected a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise DataError(f"{source}: text of {len(text)} characters is over the {MAX_TEXT_CHARS}-character limit")
    sents = sentences(text)
    if not sents:
        raise DataError(f"{source}: the text is empty")
    # each sentence is a timed cue at its index: the text path reads them like transcript segments
    session = AnalysisSession(cfg, has_audio=False, cues=[Cue(float(i), float(i), x) for i, x in enumerate(sents)],
                              source=source, kind="text", vad=False, resources=resources)
    session.whole.update({"audio": "text input", "face": "text input"})
    res = session.result(duration=0.0)
    for seg in res.segments:
        seg.source, seg.text_source = "text", "input"
    res.timings = {"text": res.timings.get("total", 0.0), "total": res.timings.get("total", 0.0)}
    return res


def _read_transcript(transcript: Any, duration: float, warnings: list[str],
                     encoding: str | None = None) -> list[Any] | None:
    from emofuse.media.transcript import clip_cues, read_transcript

    try:
        cues = read_transcript(transcript, encoding=encoding)
    except MissingFileError:
        raise
    except EmofuseError as err:
        warnings.append(f"transcript ignored: {err}")
        return None
    timed = [c for c in cues if c.start is not None]
    if timed and duration > 0:
        kept, notes = clip_cues(timed, duration)
        warnings.extend(notes)
        if not kept:
            warnings.append("transcript ignored: none of its cues falls inside the media")
            return None
        return kept
    return cues


def analyze(
    source: str | Path,
    *,
    transcript: str | Path | bytes | None = None,
    transcript_encoding: str | None = None,
    signals: str | Path | Any = None,
    config: AnalyzeConfig | dict[str, Any] | None = None,
    progress: bool = False,
    on_progress: Callable[[float, float], None] | None = None,
    resources: Any = None,
    **overrides: Any,
) -> AnalysisResult:
    """Analyse a video, audio or text file (or ``text=`` a string) end to end.

    Args:
        source: A media file (mp4, mkv, webm, mov, avi, wav, flac, mp3, ogg, m4a, ...) or a
            text file (``.txt``/``.md``).
        transcript: Optional transcript (SRT, WebVTT, JSON, plain text) as a path or bytes.
        transcript_encoding: Its text encoding when not UTF-8/UTF-16 with a BOM (e.g. ``"cp1252"``).
        signals: Physiological signals recorded alongside (a file :func:`~emofuse.media.physio_io.read_physio`
            reads — WESAD ``.npz``, CSV/Parquet, an Empatica E4 folder or zip, EDF/BDF — or a
            :class:`~emofuse.media.physio.PhysioRecording`), aligned with ``physio_offset_s``.
            ``source`` itself may be such a file: then the result is a physiological timeline.
        config: :class:`AnalyzeConfig` or a dict of its fields.
        progress: Show a progress bar (stderr).
        on_progress: Callback ``(seconds_done, duration)`` called as decoding advances.
        resources: The experts and models to use (:class:`~emofuse.analysis.paths.Resources`;
            default: the process-wide ones, loaded once), e.g. a service's thread-safe set.
        **overrides: Config fields overriding ``config`` (e.g. ``fps=1, asr=False``).

    Returns:
        The :class:`~emofuse.analysis.result.AnalysisResult` (``.to_pandas()``, ``.save()``).

    Raises:
        MissingFileError: ``source`` (or the transcript path) does not exist.
        DataError: An empty, unreadable or oversized file, or one without audio and video.
    """
    base = config.to_dict() if isinstance(config, AnalyzeConfig) else dict(config or {})
    base.update(overrides)
    cfg = AnalyzeConfig.from_dict(base)
    p = Path(source)
    rec = _read_signals(signals, cfg) if signals is not None else None
    if rec is None and p.suffix.lower() not in TEXT_SUFFIXES and _is_physio(p):
        return _analyze_physio(_read_signals(p, cfg), cfg, resources)
    if p.suffix.lower() in TEXT_SUFFIXES:
        if not p.is_file():
            raise MissingFileError(f"text file not found: {p}")
        if p.stat().st_size > MAX_TEXT_CHARS * 4:
            raise DataError(f"{p}: the text file is over the size limit ({MAX_TEXT_CHARS} characters)")
        try:
            text = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(f"{p}: not UTF-8 text (invalid byte at offset {err.start}); re-save it as UTF-8") from None
        return analyze_text(text, config=cfg, source=str(p), resources=resources)
    return _analyze_media(p, transcript, cfg, progress, on_progress, transcript_encoding, rec, resources)


def _is_physio(p: Path) -> bool:
    from emofuse.media.physio_io import sniff_physio

    return p.exists() and sniff_physio(p) is not None


def _read_signals(signals: Any, cfg: AnalyzeConfig) -> Any:
    from emofuse.media.physio import PhysioRecording
    from emofuse.media.physio_io import read_physio

    if isinstance(signals, PhysioRecording):
        return signals
    if not Path(signals).exists():
        raise MissingFileError(f"physiological signals not found: {signals}")
    return read_physio(signals, units=cfg.physio_units or None, max_bytes=cfg.max_bytes)


def _analyze_physio(rec: Any, cfg: AnalyzeConfig, resources: Any = None) -> AnalysisResult:
    """A physiological recording alone: fixed windows over its length, read by the physio path."""
    from emofuse.analysis.session import AnalysisSession

    session = AnalysisSession(cfg, has_audio=False, source=rec.source, kind="physio", vad=False, physio=rec,
                              resources=resources)
    session.whole.update({"text": "signals only", "audio": "signals only", "face": "signals only"})
    start, end = rec.start + cfg.physio_offset_s, rec.end + cfg.physio_offset_s
    session.advance(end)
    session.close(end)
    res = session.result(duration=round(end, 3), media={"kind": "physio", "start": round(start, 3)})
    return res


def _analyze_media(path: Path, transcript: Any, cfg: AnalyzeConfig, progress: bool,
                   on_progress: Callable[[float, float], None] | None,
                   transcript_encoding: str | None = None, physio: Any = None,
                   resources: Any = None) -> AnalysisResult:
    import time

    from emofuse.analysis.session import AnalysisSession
    from emofuse.media.stream import AudioChunk, StreamEvent, VideoSample, prefetch, probe, stream_media

    t0 = time.perf_counter()
    info = probe(path, max_bytes=cfg.max_bytes, max_pixels=cfg.max_pixels)
    duration = float(info.duration)
    warnings: list[str] = []
    cues = _read_transcript(transcript, duration, warnings, transcript_encoding) if transcript is not None else None
    session = AnalysisSession(cfg, has_audio=info.has_audio, has_video=info.has_video, cues=cues or [],
                              video_skipped=info.skip_video if info.has_video else None, source=str(path),
                              kind=info.kind, warnings=warnings, started=t0, physio=physio, resources=resources)
    broken: str | None = None
    bar, task = None, None
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]analysing[/] {task.description}"), BarColumn(),
                       TextColumn("{task.completed:.0f}/{task.total:.0f} s"), TimeRemainingColumn(), transient=True)
        bar.start()
        task = bar.add_task(path.name, total=max(duration, 1e-3))
    try:
        t1 = time.perf_counter()
        # decoding runs ahead in a thread (bounded), so it overlaps with the analysis; "decode"
        # is the time the analysis waited for it
        for item in prefetch(stream_media(info, audio=info.has_audio, video=session.wants_video,
                                          sample_rate=SAMPLE_RATE, chunk_s=2.0, fps=cfg.fps, max_side=cfg.max_side,
                                          threads=cfg.threads)):
            session.add_time("decode", t1)
            if isinstance(item, AudioChunk):
                session.feed_audio(item.start, item.samples)
            elif isinstance(item, VideoSample):
                session.feed_frame(item.t, item.rgb, item.scale)
            elif isinstance(item, StreamEvent) and item.kind == "skipped":  # damage skipped, decoding went on
                session.warnings.append(item.message)
            elif isinstance(item, StreamEvent):
                broken = item.message
            if bar is not None:
                bar.update(task, completed=min(session.end, duration))
            if on_progress is not None:
                on_progress(session.end, duration)
            t1 = time.perf_counter()
    finally:
        if bar is not None:
            bar.stop()
    if broken:
        session.warnings.append(broken)
    end_t = session.end
    if not broken and duration > 0 and 0 < end_t < duration - 1.0:
        broken = (f"the streams ended at {end_t:.1f} s but the file says it lasts {duration:.1f} s: it may be "
                  "truncated; analysed what was there")
        session.warnings.append(broken)
    if broken or duration <= 0:
        duration = round(end_t, 3) if broken else round(max(duration, end_t), 3)
    session.close(duration)
    return session.result(duration=duration, media=info.to_dict())
