"""The package's layers hold: cli > study | testing > report > evaluation > llm > config > prompts | codecs >
data | loading > core, with no upward import and no cycle between the modules of a package (the import-linter
contracts in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept(monkeypatch):
    cli = pytest.importorskip("importlinter.cli")
    monkeypatch.chdir(ROOT)
    assert cli.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0  # 0: every contract kept


def test_lines_within_the_declared_length_and_imports_sorted():
    """``line-length`` in pyproject.toml is enforced, not only declared (ruff's E501), and imports stay sorted (I)."""
    import subprocess
    import sys

    pytest.importorskip("ruff")
    found = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "E501,I", "--output-format", "concise",
                            "codec_bench", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 0, found.stdout[-3000:]


def test_a_codec_is_one_file_and_one_registry_line():
    """Every registered codec is a class in a module of its own under codecs/."""
    from codec_bench.codecs import CODECS

    modules = [cls.__module__ for cls in CODECS.values()]
    assert len(set(modules)) == len(CODECS) and all(m.startswith("codec_bench.codecs.") for m in modules)
