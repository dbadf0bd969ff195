"""One schema for every frozen config and options dataclass: its fields declare their help text, their choices
and their range once, with :func:`setting`, and one validator checks them.

A value reaches a dataclass from the command line (text), a suite file (TOML values) or code. :func:`coerce`
types it (text is parsed only where it comes from a command line, so a TOML string where a number belongs is
refused) and :func:`check` checks a built instance: the type, the choices and the range of every plain field
(``str``, ``int``, ``float``, ``bool``, each optionally ``| None``). A class calls :func:`check` in its
``__post_init__``, so a Python call is checked like a file. Every error is a :class:`FieldError`: one line naming
the key. The metadata never reaches :func:`benchmark.core.config.canonical`, so it never moves a ``config_hash``.

A method declares ``Options``, a frozen dataclass of such settings; :func:`build_options` builds it from raw
values.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing

from benchmark.core.errors import ConfigError

PLAIN = (str, int, float, bool)
BOUNDS = {"minimum": (operator.ge, ">="), "maximum": (operator.le, "<="), "above": (operator.gt, ">"),
          "below": (operator.lt, "<")}


class FieldError(ConfigError):
    """A bad value of one field: ``key`` names it and ``reason`` says why (``must be int, got '3'``)."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key} {reason}")
        self.key, self.reason = key, reason

    def __reduce__(self):
        return type(self), (self.key, self.reason)


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a method that has none."""


def setting(default, help: str, choices: tuple | None = None, *, minimum=None, maximum=None, above=None,
            below=None):
    """A dataclass field with ``default``, the help text the CLI shows for its flag (``metadata["help"]``) and
    what :func:`check` enforces: a fixed set of ``choices``, and bounds (``minimum`` and ``maximum`` inclusive,
    ``above`` and ``below`` exclusive)."""
    bounds = dict(minimum=minimum, maximum=maximum, above=above, below=below)
    metadata = {"help": help, **({"choices": tuple(choices)} if choices else {}),
                **{name: bound for name, bound in bounds.items() if bound is not None}}
    return dataclasses.field(default=default, metadata=metadata)


@functools.cache
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


@functools.cache
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


def _is_a(kind: type, value) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _interval(meta) -> str:
    """``lie in [0, 1)``-style text of the bounds in ``meta``: an interval when both ends are set, else ``be >= 1``."""
    low = next((name for name in ("minimum", "above") if name in meta), None)
    high = next((name for name in ("maximum", "below") if name in meta), None)
    if low and high:
        return (f"lie in {'[' if low == 'minimum' else '('}{meta[low]:g}, "
                f"{meta[high]:g}{']' if high == 'maximum' else ')'}")
    name = low or high
    return f"be {BOUNDS[name][1]} {meta[name]:g}"


def check_value(cls, name: str, value, key: str | None = None) -> None:
    """Check ``value`` against the type, choices and bounds of the field ``name`` of ``cls``; a
    :class:`FieldError` names ``key`` (default: ``name``)."""
    key = key or name
    if value is None and optional(cls, name):
        return
    kind = field_types(cls)[name]
    if not _is_a(kind, value):
        raise FieldError(key, f"must be {kind.__name__}, got {value!r}")
    meta = cls.__dataclass_fields__[name].metadata
    choices = meta.get("choices")
    if choices and value not in choices:
        raise FieldError(key, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
    if not all(test(value, meta[name]) for name, (test, _) in BOUNDS.items() if name in meta):
        raise FieldError(key, f"must {_interval(meta)}, got {value!r}")


def check(instance) -> None:
    """Check every plain field of the dataclass ``instance`` (:func:`check_value`)."""
    cls = type(instance)
    for name, kind in field_types(cls).items():
        if kind in PLAIN:
            check_value(cls, name, getattr(instance, name))


def coerce(cls, name: str, value, text: bool = False, none: str | None = None):
    """``value`` typed for the field ``name`` of ``cls``: an int becomes a float where a float belongs; with
    ``text`` (a command line's ``KEY=VALUE``) a string is parsed; ``none`` is a word that stands for None where the
    field takes None (a suite's ``"full"``). Anything else of the wrong type is a :class:`FieldError`; choices and
    bounds are :func:`check`'s."""
    kind, nullable = field_types(cls)[name], optional(cls, name)
    if nullable and none is not None and value == none:
        return None
    if text and isinstance(value, str) and kind in PLAIN and kind is not str:
        try:
            value = parse_value(kind, value)
        except ValueError:
            raise FieldError(name, f"must be {kind.__name__}, got {value!r}") from None
    if kind is float and _is_a(float, value):
        value = float(value)
    if not (value is None and nullable) and kind in PLAIN and not _is_a(kind, value):
        alias = f' or "{none}"' if nullable and none is not None else ""
        raise FieldError(name, f"must be {kind.__name__}{alias}, got {value!r}")
    return value


def build_options(cls, values: dict, owner: str, text: bool = True):
    """A checked instance of ``cls`` from ``values`` (strings parsed with ``text``, see :func:`coerce`); an
    unknown name, a wrong type, a value outside the field's choices or bounds is one line naming the option."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown {owner} option {unknown[0]!r}; valid options: {describe(cls) or 'none'}")
    try:
        instance = cls(**{name: coerce(cls, name, value, text) for name, value in values.items()})
        check(instance)
    except FieldError as error:
        raise ConfigError(f"{owner} option {error}") from None
    return instance
