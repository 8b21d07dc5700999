"""MagnaTagATune (MTT): 25,863 ~29-s MP3 clips tagged by TagATune players; the top-50 tags as multi-label task.

- Source: E. Law et al., "Evaluation of algorithms using games: the case of music tagging" (ISMIR 2009);
  mirg.city.ac.uk/datasets/magnatagatune/ (``mp3.zip.001-003`` concatenated then unzipped,
  ``annotations_final.csv``, ``clip_info_final.csv``).
- License: CC BY-NC-SA 3.0 (tagatune.org / Magnatune).
- Layout: 16 folders ``0..9, a..f`` of ``{artist-album-track-start-end}.mp3`` and ``annotations_final.csv``,
  which is TAB-separated despite its name: ``clip_id``, 188 binary tag columns, ``mp3_path``.
- Label: the 50 most frequent tags, in musicnn's order (``TOP50``; checked against musicnn's ``MTT_LABELS``),
  whose column is 1; clips with none of them are left out (not counted as skipped: that is the task
  definition, ~16 % of clips). Multi-label.
- Protocol ``official`` (the 12/1/3 directory split of Dieleman & Schrauwen 2014, used by musicnn and ARCH): by
  the clip's folder, the 12 folders ``0-b`` train, ``c`` validation, the 3 folders ``d-f`` test; the 3 broken
  clips 35644, 55753, 57881 are dropped (counted as skipped), as musicnn's ``*_gt_mtt.tsv`` files do. Nothing
  is drawn at random. Assumed [not checked]: clips of one track share a folder, as the folder split implies.
- Assumed: the folder is the first character of ``mp3_path``; tag column names are matched exactly.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from .common import keep_existing, read_table, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "magnatagatune"
INSTRUCTION = "Which tags describe this music? Answer with the tags."
TOP50 = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
    "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)
BROKEN_CLIP_IDS = {"35644", "55753", "57881"}  # empty or undecodable MP3s, excluded by musicnn
FOLDER_SPLIT = {**{d: "train" for d in "0123456789ab"}, "c": "validation", **{d: "test" for d in "def"}}
LAYOUT = """ROOT/
  0/ 1/ ... 9/ a/ ... f/
    american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3
  annotations_final.csv    TAB-separated: clip_id, 188 tag columns, mp3_path
  clip_info_final.csv      (not needed)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read MTT with the top-50 tags and the folder split (one protocol, no folds)."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, "annotations_final.csv")
    source = root / "annotations_final.csv"
    rows = read_table(source, ["clip_id", "mp3_path", *TOP50], delimiter="\t")
    skipped = [{"path": str(root / r["mp3_path"]), "reason": "known broken clip (musicnn excludes it)"}
               for r in rows if r["clip_id"] in BROKEN_CLIP_IDS]
    clips = [c for c in (_clip(root, source, r) for r in rows if r["clip_id"] not in BROKEN_CLIP_IDS) if c.labels]
    clips = keep_existing(clips, skipped, str(source))
    return finalize(Manifest(NAME, "multi_label", "music", INSTRUCTION, [], clips, protocol, None, skipped))


def _clip(root: Path, source: Path, row: dict) -> Clip:
    folder = row["mp3_path"][:1]
    if folder not in FOLDER_SPLIT:
        raise CodecBenchError(f"{source}: clip {row['clip_id']} has mp3_path {row['mp3_path']!r} outside the folders "
                              "0-9, a-f; use the original annotations_final.csv")
    labels = tuple(tag for tag in TOP50 if row[tag] == "1")
    return Clip(id=row["mp3_path"], path=str(root / row["mp3_path"]), labels=labels, split=FOLDER_SPLIT[folder])


SPEC = DatasetSpec(
    name=NAME, domain="music", task="multi_label", instruction=INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load, num_classes=50,
    protocol_notes={"official": "12/1/3 folder split (0-b / c / d-f, Dieleman & Schrauwen 2014; musicnn, ARCH), "
                                "top-50 tags"},
)
