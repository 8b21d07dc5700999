"""Audio files that change between two runs: a corrupt file mended, a file edited in place. The rerun encodes them
again, sets aside what was built from the old audio and builds it again; nothing stale is reported."""

from __future__ import annotations

import os

from conftest import write_wave
from test_faults import config_for, results
from test_pipeline import _csv_folder

from codec_bench.core import io, ui
from codec_bench.study.pipeline import run


def _run(root, out, monkeypatch) -> str:
    said = []
    monkeypatch.setattr(ui, "warn", said.append)
    run(config_for(root, out))
    monkeypatch.undo()
    return " ".join(said)


def _test_clips(out) -> set[str]:
    records = io.read_json(next(out.glob("csv/*__full/eval/records.json")))["records"]
    rows = io.read_jsonl(out / next(r for r in records if r["split"] == "test")["predictions"])
    return {row["id"] for row in rows}


def test_a_mended_file_and_an_edited_file_are_encoded_and_evaluated_again(tmp_path, monkeypatch):
    root, out = _csv_folder(tmp_path / "data"), tmp_path / "out"
    mended, edited = root / "siren" / "5.wav", root / "siren" / "11.wav"  # the two test clips
    mended.write_bytes(b"not audio")
    first = _run(root, out, monkeypatch)
    assert "could not be encoded" in first
    assert len(_test_clips(out)) == 1
    before = results(out)

    write_wave(mended, seconds=0.3, freq=300, seed=5)
    write_wave(edited, seconds=0.3, freq=900, seed=99)  # now sounds like the other class
    os.utime(edited, ns=(1, 1))
    second = _run(root, out, monkeypatch)
    assert "2 clips changed since they were encoded" in second and str(mended) in second
    assert "set aside and built again" in second
    assert len(_test_clips(out)) == 2  # the mended clip is evaluated now
    assert list(out.glob("csv/*__full/stale-*/model")) and list(out.glob("csv/*__full/stale-*/eval"))
    assert list(out.glob("csv/stale-*/baseline"))  # the reference row used the old audio too
    assert results(out) != before

    third = _run(root, out, monkeypatch)  # nothing changed since: everything is reused, nothing set aside
    assert "changed since" not in third
