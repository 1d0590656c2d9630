"""Registries: the single source of component names.

One :class:`Registry` exists per component kind (fusion models, encoders, label spaces,
dataset readers). The CLI, configs, docs and tests read names from them; duplicate names
are an error and an unknown name is answered with close matches.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from emofuse.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → component mapping filled by decorators at definition time.

    Args:
        kind: What the registry holds, used in error messages ("fusion model").

    Example:
        >>> reg = Registry[int]("number")
        >>> reg.add("one", 1)
        1
        >>> reg.get("one")
        1
        >>> reg.names()
        ['one']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; a name already taken raises ``ValueError``."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def get(self, name: str) -> T:
        """Return the component called ``name`` or raise :class:`UnknownNameError`."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted names matching a shell-style ``pattern`` (``"late_*"``)."""
        return sorted(n for n in self._items if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
