"""Masks from a metabolic model's subsystems: one node per subsystem (glycolysis, the citric acid
cycle, cell envelope biosynthesis ...), linked to every gene in the gene-protein rule of any of its
reactions. A coarser wiring than the knockout screen's (no FBA): the model's own grouping of its
genes into pathways, the usual input of pathway-informed networks.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from .store import Masks, incidence

UNGROUPED = ("", "Unassigned")  # reactions the model puts in no pathway


def subsystem_masks(model, model_file: str = "", model_sha256: str = "", min_genes: int = 2, drop=UNGROUPED) -> Masks:
    """Masks of ``model``'s subsystems (a ``cobra.Model``): genes sorted by ID, nodes by name.

    A subsystem with fewer than ``min_genes`` genes is dropped (one gene is an input, not a
    pathway); reactions whose subsystem is in ``drop`` are left out. ValueError when the model
    groups no reactions, or ``min_genes`` is under 1 (a node with no gene would have no input).
    """
    if min_genes < 1:
        raise ValueError(f"--min-genes must be at least 1, got {min_genes}")
    genes_of = defaultdict(set)
    for reaction in model.reactions:
        name = (reaction.subsystem or "").strip()
        if name in drop:
            continue
        genes_of[name].update(g.id for g in reaction.genes)
    if not genes_of:
        raise ValueError(f"{model_file or model.id}: no reaction has a subsystem, so there are no pathways to wire")
    kept = sorted(n for n, g in genes_of.items() if len(g) >= min_genes)
    if not kept:
        raise ValueError(f"{model_file or model.id}: no subsystem has {min_genes} or more genes")
    genes = sorted(set().union(*(genes_of[n] for n in kept)))
    column = {g: i for i, g in enumerate(genes)}
    rows = np.concatenate([np.full(len(genes_of[n]), k) for k, n in enumerate(kept)])
    cols = np.concatenate([[column[g] for g in genes_of[n]] for n in kept])
    links = incidence(rows, cols, (len(kept), len(genes)))
    names = {g.id: g.name for g in model.genes}
    return Masks(
        gene_ids=genes,
        protein_ids=list(genes),
        phenotype_ids=kept,
        phenotype_names=list(kept),
        gene_protein=sp.identity(len(genes), format="csr"),
        protein_phenotype=links,
        gene_names=[names.get(g) or g for g in genes],
        attrs={
            "kind": "subsystems",
            "model_file": str(model_file),
            "model_sha256": model_sha256,
            "min_genes": min_genes,
            "dropped_subsystems": ", ".join(repr(d) for d in drop),
            "subsystems_too_small": int(len(genes_of) - len(kept)),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        },
    )


def subsystem_hierarchy(model, features=None, model_file: str = "", drop=UNGROUPED):
    """A metabolic model as a two-level hierarchy: genes -> reactions (through their gene-protein rules)
    -> subsystems, over ``features`` (gene IDs; default all the model's genes). Reactions in no subsystem
    (``drop``) are left out."""
    from .hierarchy import build_hierarchy

    annotations, relations, names = [], [], {}
    for reaction in model.reactions:
        subsystem = (reaction.subsystem or "").strip()
        if subsystem in drop or not reaction.genes:
            continue
        annotations.extend((g.id, reaction.id) for g in reaction.genes)
        relations.append((subsystem, reaction.id))
        names[reaction.id] = reaction.name or reaction.id
    features = sorted({g for g, _ in annotations}) if features is None else list(features)
    return build_hierarchy(
        annotations,
        relations,
        features,
        2,
        names,
        {"kind": "hierarchy", "source": f"{model_file or model.id}: genes -> reactions -> subsystems", "species": ""},
    )
