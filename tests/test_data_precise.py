"""The real default: PRECISE from the pymodulon 0.2.1 wheel, read with our loaders.

Fetches the wheel (~50 MB) once into the user's cache; set SPARSENET_CACHE to move it.
"""

import numpy as np
import pytest

from sparsenet.data import precise
from sparsenet.data.dataset import load_dataset
from sparsenet.data.spec import DataSpec
from sparsenet.masks.store import read_masks, shipped_mask_path


pytestmark = pytest.mark.network  # fetches PRECISE once


def test_precise_compendium_aligns_to_ijo1366():
    files = precise.precise_files(progress=lambda msg: None)
    masks = read_masks(shipped_mask_path("iJO1366"))
    ds = load_dataset(
        masks,
        DataSpec(
            files["log_tpm.csv"],
            files["sample_table.csv"],
            precise.REFERENCE_SAMPLES,
            columns=[precise.GROWTH_COLUMN],
            group_by=precise.GROUP_COLUMN,
        ),
    )
    s = ds.summary
    # what the issue states about the files
    assert s["expression_samples"] == 278
    assert len(masks.gene_ids) - s["model_genes_missing"] == 1350
    assert s["labelled_samples"] + int(s["zero_observations"].split()[0]) == 195
    assert s["zero_observations"].startswith("16 ")
    x = ds.inputs.all()
    refs = [ds.inputs.sample_ids.index(r) for r in precise.REFERENCE_SAMPLES]
    # the references' mean fold change is 0 by construction; values are clipped and scaled into [-1, 1]
    assert np.abs(x[refs].mean(axis=0)).max() < 1e-6 and np.abs(x).max() <= 1
    assert len(set(ds.groups)) == 13
    # the real default is clean: nothing dropped in silence, so nothing to warn about
    assert ds.warnings == [] and s["checks"]["suspect_gene_columns"] == []
