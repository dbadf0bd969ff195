"""Typed option dataclasses: reading values for them (from the command line, a suite file or code) and checking
them, with one-line errors that list the valid options.

A method declares ``Options``, a frozen dataclass whose fields carry their help text in ``metadata["help"]``
(see :func:`benchmark.config.setting`) and, for a fixed set of values, ``metadata["choices"]``.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from benchmark.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a method that has none."""


def field_types(cls) -> dict[str, type]:
    """Each field's type with ``X | None`` reduced to ``X`` (resolved with ``typing.get_type_hints``)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        out[f.name] = kind
    return out


def optional(cls, name: str) -> bool:
    """True when the field ``name`` of ``cls`` accepts None."""
    kind = typing.get_type_hints(cls)[name]
    return type(None) in typing.get_args(kind)


def parse_value(kind: type, text: str):
    """A command-line string as ``kind`` (bool accepts true/false/1/0/yes/no)."""
    if kind is bool:
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"not a boolean: {text!r}")
        return lowered in ("true", "1", "yes")
    return kind(text)


def describe(cls) -> str:
    """``name (type, default X)`` for every field, for error messages."""
    kinds = field_types(cls)
    return ", ".join(f"{f.name} ({kinds[f.name].__name__}, default {f.default!r})" for f in dataclasses.fields(cls))


def _coerce(cls, owner: str, name: str, kind: type, value):
    if value is None and optional(cls, name):
        return None
    try:
        if isinstance(value, str) and kind is not str:
            value = parse_value(kind, value)
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError
    except (TypeError, ValueError):
        raise ConfigError(f"{owner} option {name} must be {kind.__name__}, got {value!r}") from None
    return value


def build_options(cls, values: dict, owner: str):
    """An instance of ``cls`` from ``values`` (strings are parsed); an unknown name, a wrong type or a value
    outside the field's ``choices`` is one line naming the valid options."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        valid = describe(cls) or "none"
        raise ConfigError(f"unknown {owner} option {unknown[0]!r}; valid options: {valid}")
    kinds = field_types(cls)
    checked = {}
    for name, value in values.items():
        checked[name] = _coerce(cls, owner, name, kinds[name], value)
        choices = names[name].metadata.get("choices")
        if choices and checked[name] not in choices:
            raise ConfigError(f"{owner} option {name} must be one of {', '.join(map(str, choices))}, "
                              f"got {checked[name]!r}")
    return cls(**checked)
