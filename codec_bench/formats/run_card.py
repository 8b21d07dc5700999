"""The run card ``<run>/run.json``: what ``predict`` needs to use a run on new audio.

    {"dataset", "task", "instruction", "classes",
     "codec": {"name", "options", "max_seconds", "key", "codebooks", "patch", "bpe", ["state": "codec.safetensors"]},
     "model", "recipe", "seed", "settings": {key: {"value", "source"}}}

``state`` is there only for a codec fitted on the training split (its state is saved beside the card); ``patch``
(frames per LLM position) only when it is not 1 and ``bpe`` (merged units, ``<run>/unit-merges.json``) only when not
0, so a card of a run without them reads and writes as before they existed. ``settings``: every setting of the run by
its one name, its value and where it came from (built-in default, model default, task default, study file, command
line); absent from cards written before it existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core import io
from .layout import CODEC_STATE


@dataclass
class CodecCard:
    """How the run encoded audio: the codec's registry name and options, the clip length limit, the cache key,
    how the LLM read several codebooks, for a fitted codec the file of its state (relative to the run), how many
    frames the LLM read as one position and how many merged units acoustic BPE asked for."""

    name: str
    options: dict = field(default_factory=dict)
    max_seconds: float | None = None
    key: str | None = None
    codebooks: str = "interleave"
    state: str | None = None
    patch: int = 1
    bpe: int = 0

    def to_json(self) -> dict:
        card = {"name": self.name, "options": self.options, "max_seconds": self.max_seconds, "key": self.key,
                "codebooks": self.codebooks} | ({"patch": self.patch} if self.patch != 1 else {})
        card |= {"bpe": self.bpe} if self.bpe else {}
        return card | ({"state": self.state} if self.state is not None else {})

    @classmethod
    def from_json(cls, card: dict) -> CodecCard:
        return cls(card["name"], card.get("options") or {}, card.get("max_seconds"), card.get("key"),
                   card.get("codebooks", "interleave"), card.get("state"),
                   int(card.get("patch", 1)), int(card.get("bpe", 0)))


@dataclass
class RunCard:
    """``run.json``: the dataset, task, instruction and classes a run was trained for, its codec, model, recipe
    and training seed, and every setting with its source."""

    dataset: str
    task: str
    instruction: str
    classes: list[str]
    codec: CodecCard
    model: str
    recipe: str
    seed: int = 0
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "task": self.task, "instruction": self.instruction, "classes": list(self.classes),
                "codec": self.codec.to_json(), "model": self.model, "recipe": self.recipe, "seed": self.seed} | (
                    {"settings": self.settings} if self.settings else {})

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, self.to_json())

    @classmethod
    def from_json(cls, card: dict) -> RunCard:
        return cls(card["dataset"], card["task"], card["instruction"], list(card["classes"]),
                   CodecCard.from_json(card["codec"]), card.get("model", ""), card.get("recipe", ""), card.get("seed", 0),
                   card.get("settings") or {})

    @classmethod
    def from_file(cls, path: str | Path) -> RunCard:
        return cls.from_json(io.read_json(path))

    def codec_state(self, run_dir: Path) -> Path:
        """The fitted codec's state file of the run in ``run_dir``."""
        return Path(run_dir) / (self.codec.state or CODEC_STATE)
