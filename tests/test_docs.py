"""The documentation says what the code has: the generated pages are up to date, and every `codec-bench` command and
every repository path the README names exists. (`mkdocs build --strict` in CI checks the site's links.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import typer.main

from codec_bench.cli import app

ROOT = Path(__file__).resolve().parents[1]
TOP_FOLDERS = ("bench/", "codec_bench/", "configs/", "docs/", "tests/", ".ci/")  # a code span starting so is a repo path


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code(text: str) -> list[str]:
    """The code spans and code blocks of Markdown ``text``."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    return blocks + re.findall(r"`([^`\n]+)`", re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S))


def missing_commands(text: str) -> list[str]:
    """The `codec-bench X` (or `-m codec_bench.cli X`) commands named in the code of ``text`` that the typer app
    lacks (prose such as "codec-bench turns audio into tokens" is not a command)."""
    commands = set(typer.main.get_command(app).commands)
    named = re.findall(r"(?:codec-bench|-m codec_bench\.cli) ([a-z][a-z-]*)", "\n".join(_code(text)))
    return sorted({name for name in named if name not in commands})


def missing_paths(text: str, root: Path) -> list[str]:
    """The relative link targets and the repository paths in code (`configs/x.yaml`) named in ``text`` that do not
    exist under ``root``."""
    links = [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text)
             if not re.match(r"[a-z]+:", target) and not target.startswith("#")]
    in_code = [token.rstrip(".,;:)") for span in _code(text) for token in re.split(r"[\s\"'=(]+", span)
               if token.startswith(TOP_FOLDERS)]
    return sorted({path for path in links + in_code if path and not (root / path).exists()})


def test_generated_pages_are_up_to_date():
    stale = _generator().stale_pages()
    assert not stale, f"{', '.join(stale)} out of date: run `python docs/gen_reference.py`"


def test_generated_cli_page_lists_every_command_and_option():
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    for name, command in typer.main.get_command(app).commands.items():
        assert f"## codec-bench {name}" in page
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--"):
                    assert f"`{flag}`" in page, f"{name}: {flag} missing from docs/reference/cli.md"


def test_readme_names_only_commands_and_paths_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 130
    assert missing_commands(readme) == []
    assert missing_paths(readme, ROOT) == []
    assert "pip install torch==2.13.0 && pip install -e \".[test]\" && python -m pytest" in readme  # what .ci/run runs


def test_the_readme_checks_catch_what_is_missing():
    text = ("codec-bench turns audio into tokens. Run `codec-bench demo`, then `codec-bench evaluate x`; see "
            "[the docs](docs/nowhere.md#x), [site](https://example.org) and `configs/arch.yaml`, `configs/missing.yaml`.\n"
            "```bash\ncodec-bench benchmark configs/gone.yaml --out runs/x\n```\n")
    assert missing_commands(text) == ["evaluate"]
    assert missing_paths(text, ROOT) == ["configs/gone.yaml", "configs/missing.yaml", "docs/nowhere.md"]
