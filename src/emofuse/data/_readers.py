"""Machinery shared by the corpus readers and the feature-format readers.

Both :data:`emofuse.data.corpora.CORPORA` and :data:`emofuse.data.formats.READERS` are a
:class:`ReaderRegistry`: a :class:`~emofuse.registry.Registry` of reader functions in which
each reader also registers how to recognise its layout (``sniff``, or file ``suffixes``) and a
one-line ``layout`` description. Sniffing a path, validating a reader's options and the
"cannot tell which reader" message are written here once; a new reader is one module whose
function is decorated with ``@REGISTRY.register(name, sniff=..., layout=...)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from emofuse.errors import DataError, MissingFileError, UnknownNameError
from emofuse.registry import Registry

R = TypeVar("R", bound=Callable[..., Any])

#: A sniffer: does this existing path look like the reader's layout?
Sniffer = Callable[[Path], bool]


@dataclass(frozen=True)
class ReaderInfo:
    """How a registered reader is recognised and described.

    Attributes:
        name: Registry name.
        layout: One line describing the on-disk layout (used in sniffing errors).
        sniff: Recognises the layout from an existing path; ``None``: never sniffed
            (the reader must be named with ``format=``).
        suffixes: File suffixes that select this reader (lower case, with the dot).
        order: Sniffers run in increasing order (specific layouts before generic ones).
        options: Option names the reader accepts; ``None``: taken from its signature.
        many: The reader also takes a mapping of name → file (a multi-file format); a mapping
            given to :meth:`ReaderRegistry.sniff` selects the first such reader.
    """

    name: str
    layout: str
    sniff: Sniffer | None = None
    suffixes: tuple[str, ...] = ()
    order: int = 50
    options: tuple[str, ...] | None = None
    many: bool = False

    def matches(self, path: Path) -> bool:
        """Whether ``path`` (which exists) fits this reader."""
        if self.suffixes and path.is_file() and path.suffix.lower() in self.suffixes:
            return True
        return self.sniff is not None and bool(self.sniff(path))


class ReaderRegistry(Registry[R]):
    """A registry of reader functions that can also tell which reader fits a path.

    Args:
        kind: What the readers read, for messages (``"corpus reader"``, ``"dataset format"``).
        what: The noun of the data in messages (``"corpus"``, ``"dataset"``).

    Example:
        >>> reg = ReaderRegistry("toy reader", "toy")
        >>> @reg.register("txt", suffixes=(".txt",), layout="a .txt file")
        ... def read_txt(path, *, strip=True):
        ...     return path
        >>> reg.names(), reg.options("txt")
        (['txt'], ('strip',))
    """

    def __init__(self, kind: str, what: str) -> None:
        super().__init__(kind)
        self.what = what
        self._info: dict[str, ReaderInfo] = {}

    def register(self, name: str, *, layout: str = "", sniff: Sniffer | None = None,  # type: ignore[override]
                 suffixes: Sequence[str] = (), order: int = 50,
                 options: Iterable[str] | None = None, many: bool = False) -> Callable[[R], R]:
        """Decorator registering a reader with how it is sniffed (see :class:`ReaderInfo`)."""

        def deco(reader: R) -> R:
            self.add(name, reader)
            self._info[name] = ReaderInfo(name, layout, sniff, tuple(s.lower() for s in suffixes), order,
                                          None if options is None else tuple(options), many)
            return reader

        return deco

    def info(self, name: str) -> ReaderInfo:
        """The :class:`ReaderInfo` of ``name`` (unknown names raise with close matches)."""
        self.get(name)
        return self._info.get(name, ReaderInfo(name, ""))

    def options(self, name: str) -> tuple[str, ...]:
        """Keyword options reader ``name`` accepts (its signature minus the path)."""
        declared = self.info(name).options
        if declared is not None:
            return declared
        params = inspect.signature(self.get(name)).parameters.values()
        return tuple(p.name for p in params
                     if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "path")

    def check_options(self, name: str, options: Iterable[str]) -> None:
        """Refuse options reader ``name`` does not take.

        Raises:
            UnknownNameError: The first unknown option, with the known ones and close matches.
        """
        accepted = self.options(name)
        for opt in options:
            if opt not in accepted:
                raise UnknownNameError(f"option of {self.kind} {name!r}", opt, accepted)

    def sniff(self, path: str | Path | Mapping[str, Any]) -> str:
        """Name of the first reader (by ``order``) whose layout fits ``path``.

        A mapping (name → file) selects the first reader registered with ``many=True``.

        Raises:
            MissingFileError: ``path`` does not exist.
            DataError: No reader recognises it; the message lists the layouts and readers.
        """
        infos = sorted((self.info(n) for n in self.names()), key=lambda i: (i.order, i.name))
        if isinstance(path, Mapping):
            for info in infos:
                if info.many:
                    return info.name
            raise DataError(f"no {self.kind} reads a mapping of files; give one path")
        p = Path(path)
        if not p.exists():
            raise MissingFileError(f"{self.what} path {p} does not exist")
        for info in infos:
            if (info.sniff is not None or info.suffixes) and info.matches(p):
                return info.name
        sniffed = "; ".join(f"{i.name}: {i.layout}" for i in infos if i.sniff is not None or i.suffixes)
        named = "; ".join(f"{i.name}: {i.layout}" for i in infos if i.sniff is None and not i.suffixes)
        where = f"{self.what} folder {p}" if p.is_dir() else f"{self.what} {p.name!r}"
        tail = f" Readers that are never sniffed: {named}." if named else ""
        raise DataError(f"cannot tell which {where} holds: no layout recognised here fits ({sniffed}).{tail} "
                        f"Name the reader with format= (one of {self.names()})")


def require_path(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`Path` (``~`` expanded) that exists.

    Raises:
        MissingFileError: It does not exist (the message names ``what``).
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingFileError(f"{what} {p} does not exist")
    return p


def require_file(path: str | Path, what: str) -> Path:
    """Like :func:`require_path`, but the path must be a file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise MissingFileError(f"{what} {p} does not exist")
    return p


def check_choice(value: str, allowed: Sequence[str], what: str) -> str:
    """``value`` if it is one of ``allowed``.

    Raises:
        UnknownNameError: It is not (with close matches).
    """
    if value not in allowed:
        raise UnknownNameError(what, value, allowed)
    return value


def check_choices(value: str | Sequence[str], allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """An option given as one name, several names or ``"all"`` → a tuple of allowed names.

    Raises:
        UnknownNameError: A name outside ``allowed`` (``"all"`` is listed among the known ones).
    """
    names = (value,) if isinstance(value, str) else tuple(value)
    if names == ("all",):
        return tuple(allowed)
    for name in names:
        if name not in allowed:
            raise UnknownNameError(what, name, [*allowed, "all"])
    return names
