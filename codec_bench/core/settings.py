"""Dataclass fields as the single source of a setting's name, type, default, choices, bounds and help.

A field made with :func:`setting` carries its help text, its allowed values, its numeric bounds and its command-line
key (its one name, the flag with underscores) in its metadata. From there, with nothing typed twice:

- :func:`from_mapping` checks a YAML mapping against a dataclass: unknown keys (with a "did you mean"), wrong types,
  values outside the choices or the bounds are one-line errors that say where (:func:`build` also builds the
  dataclass, whose ``__post_init__`` holds the rules across fields);
- :func:`cli_options` turns the fields into typer options (``--flag``, its help, its default, its help panel), so a
  command's signature is built from the dataclasses it fills, and :func:`split_options` checks what the command
  line gave exactly as :func:`from_mapping` checks a study file.

Chosen over pydantic or jsonargparse: the project's settings are plain dataclasses already, the checks needed are
few (types, choices, bounds, unknown keys), and this keeps typer (the house CLI) in charge of the command line.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import CodecBenchError

_MISSING = dataclasses.MISSING


def setting(default: Any = _MISSING, help: str | Callable[[], str] = "", *,
            choices: Iterable | Callable[[], Iterable] | None = None, key: str | None = None, cli: bool = True,
            yaml: bool = True, factory: Callable[[], Any] | None = None, cli_default: Any = _MISSING,
            minimum: float | None = None, above: float | None = None, maximum: float | None = None,
            parse: Callable[[str], Any] | None = None, folder: bool = False, noun: str | None = None,
            panel: str | None = None) -> Any:
    """A dataclass field with its ``help`` (text, or a function returning it, e.g. built from a table of defaults),
    ``choices`` (values, or a function returning them; ``noun`` names them in errors: "unknown codec"), numeric
    bounds (``minimum`` and ``maximum`` inclusive, ``above`` exclusive; None always allowed where the type allows
    it), ``key``: the setting's one name across a run's settings where the field's own name would be ambiguous
    (``codec`` for the codec's ``name``, ``codec_dtype`` for its ``dtype``; default the field's name): its
    command-line flag is ``--<key>`` with dashes and a study file writes it as the field's name inside its entry
    (``codecs: [{name: ..., dtype: ...}]``); ``cli=False``: not on the command line; ``yaml=False``: not in a study
    file), ``cli_default`` (when the command line's default differs, e.g. ``None`` for "decided by the
    model"), ``parse`` (the command line gives text that this function turns into the value, e.g. ``--seeds 3``),
    ``folder`` (a path that must be a folder when it exists) and ``panel`` (its group in ``--help``; default the
    class's ``PANEL``)."""
    metadata = {"help": help, "choices": choices, "key": key, "cli": cli, "yaml": yaml, "cli_default": cli_default,
                "minimum": minimum, "above": above, "maximum": maximum, "parse": parse, "folder": folder, "noun": noun,
                "panel": panel}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def is_setting(field: dataclasses.Field) -> bool:
    """Whether a dataclass field was made with :func:`setting` (a run's parts, e.g. ``RunConfig.codec``, are not)."""
    return "cli" in field.metadata


def key_of(field: dataclasses.Field) -> str:
    """A setting's one name: its ``key``, else the field's name (a flag is this with dashes: :func:`flag_of`)."""
    return field.metadata.get("key") or field.name


def choices_of(field: dataclasses.Field) -> list | None:
    choices = field.metadata.get("choices")
    return list(choices() if callable(choices) else choices) if choices is not None else None


def help_of(field: dataclasses.Field) -> str:
    text = field.metadata.get("help", "")
    return text() if callable(text) else text


def did_you_mean(value: Any, choices: Iterable) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def fail(where: str, what: str, value: Any, choices: Iterable) -> None:
    """Raise the one-line error for a value outside ``choices``, with a "did you mean" hint."""
    choices = list(choices)
    raise CodecBenchError(f"{where}: unknown {what} {value!r}; {did_you_mean(value, choices)}choose one of "
                          f"{', '.join(map(str, choices))}")


def check_value(field: dataclasses.Field, value: Any, where: str, what: str, subject: str) -> None:
    """One-line errors for a value outside the field's choices (``where: unknown <what> ...``), outside its bounds
    or an existing file where a folder is wanted (``<subject> <value>: must be ...``)."""
    if value is None:
        return
    choices = choices_of(field)
    if choices is not None and value not in choices:
        fail(where, field.metadata.get("noun") or what, value, choices)
    meta = field.metadata
    numbers = value if isinstance(value, (list, tuple)) else [value]
    for number in numbers:
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            continue
        for bound, words in ((meta.get("minimum"), "at least"), (meta.get("above"), "more than"),
                             (meta.get("maximum"), "at most")):
            if bound is not None and not _within(number, bound, words):
                raise CodecBenchError(f"{subject} {number:g}: must be {words} {bound:g}")
    if meta.get("folder"):
        check_folder(value, subject)


def _within(number: float, bound: float, words: str) -> bool:
    return number >= bound if words == "at least" else number > bound if words == "more than" else number <= bound


def check_folder(path: str | Path | None, where: str) -> None:
    """``where`` must name a folder (or a path not made yet): one line when it names an existing file."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise CodecBenchError(f"{where} must be a folder; {path} is a file")


def from_mapping(cls: type, raw: Any, where: str, skip: Iterable[str] = ()) -> dict:
    """The keyword arguments of ``cls`` found in ``raw`` (a YAML mapping), checked: every key a field of ``cls``
    that a study file may set, every value of the field's type (ints and numeric text such as ``1e-3`` accepted for
    floats, strings for paths), among its choices and within its bounds. Keys in ``skip`` are left to the caller."""
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
        check_value(fields[key], values[key], where, key, f"{where}: {key}")
    return values


def build(cls: type, raw: Any, where: str, skip: Iterable[str] = (), **given: Any) -> Any:
    """``cls`` built from ``raw`` checked by :func:`from_mapping` (plus ``given``); an error of its
    ``__post_init__`` (a rule across fields) is prefixed with ``where`` too."""
    values = from_mapping(cls, raw, where, skip) | given
    try:
        return cls(**values)
    except CodecBenchError as err:
        raise CodecBenchError(f"{where}: {err}") from None


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
    if annotation is float and isinstance(value, str) and is_number(value):
        return float(value)  # YAML 1.1 reads 1e-3 (no dot) as text; the command line reads it as the number meant
    if annotation is Path and isinstance(value, (str, Path)):
        return Path(value)
    if annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a fold written as 1 names fold "1"
    expected = origin or annotation
    if expected is typing.Any or (isinstance(value, expected) and not (expected is int and isinstance(value, bool))):
        return value
    raise CodecBenchError(f"{where} must be {getattr(expected, '__name__', expected)}, got {value!r}")


def is_number(text: str) -> bool:
    """Whether ``text`` is a finite number as written in a file (``1e-3``, ``3E-4``, ``.5``; not ``nan`` or ``inf``)."""
    return re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", text) is not None


def cli_options(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter per command-line field of ``cls``, named by its key (:func:`key_of`), its default a
    ``typer.Option`` with the field's flag, help, help panel and default (booleans as ``--x/--no-x``)."""
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
        annotation = str if field.metadata.get("parse") else hints[field.name]
        if annotation is bool:
            flag = f"{flag}/--no-{flag[2:]}"
        choices = choices_of(field)
        help_text = help_of(field) + (f" Choices: {', '.join(map(str, choices))}." if choices else "")
        option = typer.Option(default, flag, help=help_text, rich_help_panel=panel_of(cls, field))
        parameters.append(inspect.Parameter(key_of(field), inspect.Parameter.KEYWORD_ONLY, default=option,
                                            annotation=_cli_type(annotation, default)))
    return parameters


def flag_of(field: dataclasses.Field) -> str:
    """A setting's command-line flag: ``--<key>`` with dashes (the one name a study file writes with underscores)."""
    return f"--{key_of(field).replace('_', '-')}"


def panel_of(cls: type, field: dataclasses.Field) -> str | None:
    """A field's group in ``--help``: its own ``panel``, else the ``PANEL`` of the class that declares it."""
    if field.metadata.get("panel"):
        return field.metadata["panel"]
    owner = next((c for c in cls.__mro__ if field.name in c.__dict__.get("__annotations__", {})), cls)
    return owner.__dict__.get("PANEL")


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
    """Command-line values keyed by setting key -> ``{part: {field: value}}`` for each ``part: class``; text of a
    field with ``parse`` is parsed, and a value outside the field's choices or bounds is the same one-line error a
    study file gets (typer checks neither)."""
    out: dict[str, dict] = {part: {} for part in classes}
    for part, cls in classes.items():
        for field in dataclasses.fields(cls):
            if is_setting(field) and key_of(field) in values:
                value = values[key_of(field)]
                if field.metadata.get("parse") and isinstance(value, str):
                    value = field.metadata["parse"](value)
                check_value(field, value, flag_of(field), "value", flag_of(field))
                out[part][field.name] = value
    return out
