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


def test_a_codec_is_one_file_and_one_registry_line():
    """Every registered codec is a class in a module of its own under codecs/."""
    from codec_bench.codecs import CODECS

    modules = [cls.__module__ for cls in CODECS.values()]
    assert len(set(modules)) == len(CODECS) and all(m.startswith("codec_bench.codecs.") for m in modules)
