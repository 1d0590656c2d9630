"""Typed configuration helpers.

Dataclasses are the truth; YAML/JSON are their serialised form. :func:`from_dict` builds a
dataclass from a mapping and rejects unknown keys (with close matches) and values of the
wrong type, so a typo in a config file fails loudly instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from emofuse.errors import ConfigError, MissingFileError

C = TypeVar("C")


def _check_type(name: str, value: Any, hint: Any) -> Any:
    """Coerce/validate ``value`` against a simple type hint (int, float, str, bool, Optional)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(name, value, arg)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError("; ".join(errors))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected a bool, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected an int, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        return tuple(value) if origin is tuple else list(value)
    return value


def from_dict(cls: type[C], data: Mapping[str, Any] | None, *, where: str = "") -> C:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types.

    Nested dataclass fields are built recursively from nested mappings.
    """
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    prefix = f"{where}." if where else ""
    unknown = [k for k in data if k not in fields]
    if unknown:
        parts = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(fields), n=1)
            parts.append(f"{prefix}{key}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"Unknown config key(s) for {cls.__name__}: {', '.join(parts)}. "
            f"Allowed: {', '.join(sorted(fields))}."
        )
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            kwargs[key] = from_dict(hint, value, where=prefix + key)  # type: ignore[arg-type]
        elif typing.get_origin(hint) in (dict, Mapping) or hint in (dict, Any):
            kwargs[key] = dict(value) if isinstance(value, Mapping) else value
        else:
            kwargs[key] = _check_type(prefix + key, value, hint)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Invalid {cls.__name__}: {exc}") from exc


def to_dict(obj: Any) -> dict[str, Any]:
    """Serialise a (nested) dataclass to plain Python types (tuples become lists)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return conv(obj)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with ``yaml.safe_load`` (never constructs Python objects)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"Config file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML scalars) to a nested dict."""
    out = dict(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"Override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, Mapping) else {}
            node[part] = child
            node = child
        node[parts[-1]] = value
    return out
