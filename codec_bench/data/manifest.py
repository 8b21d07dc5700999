"""Manifest records: what every dataset loader returns and every later stage reads.

A manifest is one dataset under one split protocol (and one fold, for k-fold protocols): the clips with their
readable labels and split, the candidate classes, the instruction sentence and the task type. On disk it is a
folder with ``clips.jsonl`` (one clip a line) and ``info.json`` (everything else, written last, so its presence
marks a finished manifest).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..core import io
from ..core.errors import CodecBenchError

MULTI_LABEL_SEPARATOR = ","  # joins a multi-label answer (``prompts.ITEM_SEPARATOR``): no multi-label label may hold it

SPLITS = ("train", "validation", "test")
TASKS = ("single_label", "multi_label", "aqa")
DOMAINS = ("sound", "music", "speech")


@dataclass(frozen=True, slots=True)  # slots: 100k clips in memory cost ~30 MB less
class Clip:
    """One audio clip. ``id`` is unique and stable within the dataset (the token cache is keyed by it).

    ``labels`` holds readable label text (one entry for single-label tasks); ``extra`` holds task-specific
    fields, for example ``{"question": ...}`` for audio question answering.
    """

    id: str
    path: str
    labels: tuple[str, ...]
    split: str
    speaker: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        row = asdict(self)
        row["labels"] = list(self.labels)
        return row

    @staticmethod
    def from_json(row: dict) -> "Clip":
        return Clip(
            id=row["id"], path=row["path"], labels=tuple(row["labels"]), split=row["split"],
            speaker=row.get("speaker"), extra=row.get("extra") or {},
        )


@dataclass
class Manifest:
    """A dataset under one protocol and fold: clips, candidate classes, instruction and task type."""

    dataset: str
    task: str
    domain: str
    instruction: str
    classes: list[str]
    clips: list[Clip]
    protocol: str = "official"
    fold: str | None = None
    skipped: list[dict] = field(default_factory=list)  # {"path": ..., "reason": ...}
    dropped_classes: list[str] = field(default_factory=list)  # labels with no training clip: never candidates
    # question answering: per held-out split, the questions whose answer no training question has (scored wrong)
    unseen_answers: dict[str, int] = field(default_factory=dict)

    def split(self, name: str) -> list[Clip]:
        return [c for c in self.clips if c.split == name]

    def counts(self) -> dict:
        """Per-split clip counts and per-split, per-class label counts."""
        per_split = {s: len(self.split(s)) for s in SPLITS}
        per_class = {s: dict(sorted(Counter(l for c in self.split(s) for l in c.labels).items())) for s in SPLITS}
        return {"clips": per_split, "classes": per_class, "skipped": len(self.skipped)}

    @property
    def name(self) -> str:
        """Folder name of this manifest: ``dataset`` or ``dataset-protocol-foldK``."""
        parts = [self.dataset] + ([self.protocol] if self.protocol != "official" else [])
        return "-".join(parts + ([f"fold{self.fold}"] if self.fold is not None else []))

    def info(self) -> dict:
        return {
            "dataset": self.dataset, "task": self.task, "domain": self.domain, "instruction": self.instruction,
            "classes": self.classes, "protocol": self.protocol, "fold": self.fold,
            "counts": self.counts(), "skipped": self.skipped, "dropped_classes": self.dropped_classes,
            "unseen_answers": self.unseen_answers,
        }


def finalize(manifest: Manifest) -> Manifest:
    """Check a loader's output and apply the shared rules, in place.

    - every split named is one of ``SPLITS``; clip ids are unique; the training split is not empty;
    - ``classes`` defaults to the sorted labels seen anywhere;
    - validation/test clips whose labels never occur in training are dropped and counted in ``skipped``
      (single-label), or lose those labels (multi-label), since no model can learn them; such labels are no
      candidates either (listed in ``dropped_classes``);
    - audio question answering keeps its questions, but its answer vocabulary (the candidates, and the words the tiny
      LM's tokenizer is built from) is the training split's answers only: a held-out question whose answer no
      training question has is scored wrong, and counted per split in ``unseen_answers``.
    """
    if manifest.task not in TASKS or manifest.domain not in DOMAINS:
        raise CodecBenchError(f"{manifest.dataset}: task {manifest.task!r} must be one of {', '.join(TASKS)} and domain "
                              f"{manifest.domain!r} one of {', '.join(DOMAINS)}")
    seen_ids: set[str] = set()
    for clip in manifest.clips:
        if clip.split not in SPLITS:
            raise CodecBenchError(f"{clip.path}: split {clip.split!r} is not one of {', '.join(SPLITS)}")
        if clip.id in seen_ids:
            raise CodecBenchError(f"{clip.path}: clip id {clip.id!r} appears twice; ids must be unique")
        seen_ids.add(clip.id)
    if manifest.task == "multi_label":
        _check_separator(manifest)
    train_labels = {l for c in manifest.split("train") for l in c.labels}
    if not train_labels:
        raise CodecBenchError(f"{manifest.dataset}: the training split is empty; check the root folder and protocol")
    if not manifest.classes:
        manifest.classes = sorted({l for c in manifest.clips for l in c.labels})
    manifest.clips = [c for c in (_drop_unseen(c, train_labels, manifest) for c in manifest.clips) if c is not None]
    manifest.dropped_classes = [c for c in manifest.classes if c not in train_labels]
    manifest.classes = [c for c in manifest.classes if c in train_labels]
    if manifest.task == "aqa":
        manifest.unseen_answers = {s: sum(c.labels[0] not in train_labels for c in manifest.split(s))
                                   for s in ("validation", "test")}
    return manifest


def _check_separator(manifest: Manifest) -> None:
    """A multi-label answer joins labels with ``MULTI_LABEL_SEPARATOR``, so a label holding it could never be told
    apart from two labels: refused in one line naming a clip that carries it."""
    for clip in manifest.clips:
        for label in clip.labels:
            if MULTI_LABEL_SEPARATOR in label:
                raise CodecBenchError(f"{clip.path}: label {label!r} holds {MULTI_LABEL_SEPARATOR!r}, which separates the "
                                      f"labels of a multi-label answer; rename it (e.g. {label.replace(',', '')!r})")


def coverage_warnings(manifest: Manifest) -> list[str]:
    """One line per problem a reader of the results should know: labels that cannot be learned, classes never
    validated or tested."""
    warnings = []
    if manifest.dropped_classes:
        warnings.append(f"{len(manifest.dropped_classes)} labels have no training clip and are not candidates: "
                        f"{_some(manifest.dropped_classes)}")
    if manifest.task == "aqa":
        unseen = [f"{n} of {len(manifest.split(s))} {s}" for s, n in manifest.unseen_answers.items() if n]
        if unseen:
            warnings.append(f"{' and '.join(unseen)} questions have an answer no training question has: never a candidate, "
                            "scored wrong")
        return warnings
    for split in ("validation", "test"):
        seen = {l for c in manifest.split(split) for l in c.labels}
        missing = [c for c in manifest.classes if c not in seen]
        if missing and manifest.split(split):
            warnings.append(
                f"{len(missing)} classes have no {split} clip "
                f"(trained on, never {'validated' if split == 'validation' else 'tested'}): "
                f"{_some(missing)}"
            )
    return warnings


def _some(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _drop_unseen(clip: Clip, train_labels: set[str], manifest: Manifest) -> Clip | None:
    if manifest.task == "aqa" or clip.split == "train":
        return clip
    unseen = [l for l in clip.labels if l not in train_labels]
    if not unseen:
        return clip
    reason = f"label {unseen[0]!r} absent from the training split"
    if manifest.task == "single_label" or len(unseen) == len(clip.labels):
        manifest.skipped.append({"path": clip.path, "reason": reason})
        return None
    manifest.skipped.append({"path": clip.path, "reason": reason + " (label dropped, clip kept)"})
    return Clip(clip.id, clip.path, tuple(l for l in clip.labels if l in train_labels), clip.split, clip.speaker, clip.extra)


def save(manifest: Manifest, folder: str | Path) -> Path:
    """Write ``clips.jsonl`` then ``info.json`` into ``folder``; returns the folder."""
    folder = Path(folder)
    io.write_jsonl(folder / "clips.jsonl", (c.to_json() for c in manifest.clips))
    io.write_json(folder / "info.json", manifest.info())
    return folder


def load(folder: str | Path) -> Manifest:
    """Read a manifest folder written by :func:`save`."""
    folder = Path(folder)
    if not (folder / "info.json").is_file():
        raise CodecBenchError(f"{folder}: no finished manifest here (info.json missing); run `codec-bench prepare` first")
    info = io.read_json(folder / "info.json")
    clips = [Clip.from_json(r) for r in io.read_jsonl(folder / "clips.jsonl")]
    return Manifest(
        dataset=info["dataset"], task=info["task"], domain=info["domain"], instruction=info["instruction"],
        classes=info["classes"], clips=clips, protocol=info["protocol"], fold=info["fold"], skipped=info["skipped"],
        dropped_classes=info.get("dropped_classes", []), unseen_answers=info.get("unseen_answers", {}),
    )


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: how to read it and what it is.

    ``load(root, protocol, fold)`` walks the official layout under ``root`` and returns a finalized Manifest
    for that protocol and fold. ``folds[protocol]`` lists the fold names of a k-fold protocol; a protocol absent
    from ``folds`` has a single fixed split (fold ``None``). ``layout`` is the expected root tree, shown in
    ``codec-bench datasets`` and in errors about a wrong layout. ``protocol_notes[protocol]`` is one line saying
    what that protocol is and where it comes from (the paper or official file), for ``codec-bench datasets``.
    """

    name: str
    domain: str
    task: str
    instruction: str
    protocols: tuple[str, ...]
    layout: str
    load: Callable[..., Manifest]
    folds: dict[str, list[str]] = field(default_factory=dict)
    num_classes: int | None = None
    needs_root: bool = True
    protocol_notes: dict[str, str] = field(default_factory=dict)

    def fold_names(self, protocol: str) -> list[str | None]:
        if protocol not in self.protocols:
            raise CodecBenchError(
                f"{self.name}: unknown protocol {protocol!r}; choose one of {', '.join(self.protocols)}"
            )
        return list(self.folds.get(protocol, [None]))
