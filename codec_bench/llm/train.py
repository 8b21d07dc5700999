"""The fine-tuning recipe on ``transformers.Trainer``: the model prepared (LoRA or full, gradient checkpointing),
the Trainer built from the parts of this package, trained (resumed from the newest complete checkpoint), saved and
marked done.

The parts: the answer-only, shifted next-token loss on logits at the answer positions only (``loss``), left-padded
batches built on the fly and the label questions' tree (``batches``), the training log, model selection and early
stopping (``callbacks``), and the checkpoints a resume can start from (``checkpoints``).

Everything else is the Trainer's: seeding, AdamW with warm-up and cosine decay, length-grouped sampling,
gradient accumulation, bf16, gradient checkpointing, checkpoints and ``resume``, accelerate / DDP / FSDP /
DeepSpeed through ``accelerate launch``.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import torch
from transformers import PrinterCallback, Trainer, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..config import TrainConfig
from ..core import ui
from ..core.errors import CodecBenchError
from ..core.finished import files_in, mark_done, rebuild, reusable
from ..core.parallel import is_main_process, usable_workers, world_size
from ..formats.layout import TRAIN_DONE
from ..prompts import Example
from .batches import LeftPadCollator, PromptDataset
from .callbacks import SELECTED, Selection, TrainLog, whole_run_loss
from .checkpoints import checkpoint_step, complete_checkpoints
from .encoder import PromptEncoder
from .loss import answer_span, shifted_answer_loss
from .model import additive_mask, apply_lora, parameter_count
from .tracking import trainer_settings


class AnswerOnlyTrainer(Trainer):
    """Trainer whose loss is :func:`shifted_answer_loss` on logits computed only where the answer is."""

    def _get_train_sampler(self, train_dataset=None):
        """Length-grouped batches from the dataset's own lengths (a :class:`PromptDataset` knows them without
        building every example, which the Trainer's default would do)."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "lengths"):
            batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return LengthGroupedSampler(batch, lengths=dataset.lengths())
        return super()._get_train_sampler(train_dataset)

    def _inner_training_loop(self, *args, **kwargs):
        """On a CPU the loop's opening ``accelerator.free_memory()`` keeps its resets but skips its full
        ``gc.collect()``: there is no device cache to empty, and in a process holding many objects (a test session,
        a notebook) each collection took 0.4-1 s, longer than a tiny training (docs/speed.md)."""
        if self.accelerator.device.type == "cpu":
            self.accelerator.free_memory = functools.partial(_without_collecting, self.accelerator.free_memory)
        return super()._inner_training_loop(*args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        if "audio_features" in inputs:  # continuous features: projected into the input embeddings
            from .projector import embed_with_audio

            ids, audio, where = inputs.pop("input_ids"), inputs.pop("audio_features"), inputs.pop("audio_positions")
            inputs["inputs_embeds"] = embed_with_audio(self.accelerator.unwrap_model(model), ids, audio, where)
        if inputs["attention_mask"].dim() == 4:  # a tree (label questions): the additive mask in the model's dtype
            dtype = getattr(self.accelerator.unwrap_model(model), "dtype", torch.float32)
            inputs["attention_mask"] = additive_mask(inputs["attention_mask"], dtype)
        outputs = model(**inputs, logits_to_keep=answer_span(labels), use_cache=False)
        loss = shifted_answer_loss(outputs.logits, labels, num_items_in_batch)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss


def _without_collecting(free_memory: Callable, *objects):
    with _no_gc_collect():
        return free_memory(*objects)


@contextmanager
def _no_gc_collect():
    collect = gc.collect
    gc.collect = lambda generation=2: 0
    try:
        yield
    finally:
        gc.collect = collect


def train(model, tokenizer, encoder: PromptEncoder, train_examples: Sequence[Example], validation_examples: Sequence[Example],
          run_dir: str | Path, config: TrainConfig, trainable_tokens: dict | None = None,
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
    ``report_to``/``run_name``: experiment tracking (``llm.tracking``; TensorBoard under ``run_dir/tensorboard``).
    """
    run_dir = Path(run_dir)
    final = run_dir / "model"
    if reusable(final / TRAIN_DONE, "trained model", final):
        return final
    rebuild(final)  # a model folder without a valid marker is rewritten from the newest checkpoint
    model = _prepare_model(model, config, trainable_tokens)
    train_set, val_set = PromptDataset(train_examples, encoder), PromptDataset(validation_examples, encoder)
    start = time.time()
    with ui.stage("train", unit="steps") as bar:
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
                  resumed_from_step=checkpoint_step(checkpoints[-1]) if checkpoints else None, **selection.summary(trainer.state))
    return final


def _prepare_model(model, config: TrainConfig, trainable_tokens: dict | None):
    """LoRA adapters (or the model itself for full fine-tuning) and gradient checkpointing."""
    if config.method == "lora":
        model = apply_lora(model, config.lora_rank, config.lora_alpha, trainable_tokens=trainable_tokens)
        if trainable_tokens:  # the adapter holds the added rows; peft would otherwise save whole resized matrices
            model.save_pretrained = functools.partial(model.save_pretrained, save_embedding_layers=False)
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
