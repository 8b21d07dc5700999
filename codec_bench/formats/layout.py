"""The names of the files and folders an output folder holds, in one place: writers and readers ask these objects
for a path and never spell a file name themselves.

    OUT/<name>/manifest/{clips.jsonl,info.json}                      (:attr:`OutFolder.manifest`)
    OUT/<name>/<run>/                                                (:class:`RunFolder`)
        run.json, codec.safetensors                                  (the run card and a fitted codec's state)
        README.md                                                    (the model card, ``formats.model_card``)
        prompts/{train,validation,test}.jsonl,done.json
        base_model/ (the embedded tiny LM), checkpoints/, tensorboard/, train_log.jsonl
        model/ (+ train_done.json)
        eval/                                                        (:class:`RecordsFolder`)
    OUT/<name>/baseline/, probes__<codec>__<model>/, zero_shot__<codec>__<model>/   (:class:`RecordsFolder`)
    OUT/<name>/blind__<run>/                                         (a question-answering run's blind LLM: a
                                                                     :class:`RunFolder` without prompts)
    OUT/<name>/fidelity__<codec>/                                    (decoded-audio fidelity, ``formats.fidelity``)
    OUT/results/<cell>.json                                          (a study's per-cell result files)
    OUT/grids.json                                                   (recipe grids chosen on validation, ``grids``)

A :class:`RecordsFolder` holds ``records.json``, ``done.json`` (its done-marker), one
``<split>_<method>_predictions.jsonl`` per split and method and, for multi-label label scoring,
``multi_label_scoring.json``, ``thresholds.json``, ``calibration.json`` and ``<method>_decision.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DONE = "done.json"  # the done-marker of a folder (``core.finished``)
RUN_CARD = "run.json"
MODEL_CARD = "README.md"  # a trained run's Hugging Face model card (``formats.model_card``)
CODEC_STATE = "codec.safetensors"
UNIT_MERGES = "unit-merges.json"  # a run's acoustic-BPE merges (``formats.unit_merges``)
TRAIN_DONE = "train_done.json"
RECORDS = "records.json"
THRESHOLDS = "thresholds.json"
CALIBRATION = "calibration.json"
SCORING_CHOICE = "multi_label_scoring.json"
RESULTS = "results.json"  # a report's results file (``formats.results``)
GRIDS = "grids.json"  # a folder's recipe grids (``formats.grids``)
BASELINE = "baseline"
PROBES_PREFIX = "probes__"
ZERO_SHOT_PREFIX = "zero_shot__"
BLIND_PREFIX = "blind__"
PREDICTIONS_SUFFIX = "_predictions.jsonl"


def predictions_name(split: str, method: str) -> str:
    """``<split>_<method>_predictions.jsonl``: one row per clip (id, labels, prediction, probabilities)."""
    return f"{split}_{method}{PREDICTIONS_SUFFIX}"


@dataclass(frozen=True)
class RecordsFolder:
    """A folder of result records: a run's ``eval/``, the baseline's, the probe and zero-shot rows'."""

    path: Path

    @property
    def records(self) -> Path:
        return self.path / RECORDS

    @property
    def done(self) -> Path:
        return self.path / DONE

    @property
    def thresholds(self) -> Path:
        return self.path / THRESHOLDS

    @property
    def calibration(self) -> Path:
        return self.path / CALIBRATION

    @property
    def scoring_choice(self) -> Path:
        return self.path / SCORING_CHOICE

    def decision(self, method: str) -> Path:
        """``<method>_decision.json``: the decision rule a method's multi-label label sets follow."""
        return self.path / f"{method}_decision.json"

    def predictions(self, split: str, method: str) -> Path:
        return self.path / predictions_name(split, method)


@dataclass(frozen=True)
class RunFolder:
    """``OUT/<name>/<codec key>__<model>__<recipe>``: one trained recipe and its evaluation."""

    path: Path

    @property
    def run_card(self) -> Path:
        return self.path / RUN_CARD

    @property
    def model_card(self) -> Path:
        return self.path / MODEL_CARD

    @property
    def codec_state(self) -> Path:
        return self.path / CODEC_STATE

    @property
    def prompts(self) -> Path:
        return self.path / "prompts"

    @property
    def unit_merges(self) -> Path:
        return self.path / UNIT_MERGES

    def prompt_file(self, split: str) -> Path:
        return self.prompts / f"{split}.jsonl"

    @property
    def base_model(self) -> Path:
        return self.path / "base_model"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def train_done(self) -> Path:
        return self.model / TRAIN_DONE

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def train_log(self) -> Path:
        return self.path / "train_log.jsonl"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def eval(self) -> RecordsFolder:
        return RecordsFolder(self.path / "eval")


@dataclass(frozen=True)
class OutFolder:
    """An output folder (``--out`` of a run, a demo or a study)."""

    path: Path

    # every folder of finished records under OUT, as globs (a dataset's name, then its run or reference folder)
    RECORD_GLOBS = (f"*/*/eval/{RECORDS}", f"*/{BASELINE}/{RECORDS}", f"*/{PROBES_PREFIX}*/{RECORDS}",
                    f"*/{ZERO_SHOT_PREFIX}*/{RECORDS}")

    def manifest(self, name: str) -> Path:
        return self.path / name / "manifest"

    def records_folders(self) -> list[RecordsFolder]:
        """Every folder under OUT that holds ``records.json`` beside a done-marker, in glob order."""
        return [RecordsFolder(p.parent) for pattern in self.RECORD_GLOBS for p in sorted(self.path.glob(pattern))
                if (p.parent / DONE).is_file()]

    def manifest_infos(self) -> list[Path]:
        return sorted(self.path.glob("*/manifest/info.json"))

    @property
    def results(self) -> Path:
        """A study's per-cell result files."""
        return self.path / "results"

    @property
    def grids(self) -> Path:
        """The recipe grids its report selects within (``formats.grids``)."""
        return self.path / GRIDS

    def baseline(self, name: str) -> RecordsFolder:
        return RecordsFolder(self.path / name / BASELINE)


def reference_folder(run_dir: Path, kind: str, shared: str) -> RecordsFolder:
    """``probes__<shared>`` or ``zero_shot__<shared>`` beside a run folder (``kind``: "probes" or "zero_shot")."""
    prefix = {"probes": PROBES_PREFIX, "zero_shot": ZERO_SHOT_PREFIX}[kind]
    return RecordsFolder(Path(run_dir).parent / f"{prefix}{shared}")


def blind_folder(run_dir: Path) -> RunFolder:
    """``blind__<run folder>`` beside a run folder: the same LLM and recipe trained with the audio slot empty."""
    return RunFolder(Path(run_dir).parent / f"{BLIND_PREFIX}{Path(run_dir).name}")
