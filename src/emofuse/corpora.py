"""Raw-corpus readers; moved to :mod:`emofuse.data.corpora` (this module re-exports it).

Example:
    >>> from emofuse.corpora import load_corpus
    >>> from emofuse.data.corpora import load_corpus as moved
    >>> load_corpus is moved
    True
"""

from __future__ import annotations

from emofuse.data.corpora import *  # noqa: F403
from emofuse.data.corpora import __all__  # noqa: F401
