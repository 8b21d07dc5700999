"""Checkpoint discovery for ``resume``: the Trainer checkpoints a run can start from again, oldest first.

A checkpoint killed while it was saved is moved aside, so it is neither resumed from nor counted by rotation::

    checkpoints/checkpoint-10/  trainer_state.json, model.safetensors       -> complete
    checkpoints/checkpoint-20/  model.safetensors (killed while it was saved) -> incomplete/checkpoint-20-<time>

    complete_checkpoints(Path("checkpoints")) == [Path("checkpoints/checkpoint-10")]
    checkpoint_step(Path("checkpoints/checkpoint-10")) == 10
"""

from __future__ import annotations

import time
from pathlib import Path

from ..core import io, ui
from ..core.parallel import is_main_process

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")


def complete_checkpoints(folder: Path) -> list[Path]:
    """The Trainer checkpoints a resume can start from, oldest first. One killed while being saved (no readable
    ``trainer_state.json``, which the Trainer writes last, or no weights) is skipped, and rank 0 moves it aside to
    ``folder/incomplete/`` with a message, so it is neither resumed from nor counted by checkpoint rotation."""
    complete = []
    for checkpoint in sorted(Path(folder).glob("checkpoint-*"), key=checkpoint_step):
        if _is_complete(checkpoint):
            complete.append(checkpoint)
        elif is_main_process():
            aside = Path(folder) / "incomplete" / f"{checkpoint.name}-{int(time.time())}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.rename(aside)
            ui.warn(f"{checkpoint}: incomplete (killed while it was saved); moved to {aside}; resuming from the newest "
                    "complete checkpoint")
    return complete


def _is_complete(checkpoint: Path) -> bool:
    try:
        state = io.read_json(checkpoint / "trainer_state.json")
    except (OSError, ValueError):
        return False
    sharded = any(checkpoint.glob("pytorch_model_fsdp_*")) or any(checkpoint.glob("global_step*"))  # FSDP / DeepSpeed
    has_weights = sharded or any((checkpoint / f).is_file() for f in WEIGHT_FILES)
    return isinstance(state, dict) and "global_step" in state and has_weights


def checkpoint_step(checkpoint: Path) -> int:
    """The global step of a ``checkpoint-<step>`` folder."""
    try:
        return int(checkpoint.name.split("-")[-1])
    except ValueError:
        return -1
