"""Small synthetic data sets on the shipped e_coli_core masks, written as real files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from sparsenet.masks.store import read_masks, shipped_mask_path

ROOT = Path(__file__).resolve().parents[1]
CORE_MASKS = shipped_mask_path("e_coli_core")


def core_masks():
    return read_masks(CORE_MASKS)


def write_dataset(
    folder: Path, n_samples=36, n_groups=6, seed=0, genes_by_samples=True, extra_genes=3, drop_genes=2, modules=()
):
    """log2 levels (genes x samples CSV) + a phenotype table with a growth rate and a group column.

    The growth rate depends on the expression, so a network can learn it. Two model genes are
    left out of the data and ``extra_genes`` genes unknown to the model are added. ``modules``: (first, last)
    column ranges of genes that share one heavy-tailed activity per sample (gene sets ICA can find).
    """
    masks = core_masks()
    rng = np.random.default_rng(seed)
    genes = list(masks.gene_ids[drop_genes:]) + [f"x{i}" for i in range(extra_genes)]
    samples = ["ref_1", "ref_2"] + [f"s{i:03d}" for i in range(n_samples - 2)]
    base = rng.uniform(2, 8, size=len(genes))
    levels = base + rng.normal(0, 1.0, size=(n_samples, len(genes)))
    for a, b in modules:
        levels[:, a:b] += 3 * rng.laplace(0, 1, size=(n_samples, 1)) * rng.uniform(0.8, 1.2, size=b - a)
    levels[:2] = base + rng.normal(0, 0.05, size=(2, len(genes)))
    fc = levels - levels[:2].mean(axis=0)
    growth = 0.6 + 0.25 * np.tanh(fc[:, :10].mean(axis=1))
    folder.mkdir(parents=True, exist_ok=True)
    expr = folder / "expression.csv"
    with open(expr, "w", newline="") as fh:
        w = csv.writer(fh)
        if genes_by_samples:
            w.writerow(["gene"] + samples)
            for j, g in enumerate(genes):
                w.writerow([g] + [f"{v:.5f}" for v in levels[:, j]])
        else:
            w.writerow(["sample"] + genes)
            for i, s in enumerate(samples):
                w.writerow([s] + [f"{v:.5f}" for v in levels[i]])
    phen = folder / "phenotypes.csv"
    with open(phen, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Sample ID", "project", "Growth Rate (1/hr)", "note"])
        for i, s in enumerate(samples):
            w.writerow([s, f"g{i % n_groups}", "" if i < 2 else f"{growth[i]:.5f}", "x"])
    return expr, phen, {"samples": samples, "genes": genes, "levels": levels, "growth": growth}
