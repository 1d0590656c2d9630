"""Output writers: one registered function per file format of an analysis result.

:data:`WRITERS` holds every format ``emofuse analyze --formats`` and
:meth:`AnalysisResult.save <emofuse.analysis.result.AnalysisResult.save>` can write. Each
writer is a function ``(result, path) -> Path`` registered with :func:`register_writer`, its
file suffix and the optional modules it needs; when one is missing the writer fails before
writing, with the ``pip install`` command. A new format is one decorated function:

.. code-block:: python

    @register_writer("txt", requires=())
    def write_txt(result, path):
        path.write_text(result.dominant() or "none")
        return path

The heavy views (HTML report, PNG timeline) are imported only when their writer runs.

Example:
    >>> output_formats()
    ('csv', 'html', 'json', 'parquet', 'png')
    >>> WRITERS.get("parquet").suffix, WRITERS.get("parquet").requires
    ('.parquet', ('pandas', 'pyarrow'))
    >>> from emofuse.errors import UnknownNameError
    >>> try:
    ...     check_formats(["jsn"])
    ... except UnknownNameError as err:
    ...     print(err.suggestions)
    ['json']
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emofuse.registry import Registry

if TYPE_CHECKING:  # pragma: no cover - typing only
    from emofuse.analysis.result import AnalysisResult

__all__ = ["WRITERS", "Writer", "check_formats", "output_formats", "register_writer"]

WriteFn = Callable[["AnalysisResult", Path], Path]


@dataclass(frozen=True)
class Writer:
    """One registered output format.

    Attributes:
        name: Format name (``"csv"``), as given to ``--formats``.
        suffix: File suffix with its dot (``".csv"``).
        write: ``(result, path) -> path`` writing the file.
        requires: Modules the writer imports (checked before it runs).
        extra: The ``emofuse`` extra that installs them (``"tables"``).
        description: One line for help texts.
    """

    name: str
    suffix: str
    write: WriteFn
    requires: tuple[str, ...] = ()
    extra: str | None = None
    description: str = ""

    def missing(self) -> list[str]:
        """The required modules that are not installed."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def check(self) -> None:
        """Raise the install hint when a required module is missing.

        Raises:
            ImportError: ``pip install 'emofuse[<extra>]'`` (or the modules) in the message.
        """
        miss = self.missing()
        if miss:
            what = f"'emofuse[{self.extra}]'" if self.extra else " ".join(miss)
            raise ImportError(f"the {self.name} output needs {', '.join(miss)}: pip install {what}")

    def __call__(self, result: AnalysisResult, path: str | Path) -> Path:
        """Write ``result`` to ``path`` (after :meth:`check`); returns the path written."""
        self.check()
        return Path(self.write(result, Path(path)))


#: Every output format, by name.
WRITERS: Registry[Writer] = Registry("output format")


def register_writer(name: str, *, suffix: str | None = None, requires: Iterable[str] = (),
                    extra: str | None = None) -> Callable[[WriteFn], WriteFn]:
    """Decorator registering ``fn(result, path) -> Path`` as the writer of format ``name``.

    Args:
        name: Format name (unique; a taken name raises ``ValueError``).
        suffix: File suffix (default ``"." + name``).
        requires: Optional modules the writer needs.
        extra: The ``emofuse`` extra installing them (for the hint).
    """

    def deco(fn: WriteFn) -> WriteFn:
        doc = (fn.__doc__ or "").strip().splitlines()
        WRITERS.add(name, Writer(name=name, suffix=suffix or f".{name}", write=fn, requires=tuple(requires),
                                 extra=extra, description=doc[0] if doc else ""))
        return fn

    return deco


def output_formats() -> tuple[str, ...]:
    """Names of the registered formats (sorted)."""
    return tuple(WRITERS.names())


def check_formats(formats: Iterable[str] | None = None) -> list[Writer]:
    """The writers for ``formats`` (``None``: all), checked before anything is written.

    Duplicates are dropped (first kept). Run it before a long analysis so a typo or a missing
    dependency is reported at once.

    Raises:
        UnknownNameError: An unknown format (close matches suggested).
        ImportError: A writer's optional dependency is missing (with the install command).
    """
    names = output_formats() if formats is None else list(dict.fromkeys(formats))
    writers = [WRITERS.get(n) for n in names]
    for w in writers:
        w.check()
    return writers


# --------------------------------------------------------------------------- the shipped formats


@register_writer("json")
def write_json(result: AnalysisResult, path: Path) -> Path:
    """The whole result as JSON (UTF-8, indented); reads back with ``AnalysisResult.read_json``."""
    result.to_json(path)
    return path


@register_writer("csv")
def write_csv(result: AnalysisResult, path: Path) -> Path:
    """One row per segment: fused and per-modality labels, confidences, weights, probabilities."""
    result.to_csv(path)
    return path


@register_writer("parquet", requires=("pandas", "pyarrow"), extra="tables")
def write_parquet(result: AnalysisResult, path: Path) -> Path:
    """The CSV's rows as Parquet."""
    result.to_parquet(path)
    return path


@register_writer("html")
def write_html(result: AnalysisResult, path: Path) -> Path:
    """A self-contained HTML report (the timeline inline when matplotlib is installed)."""
    from emofuse.analysis.report_html import write_html as _write

    return _write(result, path)


@register_writer("png", requires=("matplotlib",), extra="plots")
def write_png(result: AnalysisResult, path: Path) -> Path:
    """The emotion timeline as a PNG image."""
    from emofuse.analysis.timeline import plot_timeline

    plot_timeline(result, path)
    return path
