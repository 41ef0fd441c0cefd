"""The real default: PRECISE, the E. coli RNA-seq compendium shipped as files in pymodulon 0.2.1.

On first use the wheel is fetched with pip (no dependencies, nothing installed), its files are
extracted into the user's cache directory, and from then on they are read from there: the
expression and sample tables (the default run), the transcriptional regulatory network
(``trn.csv``: regulator, gene_id, effect), the iModulon gene weights (``M.csv``) and the gene
annotation (``gene_table.csv``: b-number, gene name, operon, COG).
"""

from __future__ import annotations

from pathlib import Path

from ..wheels import FetchError, cache_root, wheel_files
from .tables import DataError

PACKAGE, VERSION = "pymodulon", "0.2.1"
FILES = {
    "log_tpm.csv": "pymodulon/data/ecoli/log_tpm.csv",
    "sample_table.csv": "pymodulon/data/ecoli/sample_table.csv",
    "trn.csv": "pymodulon/data/ecoli/trn.csv",
    "M.csv": "pymodulon/data/ecoli/M.csv",
    "gene_table.csv": "pymodulon/data/ecoli/gene_table.csv",
}
DEFAULT_RUN = ("log_tpm.csv", "sample_table.csv")
REFERENCE_SAMPLES = ["control__wt_glc__1", "control__wt_glc__2"]
GROWTH_COLUMN = "Growth Rate (1/hr)"
GROUP_COLUMN = "project"


def cache_dir() -> Path:
    return cache_root() / f"precise-{PACKAGE}-{VERSION}"


def precise_files(progress=print, names=DEFAULT_RUN) -> dict:
    """Paths of PRECISE's files (default: log_tpm.csv and sample_table.csv; ``names=FILES`` for all),
    fetching the wheel once if any of ``names`` is missing."""
    try:
        return wheel_files(PACKAGE, VERSION, FILES, cache_dir(), names, progress, "the PRECISE compendium (~50 MB)")
    except FetchError as e:
        raise DataError(str(e)) from None


def growth_dataset(masks=None, progress=lambda msg: None):
    """PRECISE's growth rates as scikit-learn arrays, on the masks' genes (default: the shipped iJO1366
    masks), prepared as ``sparsenet train`` prepares them (log2 fold change against the reference
    samples, clipped, / 10; model genes missing from the data are 0).

    Returns (X, y, groups, unlabelled): the labelled samples' inputs (samples x the masks' genes, in the
    masks' gene order), their growth rates (1/h), their projects, and the inputs of every profile without
    a growth rate (for ``SparseNetRegressor(unlabelled=...)``)."""
    import numpy as np

    from ..masks.store import read_masks, shipped_mask_path
    from .dataset import load_dataset
    from .spec import DataSpec

    files = precise_files(progress=progress)
    masks = masks or read_masks(shipped_mask_path("iJO1366"))
    ds = load_dataset(
        masks,
        DataSpec(
            files["log_tpm.csv"],
            files["sample_table.csv"],
            REFERENCE_SAMPLES,
            columns=[GROWTH_COLUMN],
            group_by=GROUP_COLUMN,
        ),
        read_out=True,
    )
    others = np.setdiff1d(np.arange(ds.inputs.n_samples), ds.labelled)
    return ds.inputs.take(ds.labelled), ds.y[:, 0], np.asarray(ds.groups, dtype=object), ds.inputs.take(others)
