"""Media decoding: audio files to waveforms (video and segmentation live here too as they come).

Example:
    >>> from emofuse.media import load_audio
    >>> callable(load_audio)
    True
"""

from __future__ import annotations

from emofuse.media.audio import MIN_DURATION_S, SILENCE_PEAK, check_waveform, load_audio, resample

__all__ = ["MIN_DURATION_S", "SILENCE_PEAK", "check_waveform", "load_audio", "resample"]
