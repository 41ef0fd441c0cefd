"""Assemble the gene->protein and protein->phenotype masks from a screen."""
from __future__ import annotations

import datetime
import time

import numpy as np
import scipy.sparse as sp

from .screen import PhenotypeResult, ScreenSettings, is_pseudo_gene, screen
from .store import Masks


def build_masks(model, settings: ScreenSettings, model_file: str = "", model_sha256: str = "",
                processes: int | None = None, progress=None) -> Masks:
    """Screen the model and return its masks with provenance.

    Phenotypes kept: status "ok" (a nonzero, numerically stable optimum). Zero-optimum and
    fragile phenotypes are kept only with ``settings.keep_zero_optimum`` (their rows mark
    nearly every reaction essential, or depend on round-off); every phenotype's status is stored.
    """
    import cobra

    t0 = time.perf_counter()
    genes = [g for g in model.genes if not is_pseudo_gene(g)]
    gene_ids = [g.id for g in genes]
    gene_index = {g: i for i, g in enumerate(gene_ids)}
    results: list[PhenotypeResult] = screen(model, settings, processes=processes, progress=progress)
    kept = [r for r in results if r.status == "ok" or settings.keep_zero_optimum]
    rows, cols = [], []
    for j, res in enumerate(kept):
        linked = set()
        for rid in res.essential:
            linked.update(g.id for g in model.reactions.get_by_id(rid).genes if g.id in gene_index)
        for gid in sorted(linked, key=gene_index.get):
            rows.append(j)
            cols.append(gene_index[gid])
    protein_phenotype = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                                      shape=(len(kept), len(gene_ids)))
    n = len(gene_ids)
    gene_protein = sp.identity(n, dtype=np.int8, format="csr")
    names = [model.reactions.get_by_id(r.reaction_id).name or r.reaction_id for r in kept]
    attrs = {
        "model_id": model.id, "model_file": str(model_file), "model_sha256": model_sha256,
        "cobra_version": cobra.__version__, "lp_solver": model.solver.interface.__name__.split(".")[-1],
        "essentiality_threshold": settings.threshold, "uptake_reaction": settings.uptake,
        "uptake_flux": settings.uptake_flux, "zero_tolerance": settings.zero_tol,
        "screen": "exhaustive" if settings.exhaustive else "pruned (flux-carrying reactions only; exact)",
        "keep_zero_optimum": bool(settings.keep_zero_optimum),
        "knockout_lps": int(sum(r.lps for r in results)),
        "seconds": round(time.perf_counter() - t0, 2),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return Masks(
        gene_ids=gene_ids, protein_ids=list(gene_ids), gene_names=[g.name or g.id for g in genes],
        phenotype_ids=[r.reaction_id for r in kept], phenotype_names=names,
        gene_protein=gene_protein, protein_phenotype=protein_phenotype,
        screened_ids=[r.reaction_id for r in results], screened_status=[r.status for r in results],
        screened_optimum=np.array([r.optimum for r in results]),
        screened_exact_optimum=np.array([r.exact_optimum for r in results]),
        attrs=attrs,
    )
