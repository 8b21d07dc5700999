"""SLURP: spoken language understanding resource package; intent classification over real recordings.

- Source: Bastianelli et al., "SLURP: A Spoken Language Understanding Resource Package", EMNLP 2020. Text:
  github.com/pswietojanski/slurp ``dataset/slurp/{train,devel,test}.jsonl``; audio: Zenodo 4274930
  ``slurp_real.tar.gz`` (flat ``slurp_real/*.flac``). ``slurp_synth`` and ``train_synthetic.jsonl`` are not
  used (as in ARCH).
- License: text CC BY 4.0, audio CC BY-NC 4.0.
- Layout: the three jsonl files under ``dataset/slurp/`` (as in the repository) or directly under ROOT, and
  ``slurp_real/`` under ROOT. One utterance a line: ``slurp_id, sentence, intent, action, scenario,
  recordings: [{file, wer, ent_wer, status}], ...``.
- Label: ``{scenario}_{action}`` (e.g. ``alarm_set``), made readable (``alarm set``), the intent exactly as
  SLURP's own scorer forms it (``scripts/evaluation/evaluate.py``, intent = ``"{}_{}".format(scenario,
  action)``, whose micro-F1 equals accuracy when every sample gets one prediction). The ``intent`` field
  is not read: in the released files it is sometimes a bare action (``query``, ``music``, ``set``,
  ``quirky``, ...), in 30 devel utterances (199 recordings) and 37 test utterances (273 recordings); reading it
  (as ARCH does) grows the class list from about 60 to 81 and drops ~460 evaluation clips as unseen labels.
- Samples: every recording of every utterance is one clip (close-talk ``*-headset.flac`` and far-field
  alike), as in ARCH; clip id = the recording's file name (one utterance per recording).
- Protocol ``official``: train / devel -> validation / test. The class list is the union of the intents of
  all three splits, fixed before any clip is dropped; validation/test clips whose intent never occurs in
  training are dropped and counted by ``finalize``. A listed recording missing from ``slurp_real/`` is
  skipped and counted. Speaker ids (in the repository's ``metadata.json``) are not read.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import check_protocol, keep_existing, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "slurp"
PROTOCOLS = ("official",)
INSTRUCTION = "What does the speaker want? Answer with the intent."
SPLIT_FILES = {"train": "train.jsonl", "validation": "devel.jsonl", "test": "test.jsonl"}
LAYOUT = """ROOT/
  dataset/slurp/                 (from github.com/pswietojanski/slurp; or the jsonl files directly in ROOT)
    train.jsonl  devel.jsonl  test.jsonl
  slurp_real/                    (slurp_real.tar.gz from Zenodo 4274930)
    audio-1434542201-headset.flac
    audio-1434542201.flac
    ..."""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read SLURP under ``root``: one clip per real recording, labelled ``{scenario}_{action}``."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    text_dir = root / "dataset" / "slurp" if (root / "dataset" / "slurp").is_dir() else root
    require(root, NAME, LAYOUT, "slurp_real")
    require(text_dir, NAME, LAYOUT, *SPLIT_FILES.values())
    clips = [c for split, name in SPLIT_FILES.items() for c in _clips(text_dir / name, root, split)]
    classes = sorted({c.labels[0] for c in clips})
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, "the SLURP jsonl files")
    return finalize(Manifest(NAME, "single_label", "speech", INSTRUCTION, classes, clips, protocol, None, skipped))


def _clips(jsonl: Path, root: Path, split: str) -> list[Clip]:
    clips = []
    with open(jsonl, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if line.strip():
                clips.extend(_utterance_clips(_parse(jsonl, line_number, line), root, split))
    return clips


def _parse(jsonl: Path, line_number: int, line: str) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise CodecBenchError(f"{jsonl}, line {line_number}: not JSON ({err.msg}); restore the original file") from err
    if not row.get("scenario") or not row.get("action") or not isinstance(row.get("recordings"), list):
        raise CodecBenchError(f"{jsonl}, line {line_number}: needs 'scenario', 'action' and 'recordings'; "
                              "restore the original file")
    return row


def _utterance_clips(row: dict, root: Path, split: str) -> list[Clip]:
    label = readable(f"{row['scenario']}_{row['action']}")
    return [
        Clip(id=rec["file"], path=str(root / "slurp_real" / rec["file"]), labels=(label,), split=split,
             extra={"slurp_id": row.get("slurp_id"), "headset": rec["file"].endswith("-headset.flac")})
        for rec in row["recordings"]
    ]


SPEC = DatasetSpec(
    name=NAME, domain="speech", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, num_classes=None,  # union of intents over the three splits, counted at load time
    protocol_notes={"official": "official train/devel/test jsonl (pswietojanski/slurp, Bastianelli et al. 2020); "
                                "label scenario_action as SLURP's scorer"},
)
