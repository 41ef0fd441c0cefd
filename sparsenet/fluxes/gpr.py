"""Reaction activities from gene levels through the model's gene-protein-reaction rules, as E-Flux reads
them (Colijn et al. 2009): a complex (AND) is as active as its least expressed subunit (min), isozymes (OR)
add up (sum). Levels are linear (TPM, not log). A gene the data lack takes no part in its rule; a reaction
whose rule names no measured gene, or that has no rule (exchanges, diffusion, spontaneous), has no
activity and stays unconstrained."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Activities:
    """Each sample's activity (rows) of each reaction with one (columns, ``reaction_ids``)."""

    reaction_ids: list
    values: np.ndarray


def rule_activity(node, levels: dict):
    """The activity of one rule (a cobra GPR's ast) over samples: ``levels`` maps gene ID -> (samples,) linear
    levels; None when the rule names no measured gene."""
    if isinstance(node, ast.Name):
        return levels.get(node.id)
    if isinstance(node, ast.BoolOp):
        parts = [p for p in (rule_activity(v, levels) for v in node.values) if p is not None]
        if not parts:
            return None
        return np.minimum.reduce(parts) if isinstance(node.op, ast.And) else np.sum(parts, axis=0)
    raise ValueError(f"gene-protein-reaction rule: unexpected {type(node).__name__} (only genes, 'and', 'or')")


def reaction_activities(model, gene_ids, levels) -> Activities:
    """Activities of every reaction of the cobra ``model`` whose rule names a measured gene, from ``levels``
    (samples x ``gene_ids``, linear, >= 0)."""
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim != 2 or levels.shape[1] != len(gene_ids):
        raise ValueError(f"levels: samples x {len(gene_ids)} genes expected, got {levels.shape}")
    if (levels < 0).any():
        raise ValueError("levels: linear expression (TPM, counts) is >= 0; convert log values first (2**x - 1)")
    by_gene = {g: levels[:, i] for i, g in enumerate(gene_ids)}
    ids, columns = [], []
    for reaction in model.reactions:
        body = reaction.gpr.body
        activity = None if body is None else rule_activity(body, by_gene)
        if activity is not None:
            ids.append(reaction.id)
            columns.append(activity)
    values = np.stack(columns, axis=1) if columns else np.zeros((levels.shape[0], 0))
    return Activities(ids, values)
