"""The on-disk formats, one owner each: the file and folder names of an output folder (``layout``), the result
record and the files holding records with their format version (``results``), the run card (``run_card``), what a
multi-label evaluation chose (``decision_files``), a trained run's Hugging Face model card (``model_card``), the JSON
Schemas of the result files (``schema``), a trained model's done-marker (``train_done``), a folder's
recipe grids (``grids``), a codec's reconstruction fidelity on a fold (``fidelity``) and a run's acoustic-BPE
merges (``unit_merges``).

Each file is a typed object with ``to_file`` / ``from_file`` (as lhotse's ``CutSet``); writers and readers use
these objects and the paths of :class:`RunFolder`, :class:`RecordsFolder` and :class:`OutFolder`, never a file
name of their own. The JSON on disk keeps the keys it always had, so old output folders still read (the result
files of format_version 1 too, before ``records.json`` became an object carrying its settings and versions). This layer
sits just above ``core``: every stage that writes or reads these files may import it.
"""

from .decision_files import Calibration, DecisionFile, ScoringChoice, Thresholds
from .fidelity import FidelityClip, FidelityFolder, FidelitySummary, fidelity_folders
from .grids import GridsFile
from .layout import OutFolder, RecordsFolder, RunFolder, blind_folder, predictions_name, reference_folder
from .model_card import ModelCard
from .results import RESULTS_FORMAT_VERSION, CellResult, FormatVersionError, Record, RecordsFile, ResultsFile, read_results
from .run_card import CodecCard, RunCard
from .train_done import TrainDone
from .unit_merges import UnitMerges

__all__ = [
    "Calibration", "CellResult", "CodecCard", "DecisionFile", "FidelityClip", "FidelityFolder", "FidelitySummary",
    "FormatVersionError", "GridsFile", "ModelCard", "OutFolder",
    "RESULTS_FORMAT_VERSION", "Record", "RecordsFile", "RecordsFolder", "ResultsFile", "RunCard", "RunFolder",
    "ScoringChoice", "Thresholds", "TrainDone", "UnitMerges", "blind_folder", "fidelity_folders", "predictions_name",
    "read_results",
    "reference_folder"]
