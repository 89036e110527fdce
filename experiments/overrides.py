"""``--set FIELD=VALUE``: typed changes to a study's configuration from the command line.

Every study's ``Config`` is a frozen dataclass whose field annotations say how a value is
read: ``int``, ``float``, ``str``, ``bool`` (``true`` / ``false``), ``X | None`` (``none``)
and tuples ``tuple[X, ...]`` written as comma lists (``loads=0.05,0.1``; an empty value is
the empty tuple).  Unknown fields and unreadable values raise ``ValueError`` naming the
field, its type, its default and the valid fields.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

__all__ = ["apply_overrides", "parse_assignment", "format_value", "describe", "differences"]

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _field_types(config_type: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_type)}


def _parse(annotation: Any, text: str) -> Any:
    """``text`` read as a value of ``annotation`` (raises ``ValueError`` when it cannot be)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):  # X | None
        if text.strip().lower() in ("none", "null", ""):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _parse(inner, text)
    if origin is tuple:
        item = args[0]
        return tuple(_parse(item, part.strip()) for part in text.split(",") if part.strip())
    if annotation is bool:
        if text.strip().lower() in _TRUE:
            return True
        if text.strip().lower() in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if annotation in (int, float, str):
        return annotation(text.strip()) if annotation is not str else text
    raise ValueError(f"fields of type {annotation} cannot be set from the command line")


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple:
        return f"comma list of {_type_name(args[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join("none" if a is type(None) else _type_name(a) for a in args)
    return getattr(annotation, "__name__", str(annotation))


def parse_assignment(config: Any, assignment: str) -> tuple[str, Any]:
    """``"N=64"`` -> ``("N", 64)``, typed by the annotation of ``N`` in ``type(config)``.

    Raises
    ------
    ValueError
        For text without ``=``, a field the config does not have (the message lists the
        valid ones) or a value that cannot be read as the field's type.
    """
    name, sep, text = assignment.partition("=")
    name = name.strip()
    fields = _field_types(type(config))
    if not sep:
        raise ValueError(f"--set expects FIELD=VALUE, got {assignment!r}; fields: {', '.join(fields)}")
    if name not in fields:
        study = type(config).__module__.removeprefix("experiments.").split(".")[0]
        raise ValueError(f"--set {assignment}: {study} has no field {name!r}; valid fields: {', '.join(fields)}")
    try:
        return name, _parse(fields[name], text)
    except ValueError as err:
        default = format_value(getattr(config, name))
        raise ValueError(
            f"--set {assignment}: {name} expects {_type_name(fields[name])} (preset value {default}); {err}"
        ) from None


def apply_overrides(config: Any, assignments: list[str]) -> tuple[Any, dict[str, Any]]:
    """The config with every ``FIELD=VALUE`` applied (later ones win), and the changes as a dict."""
    changes = dict(parse_assignment(config, a) for a in assignments)
    return (dataclasses.replace(config, **changes) if changes else config), changes


def format_value(value: Any) -> str:
    """A value as ``--set`` would accept it: tuples as comma lists, ``None`` as ``none``."""
    if isinstance(value, tuple):
        return ",".join(format_value(v) for v in value)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe(config: Any) -> list[str]:
    """``FIELD = VALUE`` per field of a config, in field order."""
    return [f"{f.name} = {format_value(getattr(config, f.name))}" for f in dataclasses.fields(config)]


def differences(config: Any, reference: Any) -> dict[str, Any]:
    """Fields whose value in ``config`` differs from ``reference``, in field order."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(reference, f.name)
    }
