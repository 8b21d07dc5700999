"""Fine-tuning on ``transformers.Trainer`` with the answer-only, shifted next-token loss.

Batches are left-padded, so every answer ends at the last position of its row. The model is then asked for
logits at the last ``k`` positions only (``logits_to_keep=k``, k = longest answer + 1): the full-vocabulary
projection (a quarter of Llasa-1B's weights) runs on a handful of rows instead of every position. The loss is the
cross-entropy of the logits at position t against the token at t + 1, on answer tokens only. Position ids follow
the real tokens, so left padding changes nothing.

Everything else is the Trainer's: seeding, AdamW with warm-up and cosine decay, length-grouped sampling,
gradient accumulation, bf16, gradient checkpointing, checkpoints and ``resume``, accelerate / DDP / FSDP /
DeepSpeed through ``accelerate launch``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..config import TrainConfig
from ..core import io, ui
from ..core.errors import CodecBenchError
from ..core.finished import files_in, mark_done, rebuild, reusable
from ..core.parallel import is_main_process, usable_workers, world_size
from ..core.tracking import trainer_settings
from ..formats.layout import TRAIN_DONE
from ..prompts import Example
from .encoder import PromptEncoder
from .model import additive_mask, apply_lora, parameter_count

IGNORE = -100


def shifted_answer_loss(logits: torch.Tensor, labels: torch.Tensor, num_items: int | torch.Tensor | None = None) -> torch.Tensor:
    """Next-token loss over answer tokens.

    ``logits: (batch, k, vocab)`` are the model's outputs at the last ``k`` positions; ``labels: (batch, time)``
    hold the answer ids and -100 elsewhere. The logit at position t is scored against the label at t + 1, so a
    model that copies its current input token gets no credit. Returns the mean over answer tokens, or the sum
    over ``num_items`` (Trainer's count across gradient-accumulation steps).
    """
    k = logits.shape[1]
    targets = labels[:, labels.shape[1] - k + 1:]  # label at t + 1 for each kept position t except the last
    flat_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    loss = F.cross_entropy(flat_logits, targets.reshape(-1), ignore_index=IGNORE, reduction="sum")
    count = num_items if num_items is not None else (targets != IGNORE).sum().clamp(min=1)
    return loss / count


def answer_span(labels: torch.Tensor) -> int:
    """Positions to keep logits for: from the one before the earliest answer token to the end."""
    is_answer = labels != IGNORE
    first = torch.where(is_answer.any(1), is_answer.int().argmax(1), labels.shape[1]).min()
    return int(labels.shape[1] - first + 1)


class LeftPadCollator:
    """Left-pad ``input_ids``/``labels`` and add ``attention_mask`` and ``position_ids`` for real tokens."""

    def __init__(self, pad_id: int, pad_to_multiple_of: int = 1):
        self.pad_id = pad_id
        self.multiple = pad_to_multiple_of  # fewer distinct shapes: GPU kernels are picked once per shape

    def __call__(self, features: Sequence[dict]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        length = -(-length // self.multiple) * self.multiple
        ids = torch.full((len(features), length), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), length), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(features), length), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            ids[row, length - n:] = torch.tensor(f["input_ids"])
            labels[row, length - n:] = torch.tensor(f["labels"])
            mask[row, length - n:] = 1
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        batch = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "labels": labels}
        if "branch" in features[0]:  # label questions: a tree after the prompt
            batch["attention_mask"], batch["position_ids"] = tree_inputs(features, length)
        if "audio" in features[0]:
            batch.update(self._audio(features, length))
        return batch

    @staticmethod
    def _audio(features: Sequence[dict], length: int) -> dict[str, torch.Tensor]:
        """Continuous features: ``audio_features: (batch, frames, dim)`` (float frames, or int64 speech-token ids of
        summed codebooks; zero-padded after each row's frames) and
        ``audio_positions: (batch, time) bool``, where they go in the left-padded rows."""
        frames = max(len(f["audio"]) for f in features)
        dtype = np.float32 if np.issubdtype(features[0]["audio"].dtype, np.floating) else np.int64
        audio = torch.from_numpy(np.zeros((len(features), frames, features[0]["audio"].shape[1]), dtype))
        where = torch.zeros((len(features), length), dtype=torch.bool)
        for row, f in enumerate(features):
            start = length - len(f["input_ids"]) + f["audio_start"]
            audio[row, : len(f["audio"])] = torch.from_numpy(np.array(f["audio"], dtype=dtype))
            where[row, start: start + len(f["audio"])] = True
        return {"audio_features": audio, "audio_positions": where}


PAD_BRANCH = -2


def tree_inputs(features: Sequence[dict], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(attention_mask (batch, 1, length, length) bool, position_ids (batch, length))`` for left-padded rows whose
    ``branch`` marks the prompt (-1), the answer (0) and label questions (1, 2, ...): a token sees the earlier
    tokens of the prompt and of its own branch; every branch's positions restart after the prompt (a padding
    position sees itself only, so no row of the mask is empty)."""
    branch = torch.full((len(features), length), PAD_BRANCH, dtype=torch.long)
    for row, f in enumerate(features):
        branch[row, length - len(f["branch"]):] = torch.tensor(f["branch"])
    order = torch.arange(length)
    causal = order[None, :] <= order[:, None]
    same = (branch[:, None, :] == -1) | (branch[:, None, :] == branch[:, :, None])  # (batch, query, key)
    allowed = causal[None] & same & (branch[:, None, :] != PAD_BRANCH)
    allowed |= torch.eye(length, dtype=torch.bool)[None] & (branch == PAD_BRANCH)[:, :, None]
    prompt = (branch == -1).sum(1, keepdim=True)
    member = F.one_hot(branch - PAD_BRANCH)  # (batch, length, branches): the index of each token within its branch
    within = (member.cumsum(1) * member).sum(-1) - 1
    positions = torch.where(branch == -1, within, torch.where(branch == PAD_BRANCH, 0, prompt + within))
    return allowed[:, None], positions


class AnswerOnlyTrainer(Trainer):
    """Trainer whose loss is :func:`shifted_answer_loss` on logits computed only where the answer is."""

    def _get_train_sampler(self, train_dataset=None):
        """Length-grouped batches from the dataset's own lengths (a :class:`PromptDataset` knows them without
        building every example, which the Trainer's default would do)."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "lengths"):
            return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps, lengths=dataset.lengths())
        return super()._get_train_sampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        if "audio_features" in inputs:  # continuous features: projected into the input embeddings
            from .projector import embed_with_audio

            ids, audio, where = inputs.pop("input_ids"), inputs.pop("audio_features"), inputs.pop("audio_positions")
            inputs["inputs_embeds"] = embed_with_audio(self.accelerator.unwrap_model(model), ids, audio, where)
        if inputs["attention_mask"].dim() == 4:  # a tree (label questions): the additive mask in the model's dtype
            inputs["attention_mask"] = additive_mask(inputs["attention_mask"], getattr(self.accelerator.unwrap_model(model), "dtype", torch.float32))
        outputs = model(**inputs, logits_to_keep=answer_span(labels), use_cache=False)
        loss = shifted_answer_loss(outputs.logits, labels, num_items_in_batch)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss


class PromptDataset(torch.utils.data.Dataset):
    """Training features built on the fly: ``examples`` (a lazy prompts file) read one at a time and filled with
    their audio by ``encoder`` (which reads the token cache lazily). Nothing of the corpus is held in memory but
    the file offsets and the lengths the length-grouped sampler needs (computed without reading any audio)."""

    def __init__(self, examples: Sequence[Example], encoder: PromptEncoder):
        self.examples, self.encoder = examples, encoder

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        return self.encoder.training_features(self.examples[index])

    def lengths(self) -> list[int]:
        """``len(self[i]["input_ids"])`` for every ``i``."""
        return [self.encoder.length(e) for e in self.examples]


def train(model, tokenizer, encoder: PromptEncoder, train_examples: Sequence[Example], validation_examples: Sequence[Example],
          run_dir: str | Path, config: TrainConfig, progress: bool = True, trainable_tokens: dict | None = None,
          report_to: str = "none", run_name: str | None = None,
          task_metric: Callable[[torch.nn.Module], float] | None = None) -> Path:
    """Fine-tune ``model`` on the examples; returns ``run_dir/model`` (weights or LoRA adapter, safetensors).

    Resumes from the newest complete checkpoint in ``run_dir/checkpoints``; a finished run (``train_done.json``)
    is not trained again. After every epoch the validation loss is computed, and with ``config.select_by ==
    "metric"`` also ``task_metric(model)`` (higher is better: the caller's label-scoring accuracy or micro-F1);
    the checkpoint best by the chosen one is kept, training stops after ``config.patience`` epochs without a better
    one, and ``train_done.json`` records every epoch's figures, the winning epoch and whether training stopped
    early (``Selection``). The Trainer's log records go to
    ``run_dir/train_log.jsonl`` (the console shows one progress line with the loss). ``trainable_tokens`` (LoRA
    only): peft ``trainable_token_indices`` for embedding rows added to the vocabulary (see ``vocab``).
    ``report_to``/``run_name``: experiment tracking (``core.tracking``; TensorBoard under ``run_dir/tensorboard``).
    """
    run_dir = Path(run_dir)
    final = run_dir / "model"
    if reusable(final / TRAIN_DONE, "trained model", final):
        return final
    rebuild(final)  # a model folder without a valid marker is rewritten from the newest checkpoint
    model = _prepare_model(model, config, trainable_tokens)
    train_set, val_set = PromptDataset(train_examples, encoder), PromptDataset(validation_examples, encoder)
    start = time.time()
    with ui.stage("train", unit="steps", show=progress) as bar:
        integrations, tracking = trainer_settings(report_to if is_main_process() else "none", run_dir / "tensorboard")
        args = _training_arguments(run_dir / "checkpoints", config, len(train_set), len(val_set) > 0, integrations, run_name)
        log = TrainLog(run_dir / "train_log.jsonl", bar)
        if config.select_by == "metric" and task_metric is None and len(val_set):
            raise CodecBenchError("select_by: metric needs a task metric to compute on the validation split")
        selection = Selection(config.select_by, config.patience, task_metric if config.select_by == "metric" else None, log)
        trainer = AnswerOnlyTrainer(
            model=model, args=args, train_dataset=train_set, eval_dataset=val_set if len(val_set) else None,
            data_collator=LeftPadCollator(encoder.pad_id, 64 if torch.cuda.is_available() else 1), processing_class=tokenizer,
            callbacks=[log, selection, *tracking],
        )
        trainer.remove_callback(PrinterCallback)  # per-step dicts go to train_log.jsonl, not the console
        if hasattr(model, "audio_projector") and _fsdp(trainer):
            raise CodecBenchError("continuous features are projected outside the wrapped forward, which FSDP shards; "
                                  "train this run on one GPU or with DDP (configs/accelerate/ddp.yaml or deepspeed_zero2.yaml)")
        checkpoints = complete_checkpoints(run_dir / "checkpoints")
        result = _fit(trainer, checkpoints, run_dir)
    _save(trainer, model, final)
    if is_main_process():  # rank 0 saved the model and writes the marker
        trainable, total = parameter_count(model)
        mark_done(final / TRAIN_DONE, files_in(final, skip=(TRAIN_DONE,)),
                  config=asdict(config), train_loss=whole_run_loss(trainer.state.log_history), steps=result.global_step,
                  seconds=time.time() - start, trainable_parameters=trainable, parameters=total,
                  train_examples=len(train_set), validation_examples=len(val_set),
                  resumed_from_step=_step(checkpoints[-1]) if checkpoints else None, **selection.summary(trainer.state))
    return final


def _prepare_model(model, config: TrainConfig, trainable_tokens: dict | None):
    """LoRA adapters (or the model itself for full fine-tuning) and gradient checkpointing."""
    if config.method == "lora":
        model = apply_lora(model, config.lora_rank, config.lora_alpha, trainable_tokens=trainable_tokens)
        if trainable_tokens:  # the adapter holds the added rows; peft would otherwise save whole resized matrices
            model.save_pretrained = functools.partial(model.save_pretrained, save_embedding_layers=False)
    elif config.method != "full":
        raise CodecBenchError(f"unknown training method {config.method!r}; choose full or lora")
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        if config.method == "lora":
            model.enable_input_require_grads()
    return model


def _fit(trainer: Trainer, checkpoints: list[Path], run_dir: Path):
    try:
        return trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
    except torch.cuda.OutOfMemoryError as err:
        raise CodecBenchError(
            f"CUDA out of memory while training in {run_dir}; lower --batch-size (and raise --grad-accum), "
            "or add --gradient-checkpointing"
        ) from err


def _save(trainer: Trainer, model, final: Path) -> None:
    """The trained weights (or adapter) into ``final``; a continuous front-end's projector in a file of its own."""
    fsdp = getattr(trainer.accelerator.state, "fsdp_plugin", None)
    if fsdp is not None:  # sharded checkpoints while training; one full set of weights at the end
        fsdp.set_state_dict_type("FULL_STATE_DICT")
    if hasattr(model, "audio_projector"):
        from .projector import save_projector, without_projector

        if is_main_process():
            save_projector(model, final)
        with without_projector(model):
            trainer.save_model(str(final))
    else:
        trainer.save_model(str(final))


def whole_run_loss(log_history: list[dict]) -> float | None:
    """Mean training loss over every step of the run, resumed sessions included (the Trainer's own figure covers
    the last session only). Steps are logged one by one and the log is restored with each checkpoint."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return float(np.mean(losses)) if losses else None


class TrainLog(TrainerCallback):
    """Training progress on the console (a bar over the steps with the loss and the validation loss) and every log
    record appended to ``train_log.jsonl`` (shown on the console only with ``--verbose``)."""

    def __init__(self, path: Path, bar: ui.StageBar):
        self.path, self.bar, self.latest = Path(path), bar, {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar.total(state.max_steps)
        self.bar.advance(state.global_step)  # a resumed run starts part of the way

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.advance()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self.write(state, logs)

    def write(self, state, logs: dict) -> None:
        """Append one record (rank 0) and update the progress line."""
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": state.global_step, **logs}) + "\n")
        names = (("loss", "loss"), ("eval_loss", "val"), ("eval_task_metric", "val metric"))
        self.latest |= {name: f"{logs[key]:.3f}" for key, name in names if key in logs}
        self.bar.show(**self.latest)
        ui.say(json.dumps({"step": state.global_step, **logs}), ui.VERBOSE)


SELECTED = {"loss": "loss", "metric": "selection"}  # TrainConfig.select_by -> the Trainer's metric name
TIE_BREAK = 1e-6  # eval_selection = metric - TIE_BREAK * loss: equal metrics go to the lower validation loss


class Selection(TrainerCallback):
    """Model selection and early stopping on the validation loss or a task metric.

    After every evaluation: with ``task_metric``, its value on the model (in eval mode) goes into the Trainer's
    metrics as ``eval_task_metric`` and into the log, and ``eval_selection`` (the metric, ties broken by the lower
    validation loss: with ~100 validation clips equal accuracies are common) is what ``metric_for_best_model``
    names; the epochs since the best are counted, and training stops after ``patience`` of them. Every epoch's
    figures live in the Trainer's log history, so a resumed run keeps counting where it was."""

    def __init__(self, select_by: str, patience: int | None, task_metric: Callable | None, log: TrainLog):
        self.select_by, self.patience, self.task_metric, self.log = select_by, patience, task_metric, log
        self.stopped_early = False

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        if self.task_metric is not None and metrics is not None:
            was_training = model.training
            model.eval()
            with torch.inference_mode():
                value = float(self.task_metric(model))
            model.train(was_training)
            metrics["eval_task_metric"] = value
            metrics["eval_selection"] = value - TIE_BREAK * metrics.get("eval_loss", 0.0)
            entry = {"epoch": state.epoch, "step": state.global_step, "eval_task_metric": value}
            state.log_history.append(entry)  # saved with every checkpoint: a resumed run knows its history
            self.log.write(state, entry)
        epochs = self.epochs(state.log_history)
        best = self.best_index(epochs)
        if self.patience is not None and best is not None and len(epochs) - 1 - best >= self.patience:
            control.should_training_stop = self.stopped_early = True
            ui.say(f"stopping early: no better validation {self.select_by} for {self.patience} epochs (best: epoch "
                   f"{epochs[best]['epoch']:.0f})", ui.VERBOSE)
        return control

    def epochs(self, history: list[dict]) -> list[dict]:
        """One ``{"epoch", "step", "loss", "metric"}`` per evaluation, in order (metric None when not computed)."""
        rows: dict[int, dict] = {}
        for entry in history:
            if "eval_loss" in entry or "eval_task_metric" in entry:
                row = rows.setdefault(entry["step"], {"epoch": entry.get("epoch"), "step": entry["step"], "loss": None, "metric": None})
                row["loss"] = entry.get("eval_loss", row["loss"])
                row["metric"] = entry.get("eval_task_metric", row["metric"])
        return list(rows.values())

    def best_index(self, epochs: list[dict]) -> int | None:
        key = "metric" if self.select_by == "metric" else "loss"
        values = [(e[key], i) for i, e in enumerate(epochs) if e[key] is not None]
        if not values:
            return None
        if key == "loss":
            return min(values)[1]  # ties: the earlier epoch
        loss = {i: epochs[i]["loss"] if epochs[i]["loss"] is not None else float("inf") for _, i in values}
        return max(values, key=lambda v: (v[0], -loss[v[1]], -v[1]))[1]  # ties: the lower loss, then the earlier epoch

    def summary(self, state) -> dict:
        """What train_done.json records about selection."""
        epochs = self.epochs(state.log_history)
        best = self.best_index(epochs)
        return {"selected_by": self.select_by, "patience": self.patience, "stopped_early": self.stopped_early,
                "best_epoch": epochs[best]["epoch"] if best is not None else None,
                "best_validation_loss": epochs[best]["loss"] if best is not None else None,
                "best_validation_metric": epochs[best]["metric"] if best is not None else None,
                "validation": epochs}


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")


def complete_checkpoints(folder: Path) -> list[Path]:
    """The Trainer checkpoints a resume can start from, oldest first. One killed while being saved (no readable
    ``trainer_state.json``, which the Trainer writes last, or no weights) is skipped, and rank 0 moves it aside to
    ``folder/incomplete/`` with a message, so it is neither resumed from nor counted by checkpoint rotation."""
    complete = []
    for checkpoint in sorted(Path(folder).glob("checkpoint-*"), key=_step):
        if _is_complete(checkpoint):
            complete.append(checkpoint)
        elif is_main_process():
            aside = Path(folder) / "incomplete" / f"{checkpoint.name}-{int(time.time())}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.rename(aside)
            ui.warn(f"{checkpoint}: incomplete (killed while it was saved); moved to {aside}; resuming from the newest "
                    "complete checkpoint")
    return complete


def _is_complete(checkpoint: Path) -> bool:
    try:
        state = io.read_json(checkpoint / "trainer_state.json")
    except (OSError, ValueError):
        return False
    sharded = any(checkpoint.glob("pytorch_model_fsdp_*")) or any(checkpoint.glob("global_step*"))  # FSDP / DeepSpeed
    return isinstance(state, dict) and "global_step" in state and (sharded or any((checkpoint / f).is_file() for f in WEIGHT_FILES))


def _step(checkpoint: Path) -> int:
    """The global step of a ``checkpoint-<step>`` folder."""
    try:
        return int(checkpoint.name.split("-")[-1])
    except ValueError:
        return -1


def _fsdp(trainer: Trainer) -> bool:
    """Whether this run is sharded with FSDP: ``accelerate launch`` with an FSDP config (it sets
    ``ACCELERATE_USE_FSDP``), ``TrainingArguments.fsdp``, or an FSDP plugin in the accelerator state."""
    return (os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true" or bool(trainer.args.fsdp)
            or getattr(trainer.accelerator.state, "fsdp_plugin", None) is not None)


def _training_arguments(out: Path, config: TrainConfig, n_train: int, has_validation: bool, report_to: list[str] = (),
                        run_name: str | None = None) -> TrainingArguments:
    global_batch = config.batch_size * config.grad_accum * world_size()  # several processes: each takes a share
    steps_per_epoch = max(1, math.ceil(n_train / global_batch))
    strategy = "epoch" if has_validation else "no"
    return TrainingArguments(
        output_dir=str(out), num_train_epochs=config.epochs, max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate,
        weight_decay=config.weight_decay, warmup_steps=max(1, int(config.warmup_ratio * steps_per_epoch * config.epochs)),
        lr_scheduler_type="cosine", seed=config.seed, data_seed=config.seed, bf16=config.bf16,
        eval_strategy=strategy, save_strategy="epoch" if has_validation else "steps", save_steps=steps_per_epoch,
        save_total_limit=2, load_best_model_at_end=has_validation, greater_is_better=config.select_by == "metric",
        metric_for_best_model=f"eval_{SELECTED[config.select_by]}",
        prediction_loss_only=True, logging_steps=1,  # every step's loss: train_log.jsonl, whole-run mean
        report_to=list(report_to) or "none", run_name=run_name,
        disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=usable_workers(config.num_workers),
        train_sampling_strategy="group_by_length", use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False,  # every parameter takes part in each step (logits_to_keep keeps lm_head)
    )
