"""The JSON Schemas of the result files, shipped in the package (``codec_bench/formats/schemas/``), and the check
that a file's content follows them.

    results-v2.schema.json      a report's results.json and a study's cell files OUT/results/<cell>.json
    records-v2.schema.json      a folder's records.json (and the record and versions objects the others refer to)
    prediction-v2.schema.json   one row of <split>_<method>_predictions.jsonl

``results`` owns the format version; the schemas are those of :data:`results.RESULTS_FORMAT_VERSION`. Anyone can
validate a file without codec-bench: the schemas are plain JSON Schema (draft 2020-12), found at
``importlib.resources.files("codec_bench.formats") / "schemas"``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

from ..core.errors import CodecBenchError

KINDS = ("results", "records", "prediction")
SCHEMA_VERSION = 2  # the format version these schemas describe (``results.RESULTS_FORMAT_VERSION``)


class SchemaError(CodecBenchError):
    """A result file that does not follow its shipped schema."""


def schema_path(kind: str):
    """The shipped schema file of ``kind`` (one of :data:`KINDS`), as an ``importlib.resources`` traversable."""
    return files(__package__) / "schemas" / f"{kind}-v{SCHEMA_VERSION}.schema.json"


@lru_cache(maxsize=None)
def schema(kind: str) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown schema {kind!r}; one of {', '.join(KINDS)}")
    return json.loads(schema_path(kind).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _validator(kind: str):
    from jsonschema import Draft202012Validator  # imported when a file is checked, not with the package
    from referencing import Registry, Resource

    registry = Registry().with_resources((schema(k)["$id"], Resource.from_contents(schema(k))) for k in KINDS)
    return Draft202012Validator(schema(kind), registry=registry)


def check(kind: str, content: Any, source: object) -> None:
    """Raise :class:`SchemaError` (one line: the file, where in it, what is wrong) unless ``content`` follows the
    ``kind`` schema."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(kind).iter_errors(content))
    if error is not None:  # numpy scalars (an int64 is no JSON integer to the validator): judge what JSON will hold
        error = best_match(_validator(kind).iter_errors(json.loads(json.dumps(content, default=_plain))))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        message = " ".join(error.message.split())
        message = message if len(message) <= 200 else message[:200] + "..."
        raise SchemaError(f"{source}: not a codec-bench {kind} file of format_version {SCHEMA_VERSION} at {where}: "
                          f"{message} (written by another codec-bench? rerun the stage that wrote it)")


def _plain(value: Any) -> Any:
    """What ``core.io`` writes for a value that JSON does not know: numpy scalars and arrays as lists, others as text."""
    return value.tolist() if hasattr(value, "tolist") else str(value)
