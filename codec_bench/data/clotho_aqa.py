"""Clotho-AQA: crowd-sourced audio question answering over Clotho sound clips.

- Source: Lipping, Sudarsanam, Drossos & Virtanen, "Clotho-AQA: A Crowdsourced Dataset for Audio Question
  Answering", EUSIPCO 2022; Zenodo record 6473207: ``audio_files.zip``, ``clotho_aqa_{train,val,test}.csv``,
  ``clotho_aqa_metadata.csv``, ``LICENSE.txt``.
- License: the Tampere University terms in ``LICENSE.txt`` [uncertain: not re-read here]; the audio comes
  from Clotho (Freesound clips, CC licenses).
- Layout: ``audio_files/*.wav`` (15-30 s clips) and the three split CSVs at ROOT. CSV columns
  ``file_name, QuestionText, answer, confidence``: one row per annotator answer, 3 annotators x 6
  questions per clip (35,838 rows over 1,991 clips). ``question`` is accepted for ``QuestionText``
  [uncertain: re-exported copies rename it]; ``confidence`` is optional.
- Samples: one clip per question asked of a clip, with its three annotators' answers (the paper: 6 questions
  per clip, 2 meant for "yes", 2 for "no", 2 for single words, each answered by 3 different annotators):
  ``extra = {"question": ..., "answers": [the 3 answers in file order], "confidences": [...]}``, answers
  lower-cased and stripped. ``labels`` = (majority answer,); with no majority (three different answers) the
  first annotator's answer. Rows are grouped by (file, question text); a text asked twice of one clip (6 rows)
  gives two samples of 3 answers each, in file order [assumed: the CSVs list each question's 3 rows in
  order]. Clip id = ``{file_name}#q{n}``, n = the sample's 1-based order for that file in its CSV; ``audio_of``
  gives back the audio file a question is asked of (the report resamples an audio file's questions together).
- Protocol ``official``: ``clotho_aqa_train.csv`` -> train, ``_val`` -> validation, ``_test`` -> test. Task
  ``aqa`` (yes/no and open single-word answers); the class list is every majority answer seen. A listed
  audio file missing from ``audio_files/`` is skipped and counted.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .common import check_protocol, keep_existing, read_table, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "clotho_aqa"
PROTOCOLS = ("official",)
QUESTION_MARK = "#q"  # a question's clip id: <audio file>#q<n>
ANNOTATORS = 3  # answers per question (Lipping et al. 2022)
INSTRUCTION = "Answer the question about the sound with one word."
SPLIT_FILES = {"train": "clotho_aqa_train.csv", "validation": "clotho_aqa_val.csv", "test": "clotho_aqa_test.csv"}
LAYOUT = """ROOT/                          (Zenodo 6473207, audio_files.zip unpacked)
  audio_files/
    Ambience Birds.wav  ...
  clotho_aqa_train.csv           file_name,QuestionText,answer,confidence (3 rows per question)
  clotho_aqa_val.csv
  clotho_aqa_test.csv
  clotho_aqa_metadata.csv        (not used)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read Clotho-AQA under ``root``: one clip per (audio file, question) with all annotators' answers."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    require(root, NAME, LAYOUT, "audio_files", *SPLIT_FILES.values())
    clips = [c for split, name in SPLIT_FILES.items() for c in _clips(root, root / name, split)]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, "the Clotho-AQA CSV files")
    return finalize(Manifest(NAME, "aqa", "sound", INSTRUCTION, [], clips, protocol, None, skipped))


def _clips(root: Path, csv_path: Path, split: str) -> list[Clip]:
    questions: dict[tuple[str, str], list[dict]] = {}
    for row in _rows(csv_path):
        questions.setdefault((row["file_name"], row["question"]), []).append(row)
    number: Counter[str] = Counter()
    clips = []
    for (file_name, question), rows in questions.items():
        for start in range(0, len(rows), ANNOTATORS):  # a question asked twice of one clip: two samples
            number[file_name] += 1
            clips.append(_clip(root, file_name, question, rows[start:start + ANNOTATORS], number[file_name], split))
    return clips


def _clip(root: Path, file_name: str, question: str, rows: list[dict], n: int, split: str) -> Clip:
    answers = [r["answer"].strip().lower() for r in rows]
    extra = {"question": question, "answers": answers, "confidences": [r.get("confidence") or "" for r in rows]}
    return Clip(id=f"{file_name}{QUESTION_MARK}{n}", path=str(root / "audio_files" / file_name), labels=(majority(answers),),
                split=split, extra=extra)


def _rows(csv_path: Path) -> list[dict]:
    """The CSV's rows with ``question`` set; rows without an answer are left out (no vote to count)."""
    with open(csv_path, encoding="utf-8-sig") as f:
        header = f.readline()
    question_column = "QuestionText" if "QuestionText" in header else "question"
    rows = read_table(csv_path, ["file_name", question_column, "answer"])
    for row in rows:
        row["question"] = row.pop(question_column)
    return [r for r in rows if r["file_name"] and r["question"] and r["answer"]]


def audio_of(question_id: str) -> str:
    """The audio file a question's clip id names: ``"street.wav#q3"`` -> ``"street.wav"`` (an id without a question
    number is its own audio)."""
    return question_id.rsplit(QUESTION_MARK, 1)[0]


def majority(answers: list[str]) -> str:
    """The most frequent answer; ties go to the answer given first."""
    counts = Counter(answers)
    return max(answers, key=lambda a: (counts[a], -answers.index(a)))


SPEC = DatasetSpec(
    name=NAME, domain="sound", task="aqa", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, num_classes=None,  # open answer vocabulary, counted at load time
    protocol_notes={"official": "official clotho_aqa_{train,val,test}.csv (Zenodo 6473207, Lipping et al. 2022), "
                                "3 annotators per question"},
)
