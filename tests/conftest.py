"""Shared tiny fixtures: everything offline, built by the tests themselves."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One torch thread, here and in the commands the tests start (they inherit the environment): the tiny models' matrices
# gain nothing from a second thread, which waits for a busy core when other work runs (docs/speed.md: 2.1x slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

TINY_LM = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1}
CORPUS = ["Which sound is this? Answer with its name.", "dog bark, cat, siren", "dog bark", "cat", "siren"]


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> Path:
    """A tiny random Llama + tokenizer with Llasa's token strings and 16 speech tokens."""
    from codec_bench.llm.model import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-lm"), 16, CORPUS, seed=0, text_vocab_size=300, sizes=TINY_LM)


@pytest.fixture(scope="session")
def tiny_lm(tiny_lm_dir):
    from codec_bench.llm.model import load_llm

    model, tokenizer = load_llm(str(tiny_lm_dir), "float32")
    return model.eval(), tokenizer


def write_wave(
    path: Path, seconds: float = 0.3, rate: int = 16_000, channels: int = 1, freq: float = 440.0, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    data = np.stack([wave] * channels, 1) if channels > 1 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data.astype(np.float32), rate)
    return path


def write_csv_folder(root: Path, n: int = 24, labels: tuple[str, str] = ("dog bark", "siren")) -> Path:
    """A single-label CSV corpus (``metadata.csv`` of path,label,split): two classes alternating, 12 training, 6
    validation and 6 test clips for n = 24; a label's folder is its name with ``_`` for spaces."""
    rows = ["path,label,split"]
    for i in range(n):
        label = labels[i % 2]
        split = ["train", "train", "train", "train", "validation", "test"][(i // 2) % 6]
        folder = label.replace(" ", "_")
        rows.append(f"{folder}/{i}.wav,{label},{split}")
        write_wave(root / folder / f"{i}.wav", seconds=0.3, freq=300 if label == labels[1] else 900, seed=i)
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root
