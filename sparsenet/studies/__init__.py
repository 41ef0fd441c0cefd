"""The studies the command line runs, for a Python user to run the same way: each takes the study's data
(:func:`load_data` of :class:`DataOptions`), a configuration (``config.run_config.build_config``), an output
folder, an executor (serial by default, or Dask) and a progress callback, writes the run folder and returns a
typed result. The command line only parses options, calls one of these and prints.

>>> from sparsenet.studies import DataOptions, load_data, train
>>> from sparsenet.config.run_config import build_config
>>> cfg = build_config("default", baselines="all")
>>> result = train(load_data(DataOptions(), cfg), cfg, "runs/mine")     # doctest: +SKIP
"""

from .crossvalidate import TrainResult, train
from .flux_control import FluxControlResult, flux_control
from .inputs import DataOptions, StudyData, load_data, prepare_out, read_masks_file, run_folder, run_plan
from .learning_curve import CurveResult, curve, curve_configs
from .noise_robustness import NoiseResult, RobustnessResult, noise_wheres, robustness
from .wiring_control import ControlResult, control

__all__ = [
    "DataOptions",
    "StudyData",
    "load_data",
    "prepare_out",
    "read_masks_file",
    "run_folder",
    "run_plan",
    "train",
    "TrainResult",
    "control",
    "ControlResult",
    "curve",
    "curve_configs",
    "CurveResult",
    "robustness",
    "noise_wheres",
    "RobustnessResult",
    "NoiseResult",
    "flux_control",
    "FluxControlResult",
]
