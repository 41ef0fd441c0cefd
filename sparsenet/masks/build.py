"""Assemble the gene->protein and protein->phenotype masks from a screen."""

from __future__ import annotations

import datetime
import time

import numpy as np
import scipy.sparse as sp

from ..allowed import one_of
from .screen import PhenotypeResult, ScreenSettings, is_pseudo_gene, screen
from .store import Masks, incidence

LEVELS = ("genes", "reactions")


def build_masks(
    model,
    settings: ScreenSettings,
    model_file: str = "",
    model_sha256: str = "",
    processes: int | None = None,
    progress=None,
    level: str = "genes",
) -> Masks:
    """Screen the model and return its masks with provenance.

    ``level`` 'genes' (the paper's): the genes of a phenotype's essential reactions link to it, through a
    one-to-one gene -> protein layer. 'reactions': one middle node per essential reaction that has genes,
    linked to the genes of its gene-protein rule, and each phenotype to its essential reactions
    (gene -> reaction -> phenotype); the genes that reach a phenotype are the same.

    Phenotypes kept: status "ok" (a nonzero, numerically stable optimum). Zero-optimum and
    fragile phenotypes are kept only with ``settings.keep_zero_optimum`` (their rows mark
    nearly every reaction essential, or depend on round-off); every phenotype's status is stored.
    """
    one_of("level", level, LEVELS)
    t0 = time.perf_counter()
    genes = [g for g in model.genes if not is_pseudo_gene(g)]
    gene_ids = [g.id for g in genes]
    gene_index = {g: i for i, g in enumerate(gene_ids)}
    results: list[PhenotypeResult] = screen(model, settings, processes=processes, progress=progress)
    kept = [r for r in results if r.status == "ok" or settings.keep_zero_optimum]
    if level == "reactions":
        return _reaction_masks(model, settings, results, kept, genes, gene_index, t0, model_file, model_sha256)
    rows, cols = [], []
    for j, res in enumerate(kept):
        linked = set()
        for rid in res.essential:
            linked.update(g.id for g in model.reactions.get_by_id(rid).genes if g.id in gene_index)
        for gid in sorted(linked, key=gene_index.get):
            rows.append(j)
            cols.append(gene_index[gid])
    protein_phenotype = incidence(rows, cols, (len(kept), len(gene_ids)))
    gene_protein = sp.identity(len(gene_ids), dtype=np.int8, format="csr")
    return _masks(
        model,
        settings,
        results,
        kept,
        genes,
        list(gene_ids),
        gene_protein,
        protein_phenotype,
        t0,
        model_file,
        model_sha256,
    )


def _reaction_masks(model, settings, results, kept, genes, gene_index, t0, model_file, model_sha256) -> Masks:
    """gene -> reaction (gene-protein rules) -> phenotype (essential reactions): reactions in model order."""
    essential = set().union(*(r.essential for r in kept))
    reactions = [r for r in model.reactions if r.id in essential and any(g.id in gene_index for g in r.genes)]
    where = {r.id: k for k, r in enumerate(reactions)}
    gp = [(k, gene_index[g.id]) for k, r in enumerate(reactions) for g in r.genes if g.id in gene_index]
    pp = [(j, where[rid]) for j, res in enumerate(kept) for rid in res.essential if rid in where]
    gene_protein = incidence([k for k, _ in gp], [g for _, g in gp], (len(reactions), len(genes)))
    protein_phenotype = incidence([j for j, _ in pp], [k for _, k in pp], (len(kept), len(reactions)))
    return _masks(
        model,
        settings,
        results,
        kept,
        genes,
        [r.id for r in reactions],
        gene_protein,
        protein_phenotype,
        t0,
        model_file,
        model_sha256,
        level="reactions",
    )


def _masks(
    model,
    settings,
    results,
    kept,
    genes,
    protein_ids,
    gene_protein,
    protein_phenotype,
    t0,
    model_file,
    model_sha256,
    level="genes",
) -> Masks:
    import cobra

    gene_ids = [g.id for g in genes]
    names = [model.reactions.get_by_id(r.reaction_id).name or r.reaction_id for r in kept]
    attrs = {
        "model_id": model.id,
        "model_file": str(model_file),
        "model_sha256": model_sha256,
        "cobra_version": cobra.__version__,
        "lp_solver": model.solver.interface.__name__.split(".")[-1],
        "essentiality_threshold": settings.threshold,
        "uptake_reaction": settings.uptake,
        "uptake_flux": settings.uptake_flux,
        "zero_tolerance": settings.zero_tol,
        "screen": "exhaustive" if settings.exhaustive else "pruned (flux-carrying reactions only; exact)",
        "keep_zero_optimum": bool(settings.keep_zero_optimum),
        "knockout_lps": int(sum(r.lps for r in results)),
        "level": level,
        "seconds": round(time.perf_counter() - t0, 2),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return Masks(
        gene_ids=gene_ids,
        protein_ids=list(protein_ids),
        gene_names=[g.name or g.id for g in genes],
        phenotype_ids=[r.reaction_id for r in kept],
        phenotype_names=names,
        gene_protein=gene_protein,
        protein_phenotype=protein_phenotype,
        screened_ids=[r.reaction_id for r in results],
        screened_status=[r.status for r in results],
        screened_optimum=np.array([r.optimum for r in results]),
        screened_exact_optimum=np.array([r.exact_optimum for r in results]),
        attrs=attrs,
    )
