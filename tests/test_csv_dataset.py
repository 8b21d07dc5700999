"""The CSV dataset (users' own folders) on good and broken folders."""

import pytest
from conftest import write_wave

from codec_bench.core.errors import CodecBenchError
from codec_bench.data import prepare


def make_folder(root, rows, header="path,label,split"):
    for row in rows:
        rel = row.split(",")[0]
        if rel and not rel.startswith(".."):
            write_wave(root / rel, seconds=0.1)
    (root / "metadata.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return root


def test_single_label_with_split(tmp_path):
    rows = [f"a/{i}.wav,{'dog' if i % 2 else 'cat'},{['train', 'train', 'validation', 'test'][i % 4]}" for i in range(8)]
    manifest = prepare("csv", make_folder(tmp_path, rows))
    assert manifest.task == "single_label"
    assert manifest.classes == ["cat", "dog"]
    assert manifest.counts()["clips"] == {"train": 4, "validation": 2, "test": 2}


def test_multi_label_without_split_is_stratified_and_deterministic(tmp_path):
    rows = [f"c{i}.wav,{'piano;voice' if i % 3 == 0 else 'piano' if i % 3 == 1 else 'guitar'}" for i in range(30)]
    folder = make_folder(tmp_path, rows, header="path,labels")
    first, second = prepare("csv", folder), prepare("csv", folder)
    assert first.task == "multi_label" and first.classes == ["guitar", "piano", "voice"]
    assert [c.split for c in first.clips] == [c.split for c in second.clips]
    assert {c.split for c in first.clips} == {"train", "validation", "test"}
    assert ("piano", "voice") in {c.labels for c in first.clips}


def test_missing_audio_is_a_counted_skip(tmp_path):
    folder = make_folder(tmp_path, ["x.wav,dog,train", "y.wav,dog,test"])
    (folder / "y.wav").unlink()
    manifest = prepare("csv", folder)
    assert len(manifest.clips) == 1 and manifest.skipped[0]["reason"].startswith("audio file listed")


def test_label_absent_from_training_is_dropped_and_counted(tmp_path):
    manifest = prepare("csv", make_folder(tmp_path, ["x.wav,dog,train", "y.wav,cat,test", "z.wav,dog,test"]))
    assert [c.id for c in manifest.split("test")] == ["z.wav"]
    assert "absent from the training split" in manifest.skipped[0]["reason"]


@pytest.mark.parametrize("header, rows, message", [
    ("file,label", ["x.wav,dog"], "missing column 'path'"),
    ("path,split", ["x.wav,train"], "exactly one of the columns"),
    ("path,label", [",dog"], "empty path"),
    ("path,label", ["../outside.wav,dog"], "outside"),
    ("path,label,split", ["x.wav,dog,dev"], "split 'dev'"),
    ("path,label", ["x.wav,"], "empty label"),
])
def test_malformed_csv_fails_with_one_line(tmp_path, header, rows, message):
    make_folder(tmp_path, rows, header)
    with pytest.raises(CodecBenchError) as err:
        prepare("csv", tmp_path)
    assert message in str(err.value) and "metadata.csv" in str(err.value)


def test_missing_metadata_shows_layout(tmp_path):
    with pytest.raises(CodecBenchError, match="metadata.csv not found"):
        prepare("csv", tmp_path)


def test_single_label_with_the_separator_is_kept_whole(tmp_path):
    """A single-label label may hold ", " (the multi-label separator): it stays one class, and a generated answer
    is not split into two labels."""
    from codec_bench.prompts import parse_answer

    rows = [f'a/{i}.wav,"{"low, hum" if i % 2 else "click"}",{["train", "train", "validation", "test"][i % 4]}'
            for i in range(8)]
    for row in rows:
        write_wave(tmp_path / row.split(",")[0], seconds=0.1)
    (tmp_path / "metadata.csv").write_text("path,label,split\n" + "\n".join(rows) + "\n")
    manifest = prepare("csv", tmp_path)
    assert manifest.classes == ["click", "low, hum"]
    assert parse_answer("low, hum<|TEXT_GENERATION_END|>", split_items=False) == ("low, hum",)
    assert parse_answer("low, hum<|TEXT_GENERATION_END|>") == ("low", "hum")


def test_the_manifest_refuses_what_the_prompt_separates_on():
    from codec_bench.data.manifest import MULTI_LABEL_SEPARATOR
    from codec_bench.prompts import ITEM_SEPARATOR

    assert ITEM_SEPARATOR.strip() == MULTI_LABEL_SEPARATOR


def test_multi_label_label_with_the_separator_is_refused(tmp_path):
    both = '"low, hum;piano"'
    rows = [f"c{i}.wav,{both if i % 2 else 'piano'}" for i in range(20)]
    folder = make_folder(tmp_path, rows, header="path,labels")
    with pytest.raises(CodecBenchError, match=r"c1\.wav: label 'low, hum' holds ','.*rename it"):
        prepare("csv", folder)
