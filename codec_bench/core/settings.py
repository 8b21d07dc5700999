"""Dataclass fields as the single source of a setting's name, type, default, choices and help.

A field made with :func:`setting` carries its help text, its allowed values and its command-line flag in its
metadata. From there, with nothing typed twice:

- :func:`from_mapping` checks a YAML mapping against a dataclass: unknown keys (with a "did you mean"), wrong types
  and values outside the choices are one-line errors that say where;
- :func:`cli_options` turns the fields into typer options (``--flag``, its help, its default), so a command's
  signature is built from the dataclasses it fills.

Chosen over pydantic or jsonargparse: the project's settings are plain dataclasses already, the checks needed are
few (types, choices, unknown keys), and this keeps typer (the house CLI) in charge of the command line.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import CodecBenchError

_MISSING = dataclasses.MISSING


def setting(default: Any = _MISSING, help: str = "", *, choices: Iterable | Callable[[], Iterable] | None = None,
            flag: str | None = None, cli: bool = True, yaml: bool = True, factory: Callable[[], Any] | None = None,
            cli_default: Any = _MISSING) -> Any:
    """A dataclass field with its ``help``, ``choices`` (values, or a function returning them), command-line
    ``flag`` (default ``--<name>``; ``cli=False``: not on the command line; ``yaml=False``: not in a study file)
    and ``cli_default`` (when the command line's default differs, e.g. ``None`` for "decided by the model")."""
    metadata = {"help": help, "choices": choices, "flag": flag, "cli": cli, "yaml": yaml, "cli_default": cli_default}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def choices_of(field: dataclasses.Field) -> list | None:
    choices = field.metadata.get("choices")
    return list(choices() if callable(choices) else choices) if choices is not None else None


def did_you_mean(value: Any, choices: Iterable) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def fail(where: str, what: str, value: Any, choices: Iterable) -> None:
    """Raise the one-line error for a value outside ``choices``, with a "did you mean" hint."""
    choices = list(choices)
    raise CodecBenchError(f"{where}: unknown {what} {value!r}; {did_you_mean(value, choices)}choose one of "
                          f"{', '.join(map(str, choices))}")


def from_mapping(cls: type, raw: Any, where: str, skip: Iterable[str] = ()) -> dict:
    """The keyword arguments of ``cls`` found in ``raw`` (a YAML mapping), checked: every key a field of ``cls``
    that a study file may set, every value of the field's type (ints accepted for floats, strings for paths) and
    among its choices. Keys in ``skip`` are left to the caller."""
    if not isinstance(raw, dict):
        raise CodecBenchError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key in skip:
            continue
        if key not in fields:
            fail(where, "key", key, list(fields) + list(skip))
        values[key] = _coerce(value, hints[key], f"{where}: {key}")
        choices = choices_of(fields[key])
        if choices is not None and values[key] is not None and values[key] not in choices:
            fail(where, key, values[key], choices)
    return values


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """``value`` as ``annotation`` (str, int, float, bool, Path, dict, list/tuple of those, Optional)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise CodecBenchError(f"{where} must be a list, got {value!r}")
        items = [_coerce(item, args[0], where) for item in value]
        return items if origin is list else tuple(items)
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is Path and isinstance(value, (str, Path)):
        return Path(value)
    if annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a fold written as 1 names fold "1"
    expected = origin or annotation
    if expected is typing.Any or (isinstance(value, expected) and not (expected is int and isinstance(value, bool))):
        return value
    raise CodecBenchError(f"{where} must be {getattr(expected, '__name__', expected)}, got {value!r}")


def cli_options(cls: type, prefix: str = "") -> list[inspect.Parameter]:
    """One keyword parameter per command-line field of ``cls``, named ``<prefix><field>``, its default a
    ``typer.Option`` with the field's flag, help and default (booleans as ``--x/--no-x``)."""
    import typer

    hints = typing.get_type_hints(cls)
    parameters = []
    for field in dataclasses.fields(cls):
        if not field.metadata.get("cli", False):
            continue
        default = field.metadata["cli_default"]
        if default is _MISSING:
            default = field.default_factory() if field.default is _MISSING else field.default
        flag = flag_of(field)
        annotation = hints[field.name]
        if annotation is bool:
            flag = f"{flag}/--no-{flag[2:]}"
        choices = choices_of(field)
        help_text = field.metadata["help"] + (f" Choices: {', '.join(map(str, choices))}." if choices else "")
        option = typer.Option(default, flag, help=help_text)
        parameters.append(inspect.Parameter(prefix + field.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                            annotation=_cli_type(annotation, default)))
    return parameters


def flag_of(field: dataclasses.Field) -> str:
    """A field's command-line flag: its own, else ``--<name>`` with dashes."""
    return field.metadata.get("flag") or f"--{field.name.replace('_', '-')}"


def _cli_type(annotation: Any, default: Any) -> Any:
    """The type typer reads: the field's type, made Optional when the default is None."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in args if a is not type(None))
        return typing.Optional[_cli_type(inner, None)]
    if origin in (list, tuple):
        return typing.Optional[list[args[0]]]
    return typing.Optional[annotation] if default is None else annotation


def split_options(values: dict, classes: dict[str, type]) -> dict[str, dict]:
    """Command-line values keyed ``<prefix><field>`` -> ``{prefix: {field: value}}`` for each ``prefix: class``; a
    value outside the field's choices is the same one-line error a study file gets (typer does not check them)."""
    out: dict[str, dict] = {prefix: {} for prefix in classes}
    for prefix, cls in classes.items():
        for field in dataclasses.fields(cls):
            if prefix + field.name in values:
                value = values[prefix + field.name]
                choices = choices_of(field)
                if choices is not None and value is not None and value not in choices:
                    fail(flag_of(field), "value", value, choices)
                out[prefix][field.name] = value
    return out
