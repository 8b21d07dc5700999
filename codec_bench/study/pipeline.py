"""The stages chained for one dataset: manifest -> tokens -> prompts -> training -> evaluation (+ baseline).
The manifest, token and prompt stages are here; once the prompts are written a fold is one ``fold.FoldContext``,
trained by ``train_stage`` and evaluated, with its reference rows, by ``evaluate_stage``.

Each stage writes inspectable files under ``OUT/<manifest name>/`` and the next reads them; a stage whose
finished file exists is skipped, so an interrupted run resumes where it stopped. What several processes share
(the cache, a codec fit, a base model, the baseline) is built under a file lock by the first and reused by the
others; a run folder is held by one job at a time (``core.parallel``). Nothing is held whole in memory that grows
with the corpus beyond the manifest: codes are read lazily from the cache, prompts from their files:

    OUT/<name>/manifest/{clips.jsonl,info.json}
    OUT/cache/<dataset>/<codec key>/shard-*.parquet                 (token cache, shared by folds; also the
                                                                    frames of continuous front-ends and the
                                                                    baseline's per-clip features)
    OUT/<name>/<run>/prompts/{train,validation,test}.jsonl,done.json  (the audio slot filled from the cache)
    OUT/<name>/<run>/model/ (+ checkpoints/)                       (fine-tuned weights or LoRA adapter, and
                                                                    audio_projector.safetensors for frames)
    OUT/<name>/<run>/README.md                                     (the model card: results as model-index metadata)
    OUT/<name>/<run>/eval/{records.json,*_predictions.jsonl}
    OUT/<name>/baseline/{records.json,*_predictions.jsonl}           (question answering: the majority answer
                                                                    per question form; the blind LLM in
                                                                    OUT/<name>/blind__<run>/, ``blind``)
    OUT/<name>/fidelity__<codec>/{fidelity.json,clips.jsonl}       (--fidelity: decoded test clips scored)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..codecs import make_codec
from ..codecs.base import ClipEncoder
from ..codecs.cache import TokenCache
from ..codecs.cached_codes import CachedCodes
from ..codecs.fit import fit_codec
from ..config import RunConfig, model_label, reading_tag, settings_table
from ..core import io, ui
from ..core.finished import disk_guard, mark_done, reusable
from ..core.parallel import build_lock, is_main_process, run_folder_lock, wait_for_everyone
from ..data import manifest as manifests
from ..data.augment import augmented_clips
from ..data.clotho_aqa import METADATA_FILE, keyword_clips, tag_clips
from ..data.manifest import Clip, Manifest
from ..evaluation.records import Record
from ..formats import CodecCard, OutFolder, RunCard, RunFolder
from ..prompts import Example, ExampleFile, build_example, example_row
from .blind import blind_rows, train_blind
from .evaluate_stage import evaluate_model, reference_rows, run_baseline, write_model_card
from .fidelity_stage import score_fidelity
from .fold import FoldContext, learn_units, prompt_texts
from .inputs import check_run
from .stale import set_aside
from .train_stage import train_model


def run(config: RunConfig, stop_after: str = "all", loaded: list[Manifest] | None = None) -> list[Record]:
    """Run every stage for every fold of ``config``, up to ``stop_after`` (``config.STAGES``: encode, train or all);
    returns the result records (see ``report``). Under several processes only rank 0 evaluates. ``loaded``: the
    folds' manifests when the caller has read them already (``manifests_for``)."""
    records: list[Record] = []
    for manifest in loaded if loaded is not None else manifests_for(config):
        save_manifest(config, manifest)
        records += run_fold(config, manifest, stop_after)
    return records


def manifests_for(config: RunConfig) -> list[Manifest]:
    """The manifests of the folds ``config`` runs, after every check that needs no model (``inputs.check_run``)."""
    return check_run(config)


def save_manifest(config: RunConfig, manifest: Manifest) -> None:
    """Write ``OUT/<name>/manifest`` and say what it holds."""
    folder = OutFolder(Path(config.out)).manifest(manifest.name)
    with build_lock(folder, "manifest"):
        manifests.save(manifest, folder)
    clips = manifest.counts()["clips"]
    ui.say(f"[bold]{manifest.name}[/]: {sum(clips.values())} clips ({', '.join(f'{n} {s}' for s, n in clips.items())}), "
           f"{len(manifest.classes)} classes")
    if manifest.skipped:
        named = "; ".join(f"{s['path']}: {s['reason']}" for s in manifest.skipped[:3])
        ui.warn(f"{len(manifest.skipped)} clips skipped, e.g. {named} (all in {folder / 'info.json'}, \"skipped\")")
    for warning in manifests.coverage_warnings(manifest):
        ui.warn(f"{manifest.name}: {warning}")


def run_fold(config: RunConfig, manifest: Manifest, stop_after: str = "all") -> list[Record]:
    """Every stage for one fold; running out of space anywhere is one line naming the folder (``disk_guard``)."""
    with disk_guard(config.out, f"running {manifest.name}"):
        return _run_fold(config, manifest, stop_after)


def _run_fold(config: RunConfig, manifest: Manifest, stop_after: str) -> list[Record]:
    folder = Path(config.out) / manifest.name
    codec = make_codec(config.codec.name, **config.codec.options)
    fit_codec(codec, manifest.split("train"), Path(config.cache_folder) / manifest.dataset)
    extra = augmented_clips(manifest.split("train"), config.train.mix, config.train.shift, config.train.seed)
    if manifest.task == "aqa":  # --keywords: the training audio files' keywords as extra training examples
        keywords = keyword_clips(manifest.split("train"), config.train.keywords)
        if config.train.keywords and not keywords:
            ui.say(f"--keywords {config.train.keywords:g}: no training audio file has keywords (file_name,keywords in "
                   f"{METADATA_FILE} beside the question CSVs), so no keyword examples are trained")
        tags = tag_clips(manifest.split("train"), config.train.question_tags)  # what the training questions say is heard
        if config.train.question_tags and not tags:
            ui.say(f"--question-tags {config.train.question_tags:g}: no training question names what is heard (none "
                   "answered yes, no open answer named in its question), so no tag examples are trained")
        extra += keywords + tags
    codes = encode_tokens(config, manifest, codec, extra)
    if stop_after == "encode":
        return []
    reading = reading_tag(config.codec.codebooks, config.codec.patch, config.codec.bpe)
    run_dir = folder / f"{codec.cache_key()}{reading}__{model_label(config.model)}__{config.run_name}"
    with run_folder_lock(run_dir):
        examples = write_prompts(manifest, codes, RunFolder(run_dir).prompts, extra, config.train.question_position)
        write_run_card(config, manifest, codec, run_dir)
        fold = FoldContext(config, manifest, codec, codes, examples, run_dir)
        learn_units(fold)  # --bpe: the unit merges, learned on the training split
        model_dir = train_model(fold)
        blind_model = train_blind(fold)  # question answering: the same LLM and recipe, the audio slot empty
        if stop_after == "train" or not is_main_process():
            return []
        records = evaluate_model(fold, model_dir)
        write_model_card(run_dir)  # README.md: the results as Hugging Face model-index metadata
        records += blind_rows(fold, blind_model)
    records += reference_rows(fold)
    score_fidelity(fold)  # --fidelity: the codec's decoded audio against its input, beside the records
    if config.baseline and manifest.task != "aqa":  # an audio-only classifier cannot read the question
        records += run_baseline(config, manifest, OutFolder(Path(config.out)).baseline(manifest.name).path)
    return records


def write_run_card(config: RunConfig, manifest: Manifest, codec: ClipEncoder, run_dir: Path) -> None:
    """``run.json``: what ``predict`` needs to use this run on new audio (codec, its fitted state, classes,
    instruction, task) and every setting with its source (``config.settings_table``). A fitted codec's state is copied
    next to it."""
    files = RunFolder(run_dir)
    coding = CodecCard(codec.name, config.codec.options, config.codec.max_seconds, codec.cache_key(), config.codec.codebooks,
                       state=files.codec_state.name if codec.needs_fit else None, patch=config.codec.patch,
                       bpe=config.codec.bpe)
    if codec.needs_fit:
        with io.atomic_path(files.codec_state) as tmp:
            codec.save(tmp)
    RunCard(manifest.dataset, manifest.task, manifest.instruction, manifest.classes, coding, config.model.name,
            config.run_name, config.train.seed, settings_table(config)).to_file(files.run_card)


def clip_example(manifest: Manifest, clip: Clip, question_position: str = "before") -> Example:
    """The clip's training or evaluation example: its prompt (``fold.prompt_texts``) and its labels as the answer."""
    instruction, after_audio = prompt_texts(manifest, clip, question_position)
    return build_example(clip.id, instruction, clip.labels, after_audio)


def encode_tokens(config: RunConfig, manifest: Manifest, codec: ClipEncoder, extra: Sequence[Clip] = ()) -> CachedCodes:
    """Fill the token cache for the manifest's clips and the ``extra`` (augmented) ones; returns the lazy ``{clip id:
    codes}`` of them all; skips are recorded."""
    cache = TokenCache(config.cache_folder, manifest.dataset, codec, config.codec.max_seconds)
    clips = list(manifest.clips) + list(extra)
    if is_main_process():
        set_aside(config.out, manifest.dataset, codec.cache_key(), cache.changed(clips))
    with disk_guard(cache.folder, "encoding", cache_estimate(codec, len(clips), config.codec.max_seconds)):
        counts = cache.build(clips, config.codec.batch_size, config.codec.num_workers)
    wait_for_everyone()  # several processes: every rank's shards must be written
    codes, skipped = cache.load(c.id for c in clips)
    if counts["truncated"]:
        ui.warn(
            f"{counts['truncated']} clips longer than {config.codec.max_seconds:g} s were cut to {config.codec.max_seconds:g} s "
            "before encoding (--max-seconds)"
        )
    if skipped:
        listing = Path(config.out) / manifest.name / "encode_skipped.jsonl"
        paths = {c.id: c.path for c in clips}
        io.write_jsonl(listing, ({"id": i, "path": paths[i], "reason": r} for i, r in skipped.items()))
        ui.warn(
            f"{len(skipped)} clips could not be encoded and are left out, e.g. {next(iter(skipped.values()))} (all in {listing})"
        )
    ui.say(f"tokens: {counts['encoded']} encoded, {counts['cached']} from cache ({cache.folder})", ui.VERBOSE)
    return codes


def cache_estimate(codec: ClipEncoder, clips: int, max_seconds: float | None) -> int | None:
    """At most how many bytes the cache of ``clips`` clips takes (every clip at the length limit)."""
    if max_seconds is None or not codec.frame_rate_hz:
        return None
    return int(clips * max_seconds * codec.frame_rate_hz * codec.rows * np.dtype(codec.storage_dtype).itemsize)


PROMPTS_FORMAT = 2  # 2: the audio slot is filled from the cache at batch time (1 held the speech-token text)


def write_prompts(manifest: Manifest, codes: Mapping[str, np.ndarray], folder: Path,
                  extra: Sequence[Clip] = (), question_position: str = "before") -> dict[str, ExampleFile]:
    """Write the prompts of every split as JSONL (clips without tokens are left out; ``extra``, augmented training
    clips, after the training split's own; a question before or after the audio, ``fold.prompt_texts``), streaming,
    and return them read lazily. ``done.json`` records the format, the augmented clips, a digest of the clips
    included, the question's position, the rows, sizes and checksums; prompts that do not match it are written again
    (a clip that could not be encoded before and can now, for one)."""
    done = folder / "done.json"
    augmented = sorted(c.id for c in extra)
    included = {s: [c for c in list(manifest.split(s)) + (list(extra) if s == "train" else []) if c.id in codes]
                for s in manifests.SPLITS}
    digest = hashlib.sha256("\n".join(f"{s}:{c.id}" for s in manifests.SPLITS for c in included[s]).encode()).hexdigest()
    if not (reusable(done, "prompts", folder) and io.read_json(done).get("format") == PROMPTS_FORMAT
            and io.read_json(done).get("augmented", []) == augmented and io.read_json(done).get("clips", digest) == digest
            and io.read_json(done).get("question_position", "before") == question_position):
        counts = {}
        for split in manifests.SPLITS:
            rows = (example_row(clip_example(manifest, c, question_position)) for c in included[split])
            counts[split] = io.write_jsonl(folder / f"{split}.jsonl", rows)
        mark_done(done, [folder / f"{split}.jsonl" for split in manifests.SPLITS], format=PROMPTS_FORMAT, rows=counts,
                  augmented=augmented, clips=digest, question_position=question_position)
    return {split: ExampleFile(folder / f"{split}.jsonl") for split in manifests.SPLITS}
