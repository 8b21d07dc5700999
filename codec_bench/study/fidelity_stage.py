"""The fidelity stage of a fold (``--fidelity``): decode the cached codes of a seeded sample of the test clips and
score the audio against the input, at the codec's sample rate; written to ``OUT/<name>/fidelity__<codec>/``
(``formats.fidelity``), shared by every model and recipe of the codec (built once, under a lock).

The sample: ``fidelity_clips`` test clips (one per audio file), drawn without replacement by a generator seeded by
the fold's name, so every codec is scored on the same clips. The reference is the clip's audio as the codec read
it (resampled to its rate, cut to ``max_seconds``); the decoded audio is cut to its length. Batches of
``--codec-batch-size`` clips sorted by length; each finished batch is appended to ``clips.partial.jsonl``, so a
stopped stage resumes after its last batch. A codec that cannot decode gets a summary that says why, no numbers.
"""

from __future__ import annotations

import time
import zlib

import numpy as np

from ..codecs.clip_audio import unique_audio
from ..core import io, ui
from ..core.errors import AudioError
from ..core.finished import mark_done, reusable
from ..core.parallel import build_lock
from ..data.audio import load_audio
from ..data.manifest import Clip
from ..evaluation import fidelity
from ..formats import FidelityClip, FidelityFolder, FidelitySummary
from .fold import FoldContext

SAMPLE_SEED = 0


def score_fidelity(fold: FoldContext) -> FidelitySummary | None:
    """The codec's fidelity on the fold's test sample (None unless ``--fidelity``); reused when already finished."""
    if not fold.config.fidelity:
        return None
    folder = FidelityFolder.of(fold.config.out, fold.manifest.name, fold.codec_name)
    with build_lock(folder.path, "fidelity"):
        if reusable(folder.done, "fidelity", folder.path):
            return FidelitySummary.from_file(folder.summary)
        summary = _score(fold, folder)
    ui.say(summary_line(summary))
    return summary


def summary_line(summary: FidelitySummary) -> str:
    """One line: the codec's fidelity, or why it has none."""
    if not summary.decodable:
        return f"fidelity: {summary.codec} is not decodable ({summary.note})"
    values = ", ".join(f"{name} {value['mean']:.3g}" for name, value in summary.metrics.items() if value["n"])
    return f"fidelity: {summary.codec} on {summary.clips} test clips: {values or summary.note}"


def sample_clips(clips: list[Clip], count: int, name: str) -> list[Clip]:
    """``count`` of ``clips`` (one per audio file) drawn without replacement, seeded by ``name``, in their order."""
    unique, _ = unique_audio(clips)
    if len(unique) <= count:
        return unique
    generator = np.random.default_rng([SAMPLE_SEED, zlib.crc32(name.encode())])
    return [unique[i] for i in sorted(generator.choice(len(unique), size=count, replace=False))]


def _summary(fold: FoldContext, **values) -> FidelitySummary:
    codec, manifest = fold.codec, fold.manifest
    return FidelitySummary(dataset=manifest.dataset, fold=manifest.fold, domain=manifest.domain, codec=fold.codec_name,
                           codec_name=codec.name, codec_key=codec.cache_key(), sample_rate_hz=int(codec.sample_rate_hz),
                           bitrate_bps=codec.bitrate_bps, device=str(getattr(codec, "device", "cpu")), **values)


def _score(fold: FoldContext, folder: FidelityFolder) -> FidelitySummary:
    codec, manifest = fold.codec, fold.manifest
    if not codec.can_decode:
        summary = _summary(fold, decodable=False, note=codec.decode_note)
        return _finish(folder, summary, [])
    names = fidelity.metrics_for(manifest.domain == "speech")
    test = [c for c in manifest.split("test") if c.id in fold.codes]
    sample = sample_clips(test, fold.config.fidelity_clips, manifest.name)
    done = {row.id: row for row in folder.read_partial()}
    todo = sorted((c for c in sample if c.id not in done), key=lambda c: fold.codes.frames(c.id))
    batch_size = fold.config.codec.batch_size
    with ui.stage("fidelity", total=len(sample), unit="clips") as progress:
        progress.advance(len(sample) - len(todo))
        for start in range(0, len(todo), batch_size):
            batch = todo[start: start + batch_size]
            rows = _score_batch(fold, batch, names)
            folder.append_partial(rows)
            done |= {row.id: row for row in rows}
            progress.advance(len(batch))
    rows = [done[c.id] for c in sample if c.id in done]
    values = {name: [row.metrics.get(name, np.nan) for row in rows] for name in names}
    skipped = len(sample) - len(rows)
    note = "" if names else "no metric available"
    note += f"; {skipped} clips could not be read" if skipped else ""
    summary = _summary(fold, decodable=True, note=note.strip("; "), metrics=fidelity.summarise(values, manifest.name),
                       clips=len(rows), decode_seconds=sum(r.decode_seconds for r in rows),
                       audio_seconds=sum(r.seconds for r in rows))
    return _finish(folder, summary, rows)


def _score_batch(fold: FoldContext, batch: list[Clip], names: list[str]) -> list[FidelityClip]:
    """Decode one batch (timed) and score each clip that can be read against its input."""
    codec, max_seconds = fold.codec, fold.config.codec.max_seconds
    references = {}
    for clip in batch:
        try:
            references[clip.id] = load_audio(clip.path, codec.sample_rate_hz, max_seconds)
        except AudioError:
            continue
    clips = [c for c in batch if c.id in references]
    if not clips:
        return []
    start = time.perf_counter()
    decoded = codec.decode([fold.codes[c.id] for c in clips])
    share = (time.perf_counter() - start) / len(clips)
    rows = []
    for clip, wave in zip(clips, decoded):
        reference = references[clip.id]
        scores = fidelity.score_clip(reference, wave, codec.sample_rate_hz, names)
        rows.append(FidelityClip(clip.id, reference.size / codec.sample_rate_hz, share, scores))
    return rows


def _finish(folder: FidelityFolder, summary: FidelitySummary, rows: list[FidelityClip]) -> FidelitySummary:
    """Write ``clips.jsonl`` and ``fidelity.json``, drop the partial rows, mark the folder done."""
    io.write_jsonl(folder.clips, (row.to_json() for row in rows))
    summary.to_file(folder.summary)
    folder.partial.unlink(missing_ok=True)
    mark_done(folder.done, [folder.clips, folder.summary], codec=summary.codec, clips=summary.clips)
    return summary
