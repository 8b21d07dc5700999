"""Generated tasks: deterministic for a seed, no recipe shared across splits."""

import csv

import numpy as np
import soundfile as sf

from codec_bench.data import generated

SIZES = {"train": 20, "validation": 6, "test": 6}


def read(folder):
    with open(folder / "metadata.csv") as f:
        return list(csv.DictReader(f))


def test_deterministic_for_seed(tmp_path):
    a = generated.generate("instruments", tmp_path / "a", SIZES, seed=3)
    b = generated.generate("instruments", tmp_path / "b", SIZES, seed=3)
    c = generated.generate("instruments", tmp_path / "c", SIZES, seed=4)
    assert read(a) == read(b)
    wave_a, rate = sf.read(a / read(a)[0]["path"])
    wave_b, _ = sf.read(b / read(b)[0]["path"])
    np.testing.assert_array_equal(wave_a, wave_b)
    assert rate == 16_000 and len(wave_a) == 16_000
    assert read(a) != read(c)


def test_recipes_never_shared_across_splits(tmp_path):
    for task in ("instruments", "mixtures"):
        rows = read(generated.generate(task, tmp_path / task, {"train": 200, "validation": 60, "test": 60}))
        parts = {s: {part for r in rows if r["split"] == s for part in r["recipe"].split("+")} for s in SIZES}
        assert (
            not parts["train"] & parts["test"]
            and not parts["train"] & parts["validation"]
            and not parts["validation"] & parts["test"]
        )


def test_mixtures_hold_one_to_three_sources_and_all_classes(tmp_path):
    rows = read(generated.generate("mixtures", tmp_path, {"train": 60, "validation": 10, "test": 10}))
    counts = [len(r["labels"].split(";")) for r in rows]
    assert min(counts) == 1 and max(counts) == 3
    assert {l for r in rows for l in r["labels"].split(";")} == set(generated.MIXTURE_CLASSES)
    assert (
        len(
            {
                r["label"]
                for r in read(generated.generate("instruments", tmp_path / "i", {"train": 10, "validation": 0, "test": 0}))
            }
        )
        == 10
    )
