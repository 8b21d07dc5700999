"""Real-audio audio-question-answering sets in the Clotho-AQA layout, for choosing the AQA default (issue 22, point 3).

    python bench/real_audio_aqa.py OUT [--seed 22]          # build the five sets under OUT/<set>/ (a few minutes)
    python bench/real_audio_aqa.py OUT --tiny               # a few clips per set, in seconds: checks that it runs
    python bench/real_audio_aqa.py OUT --run RUNS [--tag logmel] [--args "--codec logmel"] [--sets voice-words,...] [--test]
    python bench/real_audio_aqa.py OUT --table RUNS --tag a --tag b [--split validation]   # docs/performance.md
    python bench/real_audio_aqa.py OUT --run RUNS --recipe NAME=ARGS ... --seeds 0,1,2     # candidates x seeds x sets
    python bench/real_audio_aqa.py OUT --choose RUNS --recipe NAME ... [--seeds 0,1,2]    # per seed, and the choice

Why: an AQA model can look good while answering from the question alone. These sets have exact answers that only
the audio holds, and every run gets the blind rows (``baseline_blind_llm``: the same LLM and recipe with the audio
slot empty; ``baseline_majority_by_form``), so the table says whether the default answers from the audio. Built
only from what a Debian machine installs (``apt-get install -y fluidsynth fluid-soundfont-gm timgm6mb-soundfont
espeak-ng sox``), deterministic given ``--seed``. Choose on the validation splits; the test splits are for the
report only: ``--run`` evaluates and reports validation only (``codec-bench run --splits validation``) unless
``--test`` is given, which, once the choice is made, evaluates the test split with the models already trained.

Each set is a folder in the official Clotho-AQA layout (``audio_files/*.wav``, ``clotho_aqa_{train,val,test}.csv``
with ``file_name, QuestionText, answer, confidence``, three annotator rows per question, all three giving the exact
answer), read by ``codec-bench run clotho_aqa --root OUT/<set>``, 16 kHz mono. The first three sets share one
shape: 3-s clips, six questions per clip as in Clotho-AQA: two presence questions whose answer is "yes", two whose
answer is "no" (same wording, so the question alone cannot tell), "how many" (``two`` or ``three``) and "which of two
named items" (one plays, one does not, in random order); 600 / 150 / 150 clips.

- ``instrument-mix``: 2 or 3 of the 8 FluidR3 GM instruments of ``bench/rendered_instruments.py`` (Frank Wen, MIT),
  each its own random phrase, mixed at -6..0 dB; the test split's from the TimGM6mb soundfont (another sample
  library, ``rendered_instruments.SOUNDFONTS``).
- ``voice-words``: 2 or 3 different words of :data:`WORDS` (words and digits) one after the other, each by a
  speaker of the split (espeak-ng English accents x voice variants with their own speed and pitch, as in
  ``bench/real_audio_suite.py``); speakers are disjoint across splits.
- ``sound-and-voice``: 1 or 2 instruments under 1 or 2 spoken words, 2 or 3 items in all; presence questions ask
  of an instrument ("Is there a flute playing?") or a word ("Does someone say apple?").

The last two do not share that shape (:func:`varied_questions`): 4-s clips of 1 to 4 items, 3 to 8 questions per
clip (drawn per clip), each question's kind and wording drawn from several (:data:`PRESENCE`, :data:`HOW_MANY`,
:data:`WHICH`, :data:`ORDER`), presence answers "yes" or "no" at random (so a clip's yes/no balance varies), and a
test split from a source training never heard; 500 / 120 / 150 clips.

- ``instruments-other-font``: 1 to 4 of the 8 instruments; training and validation rendered with FluidR3 GM, test
  with TimGM6mb (Tim Brechbill, GPL-2; ``apt-get install -y timgm6mb-soundfont``): the same instruments from other
  samples.
- ``words-other-voices``: 1 to 4 words of :data:`OTHER_WORDS` one after the other; training and validation speakers
  from four English accents and two thirds of the voice variants, test speakers from the other three accents and
  variants (:func:`heldout_speakers`); adds "which word comes first / last" questions.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_audio_suite as suite  # sibling scripts, not a package
import rendered_instruments as ri

SIX_QUESTION_SETS = ("instrument-mix", "voice-words", "sound-and-voice")
VARIED_SETS = ("instruments-other-font", "words-other-voices")
SETS = SIX_QUESTION_SETS + VARIED_SETS
SPLITS = ri.SPLITS
CSV_NAMES = {"train": "clotho_aqa_train.csv", "validation": "clotho_aqa_val.csv", "test": "clotho_aqa_test.csv"}
RATE = ri.SAMPLE_RATE
SECONDS = 3.0
VARIED_SECONDS = 4.0
VERSION = 3  # 2: clotho_aqa_metadata.csv with each clip's items as its keywords; 3: the two varied sets, test
#              instruments from TimGM6mb
WORDS = ("apple", "river", "yellow", "window", "zero", "four", "seven", "nine")  # no count word: "two" answers a count
OTHER_WORDS = ("garden", "pencil", "orange", "silver", "thunder", "basket", "monkey", "candle")  # no count, no order word
INSTRUMENTS = tuple(i.label for i in ri.INSTRUMENTS)
COUNTS = {1: "one", 2: "two", 3: "three", 4: "four"}
ANNOTATORS = 3
FULL = {"clips": (600, 150, 150), "speakers": (20, 6, 6), "varied_clips": (500, 120, 150)}
TINY = {"clips": (6, 3, 3), "speakers": (2, 1, 1), "varied_clips": (6, 3, 3)}
OTHER_FONT = ri.TEST_SOUNDFONT  # the test split of every instrument set
OTHER_FONT_APT = "apt-get install -y timgm6mb-soundfont"
QUESTIONS_PER_CLIP = (3, 8)  # varied sets: drawn per clip, both ends included
# varied sets: the wordings of each kind of question, one drawn per question
PRESENCE = {"instrument": ("Is there a {} playing?", "Can you hear a {}?", "Is a {} present?", "Does the clip contain a {}?"),
            "word": ("Does someone say {}?", "Is the word {} spoken?", "Can you hear someone saying {}?", "Did anyone say {}?")}
HOW_MANY = {"instruments-other-font": ("How many instruments are playing?", "How many different instruments can you hear?",
                                       "How many different sounds are there?"),
            "words-other-voices": ("How many words are spoken?", "How many different words do you hear?")}
WHICH = {"instrument": ("Which instrument plays, the {} or the {}?", "Do you hear the {} or the {}?"),
         "word": ("Which word is spoken, {} or {}?", "Did someone say {} or {}?")}
ORDER = {"first": ("What is the first word?", "Which word comes first?"), "last": ("What is the last word?",
                                                                                 "Which word is said last?")}


@dataclass(frozen=True)
class Item:
    name: str
    kind: str  # "instrument" | "word"


@dataclass
class Plan:
    split: str
    index: int
    items: list[Item]

    @property
    def file_name(self) -> str:
        return f"{self.split}_{self.index:05d}.wav"


# ---------------------------------------------------------------- questions


def presence(item: Item) -> str:
    return f"Is there a {item.name} playing?" if item.kind == "instrument" else f"Does someone say {item.name}?"


def count_question(set_name: str) -> str:
    return {"instrument-mix": "How many instruments are playing?", "voice-words": "How many words are spoken?",
            "sound-and-voice": "How many sounds are there?"}[set_name]


def which_question(a: Item, b: Item) -> str:
    return (f"Which instrument plays, the {a.name} or the {b.name}?" if a.kind == "instrument"
            else f"Which word is spoken, {a.name} or {b.name}?")


def questions(plan: Plan, set_name: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    """The clip's six (question, answer) pairs: 2 yes, 2 no, how many, which of two named items of one kind."""
    present = plan.items
    vocabulary = [Item(n, "instrument") for n in INSTRUMENTS] * (set_name != "voice-words")
    vocabulary += [Item(n, "word") for n in WORDS] * (set_name != "instrument-mix")
    absent = [i for i in vocabulary if i not in present]
    yes = [present[k] for k in rng.choice(len(present), 2, replace=False)]
    no = [absent[k] for k in rng.choice(len(absent), 2, replace=False)]
    playing = present[int(rng.integers(len(present)))]
    other = [i for i in absent if i.kind == playing.kind]
    silent = other[int(rng.integers(len(other)))]
    pair = (playing, silent) if rng.random() < 0.5 else (silent, playing)
    return ([(presence(i), "yes") for i in yes] + [(presence(i), "no") for i in no]
            + [(count_question(set_name), COUNTS[len(present)]), (which_question(*pair), playing.name)])


def varied_questions(plan: Plan, set_name: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    """A varied set's clip: 3 to 8 different (question, answer) pairs, each of a kind drawn at random (presence with
    its answer "yes" or "no" drawn first, how many, which of two named items, and for words which comes first or
    last), each in one of its wordings."""
    present, kind = plan.items, plan.items[0].kind
    absent = [Item(n, kind) for n in (INSTRUMENTS if kind == "instrument" else OTHER_WORDS) if Item(n, kind) not in present]
    kinds = ("presence", "presence", "presence", "how many", "which") + ("order",) * (kind == "word")
    wanted = int(rng.integers(QUESTIONS_PER_CLIP[0], QUESTIONS_PER_CLIP[1] + 1))
    asked: dict[str, str] = {}
    for _ in range(100 * wanted):  # redraw a question already asked of the clip
        if len(asked) == wanted:
            break
        question, answer = _varied_question(str(rng.choice(kinds)), set_name, present, absent, rng)
        asked.setdefault(question, answer)
    return list(asked.items())


def _varied_question(kind: str, set_name: str, present: list[Item], absent: list[Item],
                     rng: np.random.Generator) -> tuple[str, str]:
    def pick(options):
        return options[int(rng.integers(len(options)))]

    if kind == "presence":
        yes = bool(rng.random() < 0.5)
        return pick(PRESENCE[present[0].kind]).format(pick(present if yes else absent).name), "yes" if yes else "no"
    if kind == "how many":
        return pick(HOW_MANY[set_name]), COUNTS[len(present)]
    if kind == "which":
        playing, silent = pick(present), pick(absent)
        pair = (playing, silent) if rng.random() < 0.5 else (silent, playing)
        return pick(WHICH[playing.kind]).format(pair[0].name, pair[1].name), playing.name
    end = pick(("first", "last"))
    return pick(ORDER[end]), present[0 if end == "first" else -1].name


# ---------------------------------------------------------------- planning


def draw_items(set_name: str, rng: np.random.Generator) -> list[Item]:
    """The clip's items: 2 or 3 for the six-question sets, 1 to 4 for the varied ones (words in the order spoken)."""
    if set_name in VARIED_SETS:
        names, kind = (INSTRUMENTS, "instrument") if set_name == "instruments-other-font" else (OTHER_WORDS, "word")
        return [Item(names[k], kind) for k in rng.choice(len(names), int(rng.integers(1, 5)), replace=False)]
    total = int(rng.integers(2, 4))
    if set_name == "instrument-mix":
        n_inst = total
    elif set_name == "voice-words":
        n_inst = 0
    else:
        n_inst = int(rng.integers(1, total))  # 1..total-1: at least one of each kind
    inst = rng.choice(len(INSTRUMENTS), n_inst, replace=False)
    words = rng.choice(len(WORDS), total - n_inst, replace=False)
    return [Item(INSTRUMENTS[k], "instrument") for k in inst] + [Item(WORDS[k], "word") for k in words]


def plan_set(set_name: str, seed: int, clips: tuple[int, int, int]) -> tuple[list[Plan], list[np.random.Generator]]:
    rngs = np.random.default_rng([seed, SETS.index(set_name)]).spawn(len(SPLITS))
    plans = [Plan(split, k + 1, draw_items(set_name, rng)) for split, rng, n in zip(SPLITS, rngs, clips) for k in range(n)]
    return plans, rngs


# ---------------------------------------------------------------- audio


def instrument_audio(plans: list[Plan], rngs: dict[str, np.random.Generator], fluidsynth: str,
                     seconds: float = SECONDS) -> list[np.ndarray]:
    """Each clip's instruments mixed (``rendered_instruments.render_mixes``: one FluidSynth call per instrument and
    soundfont; the test split from another soundfont, ``rendered_instruments.SOUNDFONTS``), at -20 dBFS RMS; silence
    for a clip without instruments."""
    silent = np.zeros(round(seconds * RATE), np.float32)
    clips, where = [], []
    for k, plan in enumerate(plans):
        chosen = [INSTRUMENTS.index(i.name) for i in plan.items if i.kind == "instrument"]
        if chosen:
            rng = rngs[plan.split]
            gains = [round(float(rng.uniform(-6.0, 0.0)), 2) for _ in chosen]
            phrases = [ri.phrase(rng, ri.INSTRUMENTS[i], seconds) for i in chosen]
            clips.append(ri.Clip(plan.split, plan.index, chosen, gains, phrases))
            where.append(k)
    out = [silent] * len(plans)
    for j, mix in zip(where, ri.render_mixes(clips, seconds, fluidsynth) if clips else []):
        out[j] = suite.at_rms(mix, -20)
    return out


def spoken(words: list[str], people: list[suite.Speaker], rng: np.random.Generator, workdir: Path,
           seconds: float = SECONDS) -> np.ndarray:
    """The words one after the other (gaps of 0.05..0.3 s, squeezed if they do not fit), each by a random speaker
    of the split at a gain of -6..0 dB."""
    takes = [suite.say(people[int(rng.integers(len(people)))], w, rng, workdir) * 10 ** (rng.uniform(-6, 0) / 20)
             for w in words]
    gaps = rng.uniform(0.05, 0.3, len(takes)) * RATE
    room = seconds * RATE - sum(len(t) for t in takes)
    gaps *= min(1.0, max(room, 0) / gaps.sum())
    out, onset = np.zeros(round(seconds * RATE), np.float32), 0
    for take, gap in zip(takes, gaps):
        onset += int(gap)
        out += suite.fit(take.astype(np.float32), seconds, min(onset, len(out) - 1))
        onset += len(take)
    return out


def voice_audio(plans: list[Plan], rngs: dict[str, np.random.Generator], people: dict[str, list],
                seconds: float = SECONDS) -> list[np.ndarray]:
    out = []
    with tempfile.TemporaryDirectory(prefix="aqa-voices-") as tmp:
        for plan in plans:
            words = [i.name for i in plan.items if i.kind == "word"]
            out.append(spoken(words, people[plan.split], rngs[plan.split], Path(tmp), seconds) if words
                       else np.zeros(round(seconds * RATE), np.float32))
    return out


TEST_ACCENTS = ("en-gb-scotland", "en-029", "en-gb-x-gbcwmd")  # words-other-voices: accents heard in test only


def heldout_speakers(seed: int, counts: tuple[int, int, int]) -> dict[str, list[suite.Speaker]]:
    """Speakers whose accent and voice variant the test split alone has: training and validation speakers (disjoint
    from each other) from the accents outside :data:`TEST_ACCENTS` and two thirds of the variants, test speakers from
    those accents and the other third; each with its own speed and pitch, as ``real_audio_suite.speakers``."""
    rng = np.random.default_rng([seed, 31])
    test_variants = suite.VARIANTS[2::3]
    pools = {True: [f"{a}+{v}" for a in suite.ACCENTS if a in TEST_ACCENTS for v in test_variants],
             False: [f"{a}+{v}" for a in suite.ACCENTS if a not in TEST_ACCENTS for v in suite.VARIANTS
                     if v not in test_variants]}
    picked = {test: [pool[k] for k in rng.choice(len(pool), sum(counts[2:] if test else counts[:2]), replace=False)]
              for test, pool in pools.items()}
    voices = {"train": picked[False][:counts[0]], "validation": picked[False][counts[0]:], "test": picked[True]}
    return {split: [suite.Speaker(v, int(rng.integers(130, 200)), int(rng.integers(25, 75))) for v in voices[split]]
            for split in SPLITS}


# ---------------------------------------------------------------- writing


def write_set(out: Path, set_name: str, plans: list[Plan], audio: list[np.ndarray], seed: int, settings: dict) -> None:
    """Audio files, then the three CSVs (three identical annotator rows per question) through temporary names."""
    (out / "audio_files").mkdir(parents=True, exist_ok=True)
    for plan, clip in zip(plans, audio):
        peak = float(np.abs(clip).max())
        sf.write(out / "audio_files" / plan.file_name, clip * (10 ** (-1 / 20) / max(peak, 1e-9)), RATE, subtype="PCM_16")
    rng = np.random.default_rng([seed, SETS.index(set_name), 9])
    details = []
    for split in SPLITS:
        rows = [["file_name", "QuestionText", "answer", "confidence"]]
        for plan in (p for p in plans if p.split == split):
            asked = (varied_questions if set_name in VARIED_SETS else questions)(plan, set_name, rng)
            rows += [[plan.file_name, q, a, "yes"] for q, a in asked for _ in range(ANNOTATORS)]
            details.append({"file_name": plan.file_name, "items": [i.name for i in plan.items]})
        tmp = out / (CSV_NAMES[split] + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        tmp.replace(out / CSV_NAMES[split])
    with open(out / "clotho_aqa_metadata.csv", "w", newline="", encoding="utf-8") as f:  # Clotho's keywords, ;-separated
        csv.writer(f).writerows([["file_name", "keywords"]] + [[d["file_name"], ";".join(d["items"])] for d in details])
    (out / "clips.json").write_text(json.dumps(details, indent=0) + "\n", encoding="utf-8")
    (out / "settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def build(out: Path, seed: int, tiny: bool) -> None:
    sizes = TINY if tiny else FULL
    settings = json.loads(json.dumps({"version": VERSION, "seed": seed, "tiny": tiny, "sizes": sizes, "seconds": SECONDS,
                                      "varied_seconds": VARIED_SECONDS, "other_font": OTHER_FONT.name}))
    stored = out / "settings.json"
    if stored.is_file() and json.loads(stored.read_text(encoding="utf-8")) == settings:
        print(f"{out}: already built with these settings; nothing to do")
        return
    if any((out / s).exists() for s in SETS):
        raise SystemExit(f"error: {out} already holds sets built with other settings; delete it or choose another folder")
    fluidsynth = ri.check_tools()
    if not OTHER_FONT.is_file():
        raise SystemExit(f"error: {OTHER_FONT} not found (instruments-other-font's test split); install it with "
                         f"`{OTHER_FONT_APT}` (sudo if not root)")
    people = suite.speakers(seed, sizes["speakers"])
    heldout = heldout_speakers(seed, sizes["speakers"])
    begin = time.perf_counter()
    for name in SETS:
        plans, rngs = plan_set(name, seed, sizes["varied_clips" if name in VARIED_SETS else "clips"])
        by_split = dict(zip(SPLITS, rngs))
        if name == "instruments-other-font":
            audio = instrument_audio(plans, by_split, fluidsynth, VARIED_SECONDS)
        elif name == "words-other-voices":
            audio = voice_audio(plans, by_split, heldout, VARIED_SECONDS)
        else:
            audio = [a + v for a, v in zip(instrument_audio(plans, by_split, fluidsynth), voice_audio(plans, by_split, people))]
        write_set(out / name, name, plans, audio, seed, settings)
        print(f"{name}: " + " ".join(f"{s}={sum(p.split == s for p in plans)} clips" for s in SPLITS), flush=True)
    voices = {"six-question sets": people, "words-other-voices": heldout}
    (out / "speakers.json").write_text(json.dumps({k: {s: [p.voice for p in v[s]] for s in SPLITS} for k, v in voices.items()},
                                                  indent=1) + "\n", encoding="utf-8")
    stored.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    print(f"built in {time.perf_counter() - begin:.1f} s")


# ---------------------------------------------------------------- running and tabulating


LLM, BLIND, MAJORITY = "llm_scoring", "baseline_blind_llm", "baseline_majority_by_form"
FORMS = ("yes", "no", "how many", "which")  # the yes/no questions split by their true answer; which: any other
ALPHA = 0.05  # the choice rule (docs/aqa-without-keywords.md): above the blind row at p < ALPHA for every seed
TIE_POINTS = 0.5  # candidates within this many points of the best mean tie; the first listed wins


def p_text(p: float) -> str:
    """``p = 0.022``, or ``p < 0.001`` where the 1000 bootstrap replicates cannot resolve more."""
    return "p < 0.001" if p < 0.001 + 1e-9 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def statistics_of(results: Path, split: str) -> tuple[dict, list[dict], list[dict]]:
    """The run's records, its rows aggregated on ``split`` with 95 % intervals over audio clips, and its checks
    against the reference rows (``report.significance.analyse``: the report's own statistics, on any split)."""
    from codec_bench.report.aggregate import aggregate
    from codec_bench.report.significance import analyse

    records = json.loads(results.read_text(encoding="utf-8"))["records"]
    aggregated = aggregate(records)
    checks = analyse(records, aggregated, results.parent, {}, split)["reference_checks"]
    return {r["method"]: r for r in records if r["split"] == split}, [a for a in aggregated if a["split"] == split], checks


def by_form(predictions: Path, varied: bool = False) -> dict[str, float]:
    """Accuracy per question form (``FORMS``), from a prediction file: by question number in a six-question set, by
    the true answer in a ``varied`` one (whose items are no count words)."""
    right: dict[str, list[bool]] = {f: [] for f in FORMS}
    for line in predictions.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        truth, number = row["labels"][0], int(row["id"].rsplit("#q", 1)[1])
        if varied:
            form = truth if truth in ("yes", "no") else "how many" if truth in COUNTS.values() else "which"
        else:
            form = truth if number <= 4 else ("how many" if number == 5 else "which")
        right[form].append(row["prediction"][:1] == [truth])
    return {f: float(np.mean(v)) if v else math.nan for f, v in right.items()}


def set_rows(results: Path, tag: str, name: str, split: str) -> list[str]:
    """Per row (LLM, blind LLM, majority by form): accuracy [95 % interval over clips], yes/no and open accuracy,
    accuracy per form, and on the LLM row its difference to the blind LLM with the paired test's p."""
    if not results.is_file():
        return [f"| {name} | {tag} | not run |" + " – |" * 9]
    records, aggregated, checks = statistics_of(results, split)
    rows = {a["method"]: a for a in aggregated}
    n = records[LLM]["n_clips"] if LLM in records else "?"
    lines = []
    for method in (LLM, BLIND, MAJORITY):
        metrics = rows.get(method, {}).get("metrics", {})
        accuracy = metrics.get("accuracy", {})
        forms = by_form(results.parent / records[method]["predictions"], name in VARIED_SETS) if method in records else {}
        test = next((c["test"] for c in checks if c["llm"] == LLM and c["reference"] == BLIND), None)
        paired = f"{test['difference']:+.1f} ({p_text(test['p'])})" if method == LLM and test and test["p"] is not None else ""
        cells = [suite.percent(accuracy.get("mean"), accuracy.get("ci")),
                 *(suite.percent(metrics.get(m, {}).get("mean")) for m in ("yes_no_accuracy", "open_accuracy")),
                 *(suite.percent(forms.get(f)) for f in FORMS), paired]
        lines.append(f"| {name} ({n} q.) | {tag} | {method} | " + " | ".join(cells) + " |")
    return lines


def write_table(runs: Path, tags: list[str], names: list[str], split: str) -> str:
    """A markdown table of every (set, run tag, row) on ``split``, in percent."""
    head = ["set (questions)", "run", "row", f"{split} accuracy [95 %]", "yes/no", "open", "yes", "no", "how many",
            "which", "LLM - blind (paired p)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        for tag in tags:
            lines += set_rows(runs / tag / name / "results.json", tag, name, split)
    return "\n".join(lines)


def seed_checks(results: Path, split: str = "validation") -> dict[int, dict]:
    """Training seed -> ``{"llm", "blind"}`` accuracies on ``split`` and ``{"difference", "p"}``: the LLM against its
    blind row, that seed alone (points; the report's paired bootstrap over audio clips)."""
    from codec_bench.report.aggregate import aggregate
    from codec_bench.report.significance import analyse

    records = json.loads(results.read_text(encoding="utf-8"))["records"]
    out = {}
    for seed in sorted({r.get("seed", 0) for r in records if r["method"] == LLM and r["split"] == split}):
        mine = [r for r in records if r.get("seed", 0) == seed and r["method"] in (LLM, BLIND)]
        checks = analyse(mine, aggregate(mine), results.parent, {}, split)["reference_checks"]
        test = next((c["test"] for c in checks if c["llm"] == LLM and c["reference"] == BLIND), {})
        value = {r["method"]: r["metrics"]["accuracy"] for r in mine if r["split"] == split}
        out[seed] = {"llm": value.get(LLM), "blind": value.get(BLIND), "difference": test.get("difference"),
                     "p": test.get("p")}
    return out


def above_blind(checks: dict[int, dict], seeds: list[int]) -> bool:
    """The rule's first step: every seed ran, and each is above its blind row at p < ALPHA."""
    return all(seed in checks and checks[seed]["p"] is not None and checks[seed]["difference"] > 0
               and checks[seed]["p"] < ALPHA for seed in seeds)


def choose(checks: dict[tuple[str, str], dict[int, dict]], recipes: list[str], sets: list[str],
           seeds: list[int]) -> tuple[str | None, str]:
    """The rule written before the runs (docs/aqa-without-keywords.md): among the recipes above their blind row for
    every seed on every set (:func:`above_blind`), the highest mean validation accuracy (over sets, each the mean over
    seeds); within TIE_POINTS of it, the first listed. ``checks``: (recipe, set) -> :func:`seed_checks`. Returns the
    chosen recipe (None: none qualifies, the default stays) and why, in one line."""
    qualified = [r for r in recipes if all(above_blind(checks.get((r, s), {}), seeds) for s in sets)]
    if not qualified:
        return None, (f"none of {', '.join(recipes)} is above its blind row at p < {ALPHA} for every seed on every set; "
                      "the default stays")
    mean = {r: float(np.mean([np.mean([checks[(r, s)][seed]["llm"] for seed in seeds]) for s in sets])) for r in qualified}
    best = max(mean.values())
    chosen = next(r for r in qualified if mean[r] >= best - TIE_POINTS / 100)
    return chosen, (f"{chosen}: above its blind row for every seed on every set, mean validation accuracy "
                    f"{100 * mean[chosen]:.1f} (qualified: {', '.join(f'{r} {100 * mean[r]:.1f}' for r in qualified)})")


def choice_table(runs: Path, recipes: list[str], sets: list[str], seeds: list[int]) -> str:
    """Per set and recipe: LLM - blind (paired p) for each seed on validation, the LLM's and the blind row's mean ±
    std over seeds, whether every seed is above blind; then the rule's choice (:func:`choose`)."""
    head = ["set", "recipe", *(f"seed {s}: LLM - blind (p)" for s in seeds), "LLM mean ± std", "blind mean ± std",
            f"above blind, every seed (p < {ALPHA})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    checks = {}
    for name in sets:
        for recipe in recipes:
            results = runs / recipe / name / "results.json"
            checks[(recipe, name)] = found = seed_checks(results) if results.is_file() else {}
            cells = [f"{found[s]['difference']:+.1f} ({p_text(found[s]['p'])})" if s in found and found[s]["p"] is not None
                     else "not run" for s in seeds]
            for row in ("llm", "blind"):
                values = [100 * found[s][row] for s in seeds if s in found and found[s][row] is not None]
                spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0  # the sample std, as the report's
                cells.append(f"{np.mean(values):.1f} ± {spread:.1f}" if values else "–")
            cells.append("yes" if above_blind(found, seeds) else "no")
            lines.append(f"| {name} | {recipe} | " + " | ".join(cells) + " |")
    chosen, why = choose(checks, recipes, sets, seeds)
    return "\n".join(lines) + f"\n\nChosen on validation: {why}"


def recipe_of(text: str) -> tuple[str, str]:
    """``--recipe NAME=ARGS`` -> (name, the `codec-bench run` options); ``NAME`` alone has none."""
    name, _, options = text.partition("=")
    if not name or "/" in name:
        raise SystemExit(f"error: --recipe {text!r}: give NAME=OPTIONS, e.g. \"tags1=--question-tags 1\"")
    return name, options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Build (and run, and tabulate) the real-audio AQA sets.")
    p.add_argument("out", type=Path, help="folder of the sets (one sub-folder per set)")
    p.add_argument("--seed", type=int, default=22)
    p.add_argument("--tiny", action="store_true", help="a few clips per set, built in seconds (for CI)")
    p.add_argument("--run", type=Path, help="run `codec-bench run clotho_aqa` on every set, into RUN/<tag>/<set>")
    p.add_argument("--table", type=Path, help="print the markdown table of the runs under TABLE/<tag>/<set>")
    p.add_argument("--tag", action="append", help="the run's name (default: default); with --table, repeatable")
    p.add_argument("--split", default="validation", choices=("validation", "test"), help="with --table: the split shown")
    p.add_argument("--args", default="", help="extra `codec-bench run` options, e.g. \"--codec logmel\"")
    p.add_argument("--test", action="store_true", help="with --run: evaluate the test split too (only once the choice is "
                   "made; without it the runs evaluate and report validation only)")
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated sets to run or tabulate")
    p.add_argument("--recipe", action="append", help="a candidate NAME=\"codec-bench run options\" (repeatable, simplest "
                   "first): --run runs each into RUN/<name>/<set> (after --args); --choose tabulates them by name")
    p.add_argument("--seeds", help="training seeds: a count (3: seeds 0, 1, 2) or a list (0,4,7), `codec-bench run "
                   "--seeds`; with --run every recipe trains each (default: seed 0), with --choose default 3")
    p.add_argument("--choose", type=Path, help="print, per seed, each recipe's LLM - blind on validation (paired p) under "
                   "CHOOSE/<recipe>/<set>, and the recipe the rule of docs/aqa-without-keywords.md chooses")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    build(args.out, args.seed, args.tiny)
    tags = args.tag or ["default"]
    recipes = [recipe_of(r) for r in args.recipe] if args.recipe else [(tags[0], "")]
    if len({name for name, _ in recipes}) < len(recipes):  # two recipes would share a run folder
        raise SystemExit(f"error: --recipe names {[name for name, _ in recipes]}: give each recipe once, with its own name")
    seeds = f" --seeds {args.seeds}" if args.seeds else ""
    if args.run:
        for name, options in recipes:
            suite.run_sets(args.out, args.run / name, args.sets.split(","), f"{args.args} {options}{seeds}",
                           dataset="clotho_aqa", test=args.test)
    if args.table:
        print(write_table(args.table, tags, args.sets.split(","), args.split))
    if args.choose:
        from codec_bench.config import parse_seeds

        names = [name for name, _ in recipes] if args.recipe else tags
        print(choice_table(args.choose, names, args.sets.split(","), parse_seeds(args.seeds or "3")))


if __name__ == "__main__":
    main(sys.argv[1:])
