"""The one source of emofuse's version (``pyproject.toml`` reads it; deep modules import it from here)."""

__version__ = "0.1.0"
