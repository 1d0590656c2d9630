"""The demo shipped with emofuse: a ~30 s clip for ``emofuse analyze --demo``.

Files in :data:`DEMO_DIR` (built by ``scripts/make_demo.py`` in the source repository; see
``PROVENANCE.md`` next to them for sources, licences and how to rebuild):

* ``demo.mp4`` — 640x360, 25 fps H.264 video with AAC audio: a still face photo drifting over a
  slowly changing background (hidden for ~3 s) and synthesised English speech, six sentences
  with clearly different emotions in the words and a ~2.5 s pause;
* ``demo.srt`` — the sentences with their true start/end times (the transcript path);
* ``face.jpg`` — the face photo (NASA, public domain);
* ``PROVENANCE.md`` — where each asset comes from.

Example:
    >>> demo_path().name
    'demo.mp4'
    >>> demo_path("no-such-file.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emofuse.errors.MissingFileError: demo file 'no-such-file.txt' is not in ...
"""

from __future__ import annotations

from pathlib import Path

from emofuse.errors import MissingFileError

__all__ = ["DEMO_DIR", "demo_path"]

#: Folder holding the demo files (inside the installed package).
DEMO_DIR = Path(__file__).resolve().parent


def demo_path(name: str = "demo.mp4") -> Path:
    """Path of a demo file in :data:`DEMO_DIR` (``demo.mp4``, ``demo.srt``, ``face.jpg``, ...).

    Raises:
        MissingFileError: the file is not there (e.g. a source checkout where
            ``scripts/make_demo.py`` has not been run, or a wheel built without the package data).
    """
    path = DEMO_DIR / name
    if not path.is_file():
        raise MissingFileError(
            f"demo file {name!r} is not in {DEMO_DIR}; reinstall emofuse, or rebuild the demo with "
            "scripts/make_demo.py (see PROVENANCE.md)"
        )
    return path
