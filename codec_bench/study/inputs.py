"""Everything about a run that can be checked without a model, before torch is imported: the stage, the codec and
its options, model folders, the corpus and its metadata (read into the folds' manifests, returned for the run)."""

from __future__ import annotations

from .. import data
from ..codecs import check_codec
from ..config import EMBEDDED_MODEL, RunConfig
from ..core.errors import CodecBenchError
from ..data.manifest import Manifest
from ..llm.tracking import check_tracker
from ..loading import check_reference

STAGES = ("encode", "train", "all")


def check_run(config: RunConfig, stage: str = "all") -> list[Manifest]:
    """One-line errors for a bad stage, codec, option or model folder, or a corpus that does not read; returns
    the manifests of the folds to run."""
    if stage not in STAGES:
        raise CodecBenchError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    check_codec(config.codec.name, config.codec.options)
    if config.model.name != EMBEDDED_MODEL:
        check_reference(config.model.name, "--model")
    if "model_id" in config.codec.options:
        check_reference(config.codec.options["model_id"], "--codec-model")
    check_tracker(config.report_to)
    if config.train.mix < 0 or config.train.shift < 0:
        raise CodecBenchError(f"--mix {config.train.mix:g} / --shift {config.train.shift:g}: give 0 or more extra clips per training clip")
    manifests = data.load_manifests(config.dataset, config.root, config.protocol, config.folds, config.source,
                                    config.dataset_options, config.out)
    if config.train.mix and manifests and manifests[0].task != "multi_label":
        raise CodecBenchError(f"--mix {config.train.mix:g}: mixtures unite labels, which only multi-label datasets allow "
                              f"({config.dataset} is {manifests[0].task}); use --shift for time-shifted copies")
    return manifests
