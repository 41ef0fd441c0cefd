"""Gene sets found in the expression itself: independent components (iModulons, Sastry et al. 2019)
as a wiring, computed on a training pool only.

FastICA (scikit-learn) on the pool's genes x samples matrix gives each component a weight per
gene; the component's genes are those whose |weight| stands out of the normal bulk: the largest
are removed one by one until D'Agostino's K^2 of the rest falls below a cut-off (pymodulon's rule;
its PRECISE cut-off of 550 for 3,923 genes, scaled to the number of genes here, as K^2 grows with
it). Each component with ``min_genes`` or more genes is one node linked to them.

pymodulon's precomputed ``M.csv`` saw every sample; a held-out evaluation must compute the
components on each fold's pool, which is what ``sparsenet train --wiring ica`` does.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import scipy.sparse as sp
from scipy import stats

from .store import Masks, incidence

K2_PER_GENE = 550 / 3923  # pymodulon's D'Agostino cut-off on PRECISE's 3,923 genes, per gene


@dataclasses.dataclass(frozen=True)
class IcaSettings:
    """How a fold's components are found: their number, the FastICA seed, the K^2 cut-off per gene and the
    fewest genes a component needs to become a node."""

    components: int = 50
    seed: int = 0
    k2_per_gene: float = K2_PER_GENE
    min_genes: int = 3


def component_genes(weights: np.ndarray, cutoff: float) -> np.ndarray:
    """Indices of the genes whose |weight| lies outside the normal bulk of ``weights`` (one component):
    the largest removed until D'Agostino's K^2 of the rest is below ``cutoff`` (at most half the genes)."""
    order = np.argsort(-np.abs(weights), kind="stable")
    for i in range(weights.size // 2):
        if stats.normaltest(weights[order[i:]]).statistic < cutoff:
            return np.sort(order[:i])
    return np.sort(order[: weights.size // 2])


def gene_weights(pool: np.ndarray, components: int, seed: int) -> np.ndarray:
    """FastICA of ``pool`` (samples x genes, centred per gene by the caller) over genes: genes x components,
    each component's sign turned so that its largest weight is positive."""
    from sklearn.decomposition import FastICA

    n = min(components, pool.shape[0] - 1, pool.shape[1] - 1)
    if n < 1:
        raise ValueError(f"ICA needs at least 2 samples and 2 genes, got {pool.shape[0]} x {pool.shape[1]}")
    ica = FastICA(n_components=n, whiten="unit-variance", max_iter=1000, tol=1e-4, random_state=seed)
    with warnings.catch_warnings():  # a component that has not fully converged is still a gene set; say nothing
        warnings.simplefilter("ignore")
        s = ica.fit_transform(np.asarray(pool, dtype=np.float64).T)
    sign = np.sign(s[np.abs(s).argmax(axis=0), np.arange(s.shape[1])])
    return s * np.where(sign == 0, 1, sign)


def ica_masks(pool: np.ndarray, base: Masks, settings: IcaSettings = IcaSettings()) -> Masks:
    """``base``'s genes (its one-to-one gene -> protein layer kept) wired to the independent components of
    ``pool`` (samples x ``base``'s genes, centred per gene on that pool): one node per component with
    ``settings.min_genes`` or more genes. ValueError when no component has."""
    w = gene_weights(pool, settings.components, settings.seed)
    cutoff = settings.k2_per_gene * w.shape[0]
    sets = [component_genes(w[:, k], cutoff) for k in range(w.shape[1])]
    kept = [k for k, genes in enumerate(sets) if genes.size >= settings.min_genes]
    if not kept:
        raise ValueError(
            f"--wiring ica: no independent component of a pool of {pool.shape[0]} profiles has "
            f"{settings.min_genes} or more genes outside the normal bulk; give more --ica-components, "
            "or use a wiring from a masks file"
        )
    rows = np.concatenate([np.full(sets[k].size, r) for r, k in enumerate(kept)])
    cols = np.concatenate([sets[k] for k in kept])
    pp = incidence(rows, cols, (len(kept), len(base.gene_ids)))
    ids = [f"IC{k + 1:03d}" for k in kept]
    attrs = {k: v for k, v in base.attrs.items() if k in ("model_id", "model_file")}
    attrs.update(
        kind="ica",
        ica_components=int(w.shape[1]),
        ica_seed=int(settings.seed),
        ica_k2_cutoff=round(float(cutoff), 3),
        ica_min_genes=int(settings.min_genes),
        ica_pool_samples=int(pool.shape[0]),
    )
    return dataclasses.replace(
        base,
        protein_ids=list(base.gene_ids),
        phenotype_ids=ids,
        phenotype_names=list(ids),
        gene_protein=sp.identity(len(base.gene_ids), format="csr"),
        protein_phenotype=pp,
        screened_ids=[],
        screened_status=[],
        screened_optimum=np.zeros(0),
        screened_exact_optimum=np.zeros(0),
        attrs=attrs,
        source="",
    )
