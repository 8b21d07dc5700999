"""Results built from audio that has changed since: set aside, so that the stages build them again.

The token cache stamps every clip with its file's size and modification time (``codecs.clip_audio.audio_stamp``)
and encodes a clip again when its file changed (a corrupt file mended, a file edited in place). What was built from
the old codes is then out of date: the trained models, evaluations, probe and zero-shot rows of that codec on that
dataset (every fold and recipe: they share the cache), and, for the log-mel features, the reference row. These are
moved into ``<folder>/stale-<time>/`` (kept for a reader to inspect, never read again) before the cache is rebuilt,
so a run interrupted in between still finds them out of date the next time::

    set_aside(out, "csv", "embedded-1a2b3c", changed)  # -> [OUT/csv/embedded-1a2b3c__tiny-llama__full/model, ...]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from ..core import io, ui
from ..data.manifest import Clip
from ..formats import OutFolder
from ..formats.layout import BASELINE, PROBES_PREFIX, ZERO_SHOT_PREFIX

# a run folder's parts that depend on the codes (prompts hold only ids; the base model is built before training)
BUILT_FROM_CODES = ("model", "checkpoints", "train_log.jsonl", "eval")


def set_aside(out: Path, dataset: str, cache_key: str | None, changed: Sequence[Clip]) -> list[Path]:
    """Move what was built from the old audio of ``changed`` clips out of the way and say so in one line.
    ``cache_key``: the codec whose runs and reference rows depend on the codes; None: the log-mel reference row."""
    if not changed:
        return []
    folder = f"stale-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"  # one per set-aside, whatever the clock does
    moved = [_move(part, folder) for part in _built_from(OutFolder(Path(out)), dataset, cache_key) if part.exists()]
    named = "; ".join(c.path for c in changed[:3])
    what = "the reference row" if cache_key is None else "trained models and results"
    ui.warn(f"{len(changed)} clips changed since they were encoded ({named}{' ...' if len(changed) > 3 else ''}): encoded "
            f"again; {what} built from the old audio ({len(moved)} folders) set aside and built again")
    return moved


def _built_from(out: OutFolder, dataset: str, cache_key: str | None) -> list[Path]:
    parts: list[Path] = []
    for info in out.manifest_infos():
        if io.read_json(info).get("dataset") != dataset:
            continue
        folder = info.parent.parent
        if cache_key is None:
            parts.append(folder / BASELINE)
            continue
        for run_dir in sorted(folder.glob(f"{cache_key}*__*")):
            parts += [run_dir / name for name in BUILT_FROM_CODES]
        for prefix in (PROBES_PREFIX, ZERO_SHOT_PREFIX):
            parts += sorted(folder.glob(f"{prefix}{cache_key}*"))
    return parts


def _move(part: Path, folder: str) -> Path:
    """``<parent>/<name>`` -> ``<parent>/<folder>/<name>`` (a reference folder: into its own parent's)."""
    target = part.parent / folder / part.name
    target.parent.mkdir(parents=True, exist_ok=True)
    part.rename(target)
    return target
