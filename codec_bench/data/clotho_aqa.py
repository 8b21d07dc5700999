"""Clotho-AQA: crowd-sourced audio question answering over Clotho sound clips.

- Source: Lipping, Sudarsanam, Drossos & Virtanen, "Clotho-AQA: A Crowdsourced Dataset for Audio Question
  Answering", EUSIPCO 2022; Zenodo record 6473207: ``audio_files.zip``, ``clotho_aqa_{train,val,test}.csv``,
  ``clotho_aqa_metadata.csv``, ``LICENSE.txt``.
- License: the Tampere University terms in ``LICENSE.txt`` [uncertain: not re-read here]; the audio comes
  from Clotho (Freesound clips, CC licenses).
- Layout: ``audio_files/*.wav`` (15-30 s clips) and the three split CSVs at ROOT. CSV columns
  ``file_name, QuestionText, answer, confidence``: one row per annotator answer, 3 annotators x 6
  questions per clip (35,838 rows over 1,991 clips). ``question`` is accepted for ``QuestionText``
  [uncertain: re-exported copies rename it]; ``confidence`` is optional. ``clotho_aqa_metadata.csv`` (optional):
  ``file_name, keywords`` with the clip's Freesound keywords separated by ``;`` as in Clotho's own metadata
  [uncertain: columns not re-read here]; read into ``extra["keywords"]`` for the keyword examples
  (:func:`keyword_clips`, ``--keywords``). A row with more fields than the header (keywords split by commas) is
  refused in one line naming the row (docs/input-errors.md). Without the file, :func:`tag_clips` derives tagging
  examples from the training questions themselves (``question_tags``).
- Samples: one clip per question asked of a clip, with its three annotators' answers (the paper: 6 questions
  per clip, 2 meant for "yes", 2 for "no", 2 for single words, each answered by 3 different annotators):
  ``extra = {"question": ..., "answers": [the 3 answers in file order], "confidences": [...]}``, answers
  lower-cased and stripped. ``labels`` = (majority answer,); with no majority (three different answers) the
  first annotator's answer. Rows are grouped by (file, question text); a text asked twice of one clip (6 rows)
  gives two samples of 3 answers each, in file order [assumed: the CSVs list each question's 3 rows in
  order]. Clip id = ``{file_name}#q{n}``, n = the sample's 1-based order for that file in its CSV; ``audio_of``
  gives back the audio file a question is asked of (the report resamples an audio file's questions together).
- Protocol ``official``: ``clotho_aqa_train.csv`` -> train, ``_val`` -> validation, ``_test`` -> test. Task
  ``aqa`` (yes/no and open single-word answers); the class list is every majority answer of the training split
  (``manifest.finalize``: a held-out answer outside it is never a candidate, scored wrong and counted). A listed
  audio file missing from ``audio_files/`` is skipped and counted; a CSV row with an empty answer is left out, with
  a warning that counts such rows and names the first few.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..core import ui
from ..core.errors import CodecBenchError
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
  clotho_aqa_metadata.csv        file_name,keywords (;-separated; optional, read by --keywords)"""
METADATA_FILE = "clotho_aqa_metadata.csv"
KEYWORD_QUESTION = "Which keywords describe the sound?"  # the question of a keyword example
KEYWORD_MARK = "#keywords"  # a keyword example's clip id: <audio file>#keywords<k>
TAG_QUESTION = "What can be heard?"  # the question of a question-tag example (tag_clips)
TAG_MARK = "#tags"  # a question-tag example's clip id: <audio file>#tags<k>
YES, NO = "yes", "no"
# words that phrase a question rather than name what is heard: function words, and the words of listening and containing
WORDING = frozenset("""
    a an the this that these those there here it its is are was were am be been being do does did can could will would
    should shall may might must has have had any some someone somebody anyone anybody something anything you your
    i we they he she me us them in on of at to from by with for about and or but not no yes which what who whom where
    when how also still just now hear heard hearing hears listen listening sound sounds sounding audio recording clip
    say says said saying spoken speak speaks speaking play plays played playing present audible background contain
    contains containing include includes including
""".split())


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read Clotho-AQA under ``root``: one clip per (audio file, question) with all annotators' answers."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    require(root, NAME, LAYOUT, "audio_files", *SPLIT_FILES.values())
    keywords = _keywords(root / METADATA_FILE)
    clips = [c for split, name in SPLIT_FILES.items() for c in _clips(root, root / name, split, keywords)]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, "the Clotho-AQA CSV files")
    return finalize(Manifest(NAME, "aqa", "sound", INSTRUCTION, [], clips, protocol, None, skipped))


def _keywords(path: Path) -> dict[str, list[str]]:
    """file name -> its keywords (lower-cased, stripped, in file order, each once); empty without the file. A row
    with more fields than the header (keywords separated by commas, not ``;``) is refused, naming the row."""
    if not path.is_file():
        return {}
    out = {}
    for number, row in enumerate(read_table(path, ["file_name", "keywords"]), 2):  # line 1 is the header
        extra = _extra_fields(row)
        if extra:
            raise CodecBenchError(
                f"{path}: row {number} ({row['file_name']}) has {len(row) - 1 + len(row[None])} fields, the header "
                f"{len(row) - 1}; separate a file's keywords with ';' as Clotho does ({row['file_name']},"
                f"{';'.join([row['keywords'], *extra])})")
        words = [w.strip().lower() for w in (row["keywords"] or "").split(";")]
        out[row["file_name"]] = list(dict.fromkeys(w for w in words if w))
    return out


def _clips(root: Path, csv_path: Path, split: str, keywords: dict[str, list[str]]) -> list[Clip]:
    questions: dict[tuple[str, str], list[dict]] = {}
    for row in _rows(csv_path):
        questions.setdefault((row["file_name"], row["question"]), []).append(row)
    number: Counter[str] = Counter()
    clips = []
    for (file_name, question), rows in questions.items():
        for start in range(0, len(rows), ANNOTATORS):  # a question asked twice of one clip: two samples
            number[file_name] += 1
            clip = _clip(root, file_name, question, rows[start:start + ANNOTATORS], number[file_name], split)
            clips.append(replace(clip, extra=clip.extra | {"keywords": keywords[file_name]}) if keywords.get(file_name)
                         else clip)
    return clips


def _clip(root: Path, file_name: str, question: str, rows: list[dict], n: int, split: str) -> Clip:
    answers = [r["answer"].strip().lower() for r in rows]
    extra = {"question": question, "answers": answers, "confidences": [r.get("confidence") or "" for r in rows]}
    return Clip(id=f"{file_name}{QUESTION_MARK}{n}", path=str(root / "audio_files" / file_name), labels=(majority(answers),),
                split=split, extra=extra)


def _rows(csv_path: Path) -> list[dict]:
    """The CSV's rows with ``question`` set; rows without a file name, question or answer are left out (no vote to
    count), with one warning that counts them and names the first few."""
    with open(csv_path, encoding="utf-8-sig") as f:
        header = f.readline()
    question_column = "QuestionText" if "QuestionText" in header else "question"
    rows = read_table(csv_path, ["file_name", question_column, "answer"])
    for number, row in enumerate(rows, 2):
        if _extra_fields(row):  # an unquoted comma in a question: its answer would be read from the wrong field
            raise CodecBenchError(f"{csv_path}: row {number} ({row['file_name']}) has {len(row) - 1 + len(row[None])} "
                                  f"fields, the header {len(row) - 1}; quote a question or answer that holds a comma")
        row["question"] = row.pop(question_column)
    empty = [(number, r) for number, r in enumerate(rows, 2) if not (r["file_name"] and r["question"] and r["answer"])]
    if empty:
        named = ", ".join(f"row {n} ({r['file_name'] or 'no file'}: {r['question'] or 'no question'!r})" for n, r in empty[:3])
        ui.warn(f"{csv_path}: {len(empty)} of {len(rows)} rows left out, each without a file name, question or answer "
                f"(no vote to count): {named}{', ...' if len(empty) > 3 else ''}")
    return [r for r in rows if r["file_name"] and r["question"] and r["answer"]]


def _extra_fields(row: dict) -> list[str]:
    """The non-empty fields of a CSV row beyond its header's (``csv.DictReader`` keeps them under None); empty ones
    (trailing commas) are harmless."""
    return [field for field in row.get(None) or [] if field.strip()]


def keyword_clips(train: Sequence[Clip], per_file: float) -> list[Clip]:
    """Keyword examples (a tagging objective shared with the questions, ``--keywords``): for each training audio file
    with keywords, ``round(per_file)`` clips (at least one for any ``per_file`` > 0) asking :data:`KEYWORD_QUESTION`,
    answered by the keywords (sorted, joined by ", " as a multi-label answer). Ids ``<file>#keywords<k>``."""
    copies = max(1, round(per_file)) if per_file > 0 else 0
    first = {}
    for clip in train:
        if clip.extra.get("keywords"):
            first.setdefault(audio_of(clip.id), clip)
    return [Clip(id=f"{name}{KEYWORD_MARK}{k}", path=clip.path, labels=tuple(clip.extra["keywords"]), split="train",
                 extra={"question": KEYWORD_QUESTION}) for name, clip in sorted(first.items()) for k in range(1, copies + 1)]


def question_tags(train: Sequence[Clip]) -> dict[str, list[str]]:
    """Audio file -> what its training questions say is heard (``question_tags``), from the training split only
    (clips of other splits are ignored): the subject of each question answered "yes" (its words outside
    :data:`WORDING`, in order: "Is there a flute playing?" -> "flute", "Are birds chirping?" -> "birds chirping"),
    and each open answer whose words all occur in its own question ("Which plays, the flute or the harp?" -> "flute").
    Each tag once, in the order first met; a question answered "no" tells what is absent and gives none."""
    tags: dict[str, list[str]] = {}
    for clip in (c for c in train if c.split == "train" and c.extra.get("question")):
        tag = _tag(clip.extra["question"], clip.labels[0])
        found = tags.setdefault(audio_of(clip.id), [])
        if tag and tag not in found:
            found.append(tag)
    return {name: found for name, found in tags.items() if found}


def _tag(question: str, answer: str) -> str | None:
    """What one answered question says is heard (:func:`question_tags`), or None."""
    words = _words(question)
    if answer == YES:
        return " ".join(w for w in words if w not in WORDING) or None
    said = _words(answer)
    return answer if answer != NO and said and set(said) <= set(words) - WORDING else None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def tag_clips(train: Sequence[Clip], per_file: float) -> list[Clip]:
    """Question-tag examples (``question_tags``, the tagging objective of :func:`keyword_clips` for a corpus without
    keywords): for each training audio file with :func:`question_tags`, ``round(per_file)`` clips (at least one for
    any ``per_file`` > 0) asking :data:`TAG_QUESTION`, answered by the tags (sorted, joined by ", " as a multi-label
    answer). Ids ``<file>#tags<k>``; trained, never evaluated."""
    copies = max(1, round(per_file)) if per_file > 0 else 0
    if not copies:
        return []
    path = {audio_of(c.id): c.path for c in train}
    return [Clip(id=f"{name}{TAG_MARK}{k}", path=path[name], labels=tuple(tags), split="train",
                 extra={"question": TAG_QUESTION})
            for name, tags in sorted(question_tags(train).items()) for k in range(1, copies + 1)]


def is_keyword_id(clip_id: str) -> bool:
    """Whether a clip id names a tagging example, trained and never evaluated (a keyword example,
    :func:`keyword_clips`, or a question-tag example, :func:`tag_clips`), not a question of the corpus."""
    return KEYWORD_MARK in clip_id or TAG_MARK in clip_id


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
