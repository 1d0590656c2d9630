"""Feature-dataset readers; moved to :mod:`emofuse.data.formats` (this module re-exports it).

Example:
    >>> from emofuse.data.readers import load_dataset
    >>> from emofuse.data.formats import load_dataset as moved
    >>> load_dataset is moved
    True
"""

from __future__ import annotations

from emofuse.data.formats import *  # noqa: F403
from emofuse.data.formats import __all__  # noqa: F401
