"""The model card ``<run>/README.md``: a trained run's results as Hugging Face ``model-index`` metadata (YAML front
matter that the Hub and ``huggingface_hub.ModelCard`` read) above a short Markdown body; written with no network.

    ---
    library_name: transformers
    tags: [codec-bench, audio, <codec>, <task>]
    datasets: [<dataset>]
    model-index:
    - name: <run folder>
      results:
      - task: {type: audio-classification, name: ...}
        dataset: {type: <dataset>, name: ..., config: <protocol>, split: test, args: {fold: "1"}}
        metrics: [{type: accuracy, value: 0.83, name: "accuracy (llm_scoring)", config: llm_scoring}, ...]
    ---

One result per evaluated split and method (label scoring, generation), with every metric its record holds
(undefined ones, NaN, left out). Single- and multi-label tasks are ``audio-classification``, question answering
``audio-text-to-text`` (the Hub's task ids).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..core import io
from .results import Record
from .run_card import RunCard

TASK_TYPES = {"single_label": "audio-classification", "multi_label": "audio-classification", "aqa": "audio-text-to-text"}
TASK_NAMES = {"single_label": "Audio classification", "multi_label": "Audio tagging (multi-label)",
              "aqa": "Audio question answering"}


@dataclass
class ModelCard:
    """A run's card: its name (the run folder), its run card, the records of its evaluation, and the versions and
    git revision that produced them."""

    name: str
    run: RunCard
    records: list[Record]
    versions: dict = field(default_factory=dict)
    git_revision: str | None = None

    def metadata(self) -> dict:
        """The YAML front matter: tags, datasets, the base model when it is a hub id, and ``model-index``."""
        results = [self._result(r) for r in self.records]
        tags = ["codec-bench", "audio", self.run.codec.name, self.run.task.replace("_", "-")]
        data = {"library_name": "transformers", "tags": list(dict.fromkeys(tags)), "datasets": [self.run.dataset]}
        if "/" in self.run.model and not Path(self.run.model).exists():  # a hub id, not a folder or the embedded LM
            data["base_model"] = self.run.model
        return data | {"model-index": [{"name": self.name, "results": [r for r in results if r["metrics"]]}]}

    def _result(self, record: Record) -> dict:
        dataset = {"type": record.dataset, "name": f"{record.dataset} ({record.protocol}"
                   + (f", fold {record.fold})" if record.fold is not None else ")"),
                   "config": record.protocol, "split": record.split}
        metrics = [{"type": name, "value": float(value), "name": f"{name} ({record.method})", "config": record.method}
                   for name, value in record.metrics.items() if value is not None and not math.isnan(value)]
        return {"task": {"type": TASK_TYPES[record.task], "name": TASK_NAMES[record.task]},
                "dataset": dataset | ({"args": {"fold": record.fold}} if record.fold is not None else {}),
                "metrics": metrics}

    def body(self) -> str:
        codec = self.run.codec
        rows = [f"| {r.split} | {r.method} | {name} | {value:.4f} |" for r in self.records
                for name, value in r.metrics.items() if value is not None and not math.isnan(value)]
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items() if v)
        return "\n".join([
            f"# {self.name}", "",
            f"A codec-bench run: the LLM `{self.run.model}` fine-tuned (recipe `{self.run.recipe}`, seed {self.run.seed}) "
            f"to answer \"{self.run.instruction}\" on **{self.run.dataset}** ({self.run.task.replace('_', '-')}, "
            f"{len(self.run.classes)} classes) from the tokens of the codec `{codec.name}` "
            f"(options {codec.options or '{}'}, cache key `{codec.key}`, codebooks {codec.codebooks}).", "",
            "| split | method | metric | value |", "|---|---|---|---|", *rows, "",
            "The records with the settings that made them: `eval/records.json`; one row per clip: "
            "`eval/*_predictions.jsonl`; intervals and paired tests: the report's `results.json` (`codec-bench report`). "
            "On new audio: `codec-bench predict <this folder> AUDIO...`.", "",
            f"Produced with {versions or 'unknown versions'}" + (f", git {self.git_revision}." if self.git_revision else "."),
            ""])

    def to_text(self) -> str:
        front = yaml.safe_dump(self.metadata(), sort_keys=False, allow_unicode=True, default_flow_style=False)
        return f"---\n{front}---\n\n{self.body()}"

    def to_file(self, path: str | Path) -> None:
        io.write_text(path, self.to_text())
