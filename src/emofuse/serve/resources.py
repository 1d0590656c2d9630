"""Models shared by every analysis of the service, safe to use from several threads at once.

The service runs analyses in worker threads and live sessions side by side, all in one process
with one set of models (experts, the face detector, Whisper) — loaded once, as in a batch.
Some of those objects are not safe to call from two threads at once (a MediaPipe graph, a
tokenizer), so :class:`ThreadSafeResources` hands out each shared object behind its own lock:
two analyses may run different models at the same time, never the same one.

It wraps the process-wide :data:`emofuse.analysis.paths.base.RESOURCES` (it loads through it, so
nothing is loaded twice). Live sessions and uploads are given it explicitly
(``AnalysisSession(..., resources=...)``, ``emofuse.analyze(..., resources=...)``); the process-wide
default is never replaced.

Example:
    >>> import threading
    >>> class Counter:
    ...     n = 0
    ...     def add(self):
    ...         self.n += 1
    ...         return self.n
    >>> c = Locked(Counter())
    >>> c.add(), c.n
    (1, 1)
"""

from __future__ import annotations

import threading
from typing import Any

from emofuse.analysis.paths import Resources

__all__ = ["Locked", "ThreadSafeResources", "serve_resources"]


class Locked:
    """A proxy calling ``obj`` (and its methods) under one lock; other attributes pass through."""

    def __init__(self, obj: Any) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_lock", threading.RLock())

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._obj, name)
        if callable(attr) and getattr(attr, "__self__", None) is self._obj:  # a bound method
            lock = self._lock

            def locked(*args: Any, **kwargs: Any) -> Any:
                with lock:
                    return attr(*args, **kwargs)

            return locked
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._obj, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped object under its lock."""
        with self._lock:
            return self._obj(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Locked({self._obj!r})"


class ThreadSafeResources(Resources):
    """:class:`~emofuse.analysis.paths.Resources` whose objects are loaded once and used one thread at a time.

    Args:
        base: The resources that load and keep the objects (default: the process-wide ones).
    """

    def __init__(self, base: Resources | None = None) -> None:
        super().__init__()
        if base is None:
            from emofuse.analysis.paths.base import RESOURCES

            base = RESOURCES
        self.base = base
        self._load = threading.RLock()
        self._proxies: dict[int, Locked] = {}

    def _proxy(self, obj: Any) -> Locked:
        key = id(obj)
        if key not in self._proxies:
            self._proxies[key] = Locked(obj)
        return self._proxies[key]

    def expert(self, name: str, cfg: Any, weights: str | None = None) -> Any:
        """The expert, loaded once (under a lock), behind its own call lock."""
        with self._load:
            return self._proxy(self.base.expert(name, cfg, weights))

    def get(self, key: tuple[Any, ...], build: Any) -> Any:
        """A shared object built once (under a lock), behind its own call lock."""
        with self._load:
            return self._proxy(self.base.get(key, build))


_STATE: dict[str, Any] = {"resources": None}
_STATE_LOCK = threading.Lock()


def serve_resources() -> ThreadSafeResources:
    """The process's :class:`ThreadSafeResources` (made on first use), handed to every job and live session."""
    with _STATE_LOCK:
        if _STATE["resources"] is None:
            _STATE["resources"] = ThreadSafeResources()
        return _STATE["resources"]
