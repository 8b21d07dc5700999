"""The stages chained for one dataset: manifest -> tokens -> prompts -> training -> evaluation (+ baseline).

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
    OUT/<name>/<run>/eval/{records.json,*_predictions.jsonl}
    OUT/<name>/baseline/{records.json,*_predictions.jsonl}
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..codecs import make_codec
from ..codecs.base import ClipEncoder, FeatureFrontEnd
from ..codecs.cache import TokenCache
from ..codecs.cached_codes import CachedCodes
from ..codecs.fit import fit_codec
from ..config import CODEBOOK_MODES, EMBEDDED_MODEL, RunConfig, codec_label, model_label
from ..core import io, ui
from ..core.errors import CodecBenchError
from ..core.finished import check_done, disk_guard, files_in, mark_done, rebuild, reusable
from ..core.parallel import build_lock, is_main_process, run_folder_lock, wait_for_everyone
from ..data import manifest as manifests
from ..data.augment import augmented_clips
from ..data.manifest import Clip, Manifest
from ..evaluation import baseline
from ..evaluation.metrics import apply_thresholds, label_matrix, multi_label_metrics, tune_thresholds
from ..evaluation.records import (
    Record,
    RunName,
    cached_records,
    finish_records,
    finished_records,
    generation_record,
    label_scores,
    scoring_records,
)
from ..evaluation.scoring import generate_answers, score_label_questions, score_multi_label, score_single_label
from ..formats import CodecCard, OutFolder, RunCard, RunFolder, TrainDone, reference_folder
from ..llm import vocab
from ..llm.encoder import codec_vocabulary, embeds_audio, prompt_encoder
from ..llm.model import build_tiny_llm, for_inference, load_llm, load_trained
from ..llm.projector import attach_projector
from ..llm.tracking import log_metrics
from ..llm.train import train
from ..prompts import ITEM_SEPARATOR, Example, ExampleFile, build_example, example_row
from .inputs import STAGES, check_run


def run(config: RunConfig, stop_after: str = "all", loaded: list[Manifest] | None = None) -> list[Record]:
    """Run every stage for every fold of ``config``, up to ``stop_after`` (encode, train or all); returns the
    result records (see ``report``). Under several processes only rank 0 evaluates. ``loaded``: the folds'
    manifests when the caller has read them already (``manifests_for``)."""
    if stop_after not in STAGES:
        raise CodecBenchError(f"unknown stage {stop_after!r}; choose one of {', '.join(STAGES)}")
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
    check_codebooks(config, codec)
    fit_codec(codec, manifest.split("train"), Path(config.cache_folder) / manifest.dataset, config.progress)
    extra = augmented_clips(manifest.split("train"), config.train.mix, config.train.shift, config.train.seed)
    codes = encode_tokens(config, manifest, codec, extra)
    if stop_after == "encode":
        return []
    summed = "-sum" if config.codec.codebooks == "sum" else ""
    run_dir = folder / f"{codec.cache_key()}{summed}__{model_label(config.model)}__{config.run_name}"
    with run_folder_lock(run_dir):
        examples = write_prompts(manifest, codes, RunFolder(run_dir).prompts, extra)
        write_run_card(config, manifest, codec, run_dir)
        model_dir = train_model(config, manifest, codec, examples, run_dir, codes)
        if stop_after == "train" or not is_main_process():
            return []
        records = evaluate_model(config, manifest, codec, model_dir, examples, RunFolder(run_dir).eval.path, codes)
    records += reference_rows(config, manifest, codec, codes, examples, run_dir)
    if config.baseline and manifest.task != "aqa":  # an audio-only classifier cannot read the question
        records += run_baseline(config, manifest, OutFolder(Path(config.out)).baseline(manifest.name).path)
    return records


def reference_rows(config: RunConfig, manifest: Manifest, codec: ClipEncoder, codes: Mapping[str, np.ndarray],
                   examples: dict[str, ExampleFile], run_dir: Path) -> list[Record]:
    """Zero-shot and probe rows, when asked for; shared by every recipe of one codec and model."""
    if not (config.probes or config.zero_shot):
        return []
    if embeds_audio(codec, config.codec.codebooks):  # probes and zero-shot read token prompts
        ui.warn(f"{codec_label(codec, config.codec.label, config.codec.codebooks)} does not give token prompts: no probe "
                "or zero-shot rows for it")
        return []
    from ..evaluation import probes

    base_id = base_model(config, manifest, codec, run_dir)
    shared = f"{codec.cache_key()}__{model_label(config.model)}"
    records = []
    if config.probes:
        records += probes.run_probes(config, manifest, codec, codes, examples, base_id,
                                     reference_folder(run_dir, "probes", shared).path)
    if config.zero_shot:
        records += probes.zero_shot_records(config, manifest, codec, codes, examples, base_id,
                                            reference_folder(run_dir, "zero_shot", shared).path)
    return records


def write_run_card(config: RunConfig, manifest: Manifest, codec: ClipEncoder, run_dir: Path) -> None:
    """``run.json``: what ``predict`` needs to use this run on new audio (codec, its fitted state, classes,
    instruction, task). A fitted codec's state is copied next to it."""
    files = RunFolder(run_dir)
    coding = CodecCard(codec.name, config.codec.options, config.codec.max_seconds, codec.cache_key(), config.codec.codebooks,
                       state=files.codec_state.name if codec.needs_fit else None)
    if codec.needs_fit:
        with io.atomic_path(files.codec_state) as tmp:
            codec.save(tmp)
    RunCard(manifest.dataset, manifest.task, manifest.instruction, manifest.classes, coding, config.model.name,
            config.run_name, config.train.seed).to_file(files.run_card)


def encode_tokens(config: RunConfig, manifest: Manifest, codec: ClipEncoder, extra: Sequence[Clip] = ()) -> CachedCodes:
    """Fill the token cache for the manifest's clips and the ``extra`` (augmented) ones; returns the lazy ``{clip id:
    codes}`` of them all; skips are recorded."""
    cache = TokenCache(config.cache_folder, manifest.dataset, codec, config.codec.max_seconds)
    clips = list(manifest.clips) + list(extra)
    with disk_guard(cache.folder, "encoding", cache_estimate(codec, len(clips), config.codec.max_seconds)):
        counts = cache.build(clips, config.codec.batch_size, config.codec.num_workers, progress=config.progress)
    wait_for_everyone()  # several processes: every rank's shards must be written
    codes, skipped = cache.load(c.id for c in clips)
    if counts["truncated"]:
        ui.warn(f"{counts['truncated']} clips longer than {config.codec.max_seconds:g} s were cut to {config.codec.max_seconds:g} s "
                "before encoding (--max-seconds)")
    if skipped:
        listing = Path(config.out) / manifest.name / "encode_skipped.jsonl"
        paths = {c.id: c.path for c in clips}
        io.write_jsonl(listing, ({"id": i, "path": paths[i], "reason": r} for i, r in skipped.items()))
        ui.warn(f"{len(skipped)} clips could not be encoded and are left out, e.g. {next(iter(skipped.values()))} (all in {listing})")
    ui.say(f"tokens: {counts['encoded']} encoded, {counts['cached']} from cache ({cache.folder})", ui.VERBOSE)
    return codes


def cache_estimate(codec: ClipEncoder, clips: int, max_seconds: float | None) -> int | None:
    """At most how many bytes the cache of ``clips`` clips takes (every clip at the length limit)."""
    if max_seconds is None or not codec.frame_rate_hz:
        return None
    return int(clips * max_seconds * codec.frame_rate_hz * codec.rows * np.dtype(codec.storage_dtype).itemsize)


PROMPTS_FORMAT = 2  # 2: the audio slot is filled from the cache at batch time (1 held the speech-token text)


def write_prompts(manifest: Manifest, codes: Mapping[str, np.ndarray], folder: Path, extra: Sequence[Clip] = ()) -> dict[str, ExampleFile]:
    """Write the prompts of every split as JSONL (clips without tokens are left out; ``extra``, augmented training
    clips, after the training split's own), streaming, and return them read lazily. ``done.json`` records the
    format, the augmented clips, the rows, sizes and checksums; prompts that do not match it are written again."""
    done = folder / "done.json"
    augmented = sorted(c.id for c in extra)
    if not (reusable(done, "prompts", folder) and io.read_json(done).get("format") == PROMPTS_FORMAT
            and io.read_json(done).get("augmented", []) == augmented):
        counts = {}
        for split in manifests.SPLITS:
            clips = list(manifest.split(split)) + (list(extra) if split == "train" else [])
            rows = (example_row(build_example(c.id, instruction_for(manifest, c), c.labels)) for c in clips if c.id in codes)
            counts[split] = io.write_jsonl(folder / f"{split}.jsonl", rows)
        mark_done(done, [folder / f"{split}.jsonl" for split in manifests.SPLITS], format=PROMPTS_FORMAT, rows=counts,
                  augmented=augmented)
    return {split: ExampleFile(folder / f"{split}.jsonl") for split in manifests.SPLITS}


def instruction_for(manifest: Manifest, clip) -> str:
    """The prompt's instruction: the dataset's sentence, plus the question for audio question answering."""
    question = clip.extra.get("question") if manifest.task == "aqa" else None
    return f"{manifest.instruction} Question: {question}" if question else manifest.instruction


def train_model(config: RunConfig, manifest: Manifest, codec: ClipEncoder, examples: dict[str, ExampleFile], run_dir: Path,
                codes: Mapping[str, np.ndarray]) -> Path:
    """Fine-tune (or resume) and return the folder of the trained model."""
    files = RunFolder(run_dir)
    if check_done(files.train_done) is None:
        check_same_recipe(files.train_done, config)
        return files.model
    model_id = base_model(config, manifest, codec, run_dir)
    model, tokenizer = load_llm(model_id, config.model.dtype, config.model.offline)
    n_codes, trainable = codec_vocabulary(codec), None
    missing = vocab.missing_speech_tokens(tokenizer, n_codes) if config.model.add_speech_tokens else []
    if missing:
        ui.say(f"adding {vocab.add_speech_tokens(model, tokenizer, n_codes, config.train.seed)} speech-token rows")
        trainable = vocab.trainable_token_indices(model, vocab.token_ids(tokenizer, missing))
    if isinstance(codec, FeatureFrontEnd):
        attach_projector(model, codec.feature_dim, (codes[e.id] for e in examples["train"]), config.train.seed)
    encoder = prompt_encoder(tokenizer, codec, codes, config.codec.codebooks)
    if asks_questions(config, manifest):
        encoder.questions = tuple(manifest.classes)
    ui.say(f"training {model_label(config.model)} ({config.train.method}) on {len(examples['train'])} prompts", ui.VERBOSE)
    with disk_guard(run_dir, "training", checkpoint_estimate(model, config.train.method)):
        return train(model, tokenizer, encoder, examples["train"], examples["validation"], run_dir, config.train,
                     config.progress, trainable_tokens=trainable, report_to=config.report_to, run_name=tracked_name(run_dir),
                     task_metric=validation_metric(manifest, encoder, examples["validation"]) if config.train.select_by == "metric" else None)


def asks_questions(config: RunConfig, manifest: Manifest) -> bool:
    """Whether the run trains (and scores) a yes/no question per label."""
    return config.train.label_questions and manifest.task == "multi_label"


VALIDATION_METRIC_CLIPS = 1000  # model selection by metric scores at most this many validation clips per epoch


def validation_metric(manifest: Manifest, encoder, examples: ExampleFile) -> Callable:
    """``model -> float``: what ``select_by: metric`` maximises, by label scoring on (the first
    ``VALIDATION_METRIC_CLIPS`` of) the validation split: accuracy for single-label tasks and question answering,
    micro-F1 for multi-label ones (per-label thresholds tuned on the same clips: a selection signal, not a reported
    figure; the evaluation chooses its rule by cross-fitting)."""
    chosen = [examples[i] for i in range(min(len(examples), VALIDATION_METRIC_CLIPS))]

    def metric(model) -> float:
        if manifest.task == "multi_label":
            truth = label_matrix([e.answer_items for e in chosen], manifest.classes)
            score = score_label_questions if encoder.questions else score_multi_label
            scores = score(model, encoder, chosen, manifest.classes, progress=False)
            return multi_label_metrics(truth, scores, apply_thresholds(scores, tune_thresholds(truth, scores)))["micro_f1"]
        index = {c: i for i, c in enumerate(manifest.classes)}
        truth = np.array([index.get(e.answer_items[0], -1) for e in chosen])
        return float(np.mean(score_single_label(model, encoder, chosen, manifest.classes, progress=False).argmax(1) == truth))
    return metric


def tracked_name(run_dir: Path) -> str:
    """A run's name in the experiment tracker: ``<manifest name>/<run folder>``."""
    return f"{run_dir.parent.name}/{run_dir.name}"


NOT_RECIPE = ("name", "num_workers")  # settings that do not change what is trained


def check_same_recipe(marker: Path, config: RunConfig) -> None:
    """Refuse to reuse a trained model whose recipe differs from this run's (the run folder is named by the recipe's
    name, not its settings): one line naming the differences and the way out."""
    trained = TrainDone.from_file(marker).config or {}
    wanted = asdict(config.train)
    differs = [f"{k}={trained[k]!r} (this run: {wanted[k]!r})" for k in wanted
               if k in trained and k not in NOT_RECIPE and trained[k] != wanted[k]]
    if differs:
        raise CodecBenchError(f"{marker.parent}: trained with {', '.join(differs)}; give this recipe another name (a "
                              "study's recipes: name:) or another --out, or delete that run folder to train it again")


def checkpoint_estimate(model, method: str) -> int:
    """Bytes the Trainer writes at most: two checkpoints (weights and AdamW's two moments of what is trained,
    float32) and the final model."""
    total = sum(p.numel() for p in model.parameters())
    trained = total if method == "full" else max(1, total // 100)  # LoRA: adapters are about 1 % of the model
    return 4 * 7 * trained  # 2 checkpoints x (weights + 2 moments) + the final weights


def check_codebooks(config: RunConfig, codec: ClipEncoder) -> None:
    """How the LLM reads several codebooks: ``interleave`` (one speech token per codebook and frame, the default)
    or ``sum`` (one position per frame, the sum of its codebooks' token embeddings); not for continuous features."""
    if config.codec.codebooks not in CODEBOOK_MODES:
        raise CodecBenchError(f"codebooks {config.codec.codebooks!r} is not one of {', '.join(CODEBOOK_MODES)}")
    if config.codec.codebooks == "sum" and isinstance(codec, FeatureFrontEnd):
        raise CodecBenchError(f"{codec.name} gives continuous features, not codebooks; drop codebooks: sum")


def base_model(config: RunConfig, manifest: Manifest, codec: ClipEncoder, run_dir: Path) -> str:
    """The model to start from: a hub id / path, or the embedded tiny LM written into the run folder (built once,
    under a lock, into a temporary folder renamed when complete)."""
    if config.model.name != EMBEDDED_MODEL:
        return config.model.name
    folder = RunFolder(run_dir).base_model
    if is_main_process():  # in a multi-process job rank 0 builds it (transformers saves from rank 0 only)
        with build_lock(folder, "base model"):
            if not reusable(folder / "done.json", "base model", folder):
                rebuild(folder)
                corpus = [manifest.instruction, ITEM_SEPARATOR.join(manifest.classes)] + list(manifest.classes) * 4
                corpus += [instruction_for(manifest, c) for c in manifest.split("train")[:5000] if manifest.task == "aqa"]
                with io.atomic_path(folder) as tmp:
                    build_tiny_llm(tmp, codec_vocabulary(codec), corpus, seed=config.train.seed, sizes=config.model.tiny_sizes)
                    mark_done(tmp / "done.json", files_in(tmp), model="embedded tiny Llama")
    wait_for_everyone()
    return str(folder)


def evaluate_model(config: RunConfig, manifest: Manifest, codec: ClipEncoder, model_dir: Path,
                   examples: dict[str, ExampleFile], folder: Path, codes: Mapping[str, np.ndarray]) -> list[Record]:
    """Score (and generate) on the held-out splits; write predictions and records (one progress line)."""
    found = finished_records(folder, "evaluation")
    if found is not None:
        return found
    with ui.stage("evaluate", unit="clips", show=config.progress):
        records = _evaluate(config, manifest, codec, model_dir, examples, folder, codes)
    if config.report_to != "none":
        metrics = {f"eval/{r.split}/{r.method}/{name}": value for r in records for name, value in r.metrics.items()}
        steps = TrainDone.from_file(RunFolder(model_dir.parent).train_done).steps or 0  # evaluated after training: it exists
        log_metrics(config.report_to, folder.parent / "tensorboard", tracked_name(folder.parent), metrics, steps)
    return records


def _evaluate(config: RunConfig, manifest: Manifest, codec: ClipEncoder, model_dir: Path,
              examples: dict[str, ExampleFile], folder: Path, codes: Mapping[str, np.ndarray]) -> list[Record]:
    model, tokenizer = load_trained(model_dir, config.model.dtype, config.model.offline)
    model = for_inference(model)
    encoder = prompt_encoder(tokenizer, codec, codes, config.codec.codebooks)
    run = RunName(codec_label(codec, config.codec.label, config.codec.codebooks),
                  f"{model_label(config.model)}/{config.train.name or config.train.method}", "llm_scoring", config.train.seed)
    splits = [s for s in config.eval.splits if examples.get(s)]
    scores, choice = label_scores(model, encoder, examples, splits, manifest, folder, config.progress,
                                  questions=asks_questions(config, manifest))
    records = scoring_records(manifest, scores, examples, folder, run, config.out)
    if config.eval.generation:
        for split in scores:
            answers = generate_answers(model, encoder, examples[split], batch_size=config.eval.generation_batch_size,
                                       progress=config.progress, split_items=manifest.task == "multi_label")
            records.append(generation_record(manifest, split, examples[split], answers, folder, run, config.out))
    trained = TrainDone.from_file(RunFolder(model_dir.parent).train_done)
    chosen = trained.choices() | ({"scoring": choice.method} if choice else {})
    for record in records:
        record.choices = chosen | record.choices
    return finish_records(folder, records)


def run_baseline(config: RunConfig, manifest: Manifest, folder: Path) -> list[Record]:
    """The log-mel logistic-regression reference row on the same splits; its per-clip features are cached once per
    dataset (``baseline.LogMelStats``), shared by every fold and run."""
    return cached_records(folder, "baseline", lambda: _baseline_records(config, manifest, folder))


def _baseline_records(config: RunConfig, manifest: Manifest, folder: Path) -> list[Record]:
    cache = TokenCache(config.cache_folder, manifest.dataset, baseline.LogMelStats(), config.codec.max_seconds)
    cache.build(manifest.clips, config.codec.batch_size, config.codec.num_workers, progress=config.progress, all_clips=True,
                stage="baseline")
    features = {clip_id: vector[:, 0].copy() for clip_id, vector in cache.load(c.id for c in manifest.clips)[0].items()}
    by_split = {s: [c for c in manifest.split(s) if c.id in features] for s in manifests.SPLITS}
    train_labels = {c.id: c.labels for c in by_split["train"]}
    scores, examples = {}, {}
    for split in config.eval.splits:
        if by_split.get(split):
            scores[split] = baseline.fit_predict(manifest.task, manifest.classes, {c.id: features[c.id] for c in by_split["train"]},
                                                 train_labels, {c.id: features[c.id] for c in by_split[split]})
            examples[split] = [Example(c.id, "", tuple(sorted(c.labels))) for c in by_split[split]]
    records = scoring_records(manifest, scores, examples, folder, RunName("none", "logmel-logreg", baseline.METHOD), config.out)
    return finish_records(folder, records)
