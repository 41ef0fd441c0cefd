"""The options the study commands share, declared once, and the groups a command takes as one object: the
data options (a :class:`sparsenet.studies.DataOptions`), the network settings over the preset (a dict of
``build_config`` options) and where the fits run (:class:`Fanout`).

No ``from __future__ import annotations`` here: typer reads these annotations as objects.
"""

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from .common import flag
from sparsenet.config.run_config import PRESETS
from sparsenet.studies import DataOptions

DATA_PANEL, NETWORK_PANEL, DASK_PANEL = "Your data", "Network settings over the preset", "Many machines (Dask)"

EXPRESSION = typer.Option(
    None,
    "--expression",
    help="expression file: CSV/TSV (either orientation), HDF5 or .h5ad "
    "(default: PRECISE log_tpm.csv from pymodulon 0.2.1, fetched once)",
    rich_help_panel=DATA_PANEL,
)
PHENOTYPES = typer.Option(
    None,
    "--phenotypes",
    help="phenotype table by sample ID (default: PRECISE sample_table.csv)",
    rich_help_panel=DATA_PANEL,
)
REFERENCE = typer.Option(
    None,
    "--reference",
    help="comma-separated reference sample IDs: the values are log2 levels "
    "and become log2 fold changes against their mean (PRECISE default: control__wt_glc__1,2; "
    "'none': values are already log2 fold changes)",
    rich_help_panel=DATA_PANEL,
)
ORIENTATION = typer.Option(
    "auto", "--orientation", help="auto, genes-by-samples or samples-by-genes (text tables)", rich_help_panel=DATA_PANEL
)
PHENOTYPE = typer.Option(
    None,
    "--phenotype",
    help="phenotype column to fine-tune on (repeatable; default: every "
    "column that maps; PRECISE: 'Growth Rate (1/hr)')",
    rich_help_panel=DATA_PANEL,
)
MAP = typer.Option(
    None,
    "--map",
    help="'COLUMN=REACTION_ID': map a phenotype column to a phenotype reaction (repeatable)",
    rich_help_panel=DATA_PANEL,
)
SAMPLE_COLUMN = typer.Option(
    None,
    "--sample-column",
    help="sample ID column of the phenotype table (default: the first)",
    rich_help_panel=DATA_PANEL,
)
KEEP_ZERO = flag(
    "--keep-zero", help="keep observations of exactly 0 (default: treated as missing)", rich_help_panel=DATA_PANEL
)
PRETRAIN_DATA = typer.Option(
    None, "--pretrain-data", help="separate expression file for pre-training (HDF5 streams)", rich_help_panel=DATA_PANEL
)
MASKS = typer.Option(None, "--masks", help="masks file (default: the shipped iJO1366 masks)")
WIRING = typer.Option(
    "masks",
    "--wiring",
    help="masks: the masks file's wiring; ica: each fit wired to the "
    "independent components (iModulons) of its own pre-training pool over the masks' genes "
    "(held-out profiles never seen)",
)
ICA_COMPONENTS = typer.Option(
    50, "--ica-components", help="components of --wiring ica (those with 3 or more genes become nodes)"
)
NA_VALUES = typer.Option(
    None,
    "--na-values",
    help="comma-separated cell texts read as missing, 'empty' for an empty cell (default: empty,NA,NaN,nan,n.d.)",
    rich_help_panel=DATA_PANEL,
)
GENE_IDS = typer.Option(
    "auto",
    "--gene-ids",
    help="how the expression file names genes: auto (a model gene ID, "
    "else a gene symbol such as thrA, any letter case), id or symbol; the data summary says how "
    "many mapped each way",
    rich_help_panel=DATA_PANEL,
)
DUPLICATES = typer.Option(
    "mean",
    "--duplicates",
    help="several rows of one gene: mean (averaged), first (the first kept) or error; all are named in one warning",
    rich_help_panel=DATA_PANEL,
)
TRANSFORM = typer.Option(
    "none",
    "--transform",
    help="none, or log2p1: the expression values are linear (TPM, "
    "counts) and become log2(x + 1); linear values without it are refused",
    rich_help_panel=DATA_PANEL,
)
STRICT = flag(
    "--strict",
    help="stop at the first data warning (unmatched sample IDs, genes that "
    "look misspelled, levels given as fold changes, few model genes) instead of going on",
    rich_help_panel=DATA_PANEL,
)


def _presets_say(key, fmt="{}"):
    """'the preset's: VALUE; paper VALUE' for an option's help."""
    return f"the preset's: {fmt.format(PRESETS['default'][key])}; paper {fmt.format(PRESETS['paper'][key])}"


STRATEGY = typer.Option(
    None,
    "--strategy",
    help=f"A, B, C or a comma list (A,B,C or all): same data, same folds (default: {_presets_say('strategy')})",
)
CV = typer.Option(
    "grouped", "--cv", help="grouped, kfold, lopo (leave one group out), a comma list, or both (grouped,kfold)"
)
FOLDS = typer.Option(10, "--folds", min=2, help="number of folds")
GROUP_BY = typer.Option("project", "--group-by", help="phenotype-table column whose groups stay in one fold")
SEED = typer.Option(0, "--seed", help="same seed, same numbers (CPU)")
DEVICE = typer.Option("auto", "--device", help="cpu, gpu or auto")
PRETRAIN_SAMPLES = typer.Option(
    1_000_000,
    "--pretrain-samples",
    min=1,
    help="samples streamed in pre-training (paper: 2,500,000)",
    rich_help_panel=NETWORK_PANEL,
)
BATCH = typer.Option(
    5000, "--batch", min=1, help="pre-training batch size (paper: 5,000)", rich_help_panel=NETWORK_PANEL
)
PRETRAIN_LR = typer.Option(
    None,
    "--pretrain-lr",
    help="Adam learning rate, pre-training (default: the preset's)",
    rich_help_panel=NETWORK_PANEL,
)
PRESET = typer.Option(
    "default",
    "--preset",
    help="'default': inputs standardised per gene on the training samples, "
    "a linear decoder (it reconstructs), a read-out of every phenotype node, squared error with an "
    "L2 penalty from a small start, 5 networks averaged; 'paper': the paper's "
    "DeepMetabolism (raw inputs, softplus decoder, the target's own node)",
)
INPUTS = typer.Option(
    None,
    "--inputs",
    help="raw, centre or standardise per gene, fitted on each fold's training samples (default: the preset's)",
    rich_help_panel=NETWORK_PANEL,
)
DECODER = typer.Option(
    None, "--decoder", help="softplus (paper) or linear (default: the preset's)", rich_help_panel=NETWORK_PANEL
)
HEAD = typer.Option(
    None,
    "--head",
    help="node (paper: the target's phenotype node) or readout (a linear read-out "
    "of every phenotype node) (default: the preset's)",
    rich_help_panel=NETWORK_PANEL,
)
LOSS = typer.Option(
    None,
    "--loss",
    help="fine-tuning loss: relative (paper: sum |(y - yhat)/y|) or squared "
    "(sum ((y - yhat)/mean y)^2) (default: the preset's)",
    rich_help_panel=NETWORK_PANEL,
)
L2 = typer.Option(
    None,
    "--l2",
    help="penalty l2 * |p|^2 / 2 on every fine-tuned parameter, per observation, or "
    "'auto': chosen per fit by inner grouped CV of its training samples along "
    "1, 0.3, 0.1, 0.03, 0.01, 0.003 with warm starts "
    f"(default: {_presets_say('l2', '{:g}')}; chosen on seed 0's folds)",
    rich_help_panel=NETWORK_PANEL,
)
INIT_SCALE = typer.Option(
    None,
    "--init-scale",
    min=0.0,
    help="factor on the initial weights of layers fine-tuning "
    f"starts afresh (default: {_presets_say('init_scale', '{:g}')})",
    rich_help_panel=NETWORK_PANEL,
)
WORKERS = typer.Option(
    0,
    "--workers",
    min=0,
    help="fan the fits out over a local Dask cluster of N worker processes "
    "(default 0: serial, in this process); same numbers either way",
    rich_help_panel=DASK_PANEL,
)
SCHEDULER = typer.Option(
    None,
    "--scheduler",
    help="submit the fits to a running Dask scheduler (tcp://HOST:8786): a "
    "cluster via dask-jobqueue, one worker per GPU via dask-cuda",
    rich_help_panel=DASK_PANEL,
)
CACHE_DIR = typer.Option(
    None,
    "--cache-dir",
    help="folder of cached pre-trainings (default: the run's state folder); "
    "on shared storage, workers on other machines reuse them",
    rich_help_panel=DASK_PANEL,
)
SEEDS = typer.Option(
    1,
    "--seeds",
    min=1,
    help="repeat every fit over N network seeds on the same folds; report mean ± sd and paired comparisons",
)
BASELINES = typer.Option(
    "all",
    "--baselines",
    help="baselines fitted on the same folds: all, none, or a comma list "
    "of mean, ridge, ridge_linked (ridge on the genes the masks link), knn, random_forest; "
    "and, by name only (E-Flux solves every sample per fold), the metabolic model as a model: "
    "eflux (E-Flux's biomass flux, calibrated), flux_ridge, flux_forest (on pFBA fluxes)",
)
EARLY_STOPPING = typer.Option(
    None,
    "--early-stopping",
    help="'inner': fine-tuning steps chosen by inner "
    "cross-validation on each fold's training samples; 'none': until --tol or --max-steps "
    "(default: the preset's)",
    rich_help_panel=NETWORK_PANEL,
)
ENSEMBLE = typer.Option(
    None,
    "--ensemble",
    min=1,
    help="networks per fit, from different seeds (each with its own "
    f"pre-training); predictions are their mean (default: {_presets_say('ensemble')})",
    rich_help_panel=NETWORK_PANEL,
)
FINETUNE_LR = typer.Option(
    None,
    "--finetune-lr",
    help="Adam learning rate, fine-tuning (default: 0.01 for the "
    "masked strategies B and C, 0.001 for the dense A, which dies at 0.01)",
    rich_help_panel=NETWORK_PANEL,
)
MAX_STEPS = typer.Option(
    None,
    "--max-steps",
    min=1,
    help=f"fine-tuning step limit, stopping earlier by --tol (default: {_presets_say('max_steps', '{:,}')})",
    rich_help_panel=NETWORK_PANEL,
)
TOL = typer.Option(
    1e-4,
    "--tol",
    help="fine-tuning (Adam) stops when the loss moved less than this (relative) over 100 steps",
    rich_help_panel=NETWORK_PANEL,
)
ANCHOR = typer.Option(
    None,
    "--anchor",
    help="the L2 penalty pulls toward 'zero', or toward the 'pretrained' "
    f"weights (strategy C) (default: {_presets_say('anchor')})",
    rich_help_panel=NETWORK_PANEL,
)
PRETRAIN_NOISE = typer.Option(
    None,
    "--pretrain-noise",
    help="denoising pre-training: this fraction of each "
    f"profile's genes set to 0 in the input (default: {_presets_say('pretrain_noise')})",
    rich_help_panel=NETWORK_PANEL,
)
OPTIMIZER = typer.Option(
    None,
    "--optimizer",
    help="fine-tuning optimizer: adam, or lbfgs (L-BFGS to the optimum of "
    f"the penalised loss) (default: {_presets_say('optimizer')})",
    rich_help_panel=NETWORK_PANEL,
)
TUNE = typer.Option(
    "auto",
    "--tune",
    help="fine-tune 'phenotype' layer only, 'all' layers, 'readout' only (on the "
    "pre-trained phenotype nodes), or 'auto' (phenotype layer after pre-training, all without)",
    rich_help_panel=NETWORK_PANEL,
)


# ---------------------------------------------------------------- groups of options, each one object
def collect(name: str, table: dict, make):
    """Give a command the options of ``table`` ({parameter: (annotation, typer option)}) and hand them to it as
    one object, ``make(**their values)``, in its keyword parameter ``name``."""

    def decorate(command):
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(command).parameters.values()
            if p.name != name
        ]
        extra = [
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
            for k, (annotation, option) in table.items()
        ]

        @functools.wraps(command)
        def with_group(**kwargs):
            values = {k: kwargs.pop(k) for k in table}
            return command(**kwargs, **{name: make(**values)})

        with_group.__signature__ = inspect.Signature(own + extra)
        with_group.__annotations__ = {p.name: p.annotation for p in own + extra}
        del with_group.__wrapped__  # typer reads the signature above, not the command's
        return with_group

    return decorate


def _data_options(masks_file=None, phenotype=None, mapping=None, **values):
    """The command's data options as DataOptions (its other fields are named as the options are)."""
    return DataOptions(masks=masks_file, phenotype=tuple(phenotype or ()), mapping=tuple(mapping or ()), **values)


DATA = {
    "expression": (Optional[Path], EXPRESSION),
    "phenotypes": (Optional[Path], PHENOTYPES),
    "reference": (Optional[str], REFERENCE),
    "orientation": (str, ORIENTATION),
    "phenotype": (Optional[list[str]], PHENOTYPE),
    "mapping": (Optional[list[str]], MAP),
    "sample_column": (Optional[str], SAMPLE_COLUMN),
    "keep_zero": (bool, KEEP_ZERO),
    "na_values": (Optional[str], NA_VALUES),
    "gene_ids": (str, GENE_IDS),
    "duplicates": (str, DUPLICATES),
    "masks_file": (Optional[Path], MASKS),
    "strict": (bool, STRICT),
    "transform": (str, TRANSFORM),
}
data_options = collect("data", DATA, _data_options)
data_options_with_pool = collect("data", {**DATA, "pretrain_data": (Optional[Path], PRETRAIN_DATA)}, _data_options)

NETWORK = {
    "pretrain_samples": (int, PRETRAIN_SAMPLES),
    "batch": (int, BATCH),
    "pretrain_lr": (Optional[float], PRETRAIN_LR),
    "finetune_lr": (Optional[float], FINETUNE_LR),
    "max_steps": (Optional[int], MAX_STEPS),
    "tol": (float, TOL),
    "tune": (str, TUNE),
    "inputs": (Optional[str], INPUTS),
    "decoder": (Optional[str], DECODER),
    "head": (Optional[str], HEAD),
    "loss": (Optional[str], LOSS),
    "l2": (Optional[str], L2),
    "init_scale": (Optional[float], INIT_SCALE),
    "optimizer": (Optional[str], OPTIMIZER),
    "ensemble": (Optional[int], ENSEMBLE),
    "early_stopping": (Optional[str], EARLY_STOPPING),
    "anchor": (Optional[str], ANCHOR),
    "pretrain_noise": (Optional[float], PRETRAIN_NOISE),
}


def network_options(*names):
    """The network settings ``names`` (default: all) as one dict of ``build_config`` options."""
    return collect("network", {k: NETWORK[k] for k in (names or NETWORK)}, dict)


@dataclass(frozen=True)
class Fanout:
    """Where the fits run: serially here, ``workers`` local Dask processes, or the Dask ``scheduler``;
    ``cache_dir``: a folder of pre-trainings to share."""

    workers: int = 0
    scheduler: Optional[str] = None
    cache_dir: Optional[Path] = None

    def executor(self):
        from sparsenet.runs.plan import Executor

        return Executor(self.workers, self.scheduler)  # connects first: a bad address writes nothing


fanout_options = collect(
    "fanout",
    {"workers": (int, WORKERS), "scheduler": (Optional[str], SCHEDULER), "cache_dir": (Optional[Path], CACHE_DIR)},
    Fanout,
)
