"""A growth ranking that needs no labels: E-Flux's biomass flux of every sample, each reaction's bound scaled by
its largest activity over the samples at hand (no growth rate is used anywhere), ranked within each group of
samples (an experiment, a project): the study behind ``sparsenet rank``.

What it is worth, measured (``benchmarks/eflux_ranking_null.py``, recorded in the shipped controls): on PRECISE's
labelled samples the ranking's mean within-project r against measured growth, beside the same ranking from 50
gene-permuted mappings (the gene -> reaction mapping made random, as the flux control does). Across projects its
values are not growth rates (no calibration line is fitted: that needs labels, and the ``eflux`` baseline that
fits one across projects loses the within-project order). Within a project, the order is the claim.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from ..fluxes.eflux import EFluxSettings
from ..runs.flux_baselines import fold_fluxes

RANK_SETTINGS = EFluxSettings(pfba=False)  # the optimum is the ranking; the flux vector is not needed


@dataclass(frozen=True)
class GrowthRanking:
    """Per sample: E-Flux's biomass flux (``growth``: the optimum with bounds scaled over these samples; NaN where
    the solve was not optimal, its ``status`` saying why), its group and its rank in the group (1: the fastest;
    0 where it has no growth)."""

    sample_ids: list
    groups: list
    growth: np.ndarray
    rank: np.ndarray
    status: list
    genes_used: int

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["sample_id", "group", "eflux_growth", "rank_in_group", "group_size", "status"])
        size = {g: self.groups.count(g) for g in set(self.groups)}
        for s, g, v, r, st in zip(self.sample_ids, self.groups, self.growth, self.rank, self.status, strict=True):
            w.writerow([s, g, "" if not np.isfinite(v) else f"{v:.6g}", int(r) if r else "", size[g], st])
        return buf.getvalue()


def ranks_within(values: np.ndarray, groups) -> np.ndarray:
    """1 for the largest value of each group, 2 for the next, ... (ties share the better rank); 0 for NaN."""
    from scipy.stats import rankdata

    values, groups = np.asarray(values, float), np.asarray(groups, dtype=object)
    out = np.zeros(values.size, dtype=np.int64)
    for g in dict.fromkeys(groups.tolist()):
        mine = np.flatnonzero((groups == g) & np.isfinite(values))
        if mine.size:
            out[mine] = rankdata(-values[mine], method="min").astype(np.int64)
    return out


def eflux_growth(model, gene_ids, log_levels, gene_order=None) -> tuple[np.ndarray, list, int]:
    """(E-Flux biomass flux per sample, solver status per sample, genes used) of ``log_levels`` (samples x
    ``gene_ids``, log2(level + 1); NaN: a gene the data lack), every reaction scaled over all these samples.
    ``gene_order``: a permutation of the measured genes' labels (the null)."""
    result = fold_fluxes(model, gene_ids, log_levels, None, RANK_SETTINGS, gene_order)
    return result.growth, list(result.status), int(np.isfinite(np.asarray(log_levels, float)).all(axis=0).sum())


def rank_growth(model, gene_ids, log_levels, sample_ids, groups=None) -> GrowthRanking:
    """The label-free ranking of ``sample_ids`` (rows of ``log_levels``) within ``groups`` (None: one group)."""
    groups = list(groups) if groups is not None else ["all"] * len(sample_ids)
    growth, status, used = eflux_growth(model, gene_ids, log_levels)
    return GrowthRanking(list(sample_ids), [str(g) for g in groups], growth, ranks_within(growth, groups), status, used)


def rank_file(
    expression=None,
    *,
    samples=None,
    group_by: str | None = None,
    sample_column: str | None = None,
    masks_file=None,
    orientation: str = "auto",
    transform: str = "none",
    gene_ids: str = "auto",
    duplicates: str = "mean",
    progress=lambda msg: None,
) -> tuple[GrowthRanking, list]:
    """``sparsenet rank`` as a function: the label-free ranking of every sample of ``expression`` (log2 levels,
    or linear with ``transform='log2p1'``; genes by ID or symbol of the masks' model, iJO1366 by default),
    grouped by the column ``group_by`` of the table ``samples`` (first column, or ``sample_column``: the sample
    IDs). Neither file given: PRECISE by project. Returns the ranking and what reading said (one line each)."""
    from ..data import precise
    from ..data.tables import DataError, read_rows
    from ..masks.model_io import load_model
    from .inputs import read_masks_file

    if expression is None:
        files = precise.precise_files(progress=progress)
        expression, samples = files["log_tpm.csv"], samples or files["sample_table.csv"]
        group_by = group_by or "project"
    masks, _ = read_masks_file(masks_file)
    source = masks.attrs.get("model_file")
    if not source:
        raise DataError(
            f"{masks_file}: these masks name no metabolic model; E-Flux needs one (masks built by "
            "sparsenet masks build record it)"
        )
    sample_ids, levels, said = expression_levels(
        expression, masks, orientation=orientation, transform=transform, gene_ids=gene_ids, duplicates=duplicates
    )
    groups = None
    if group_by:
        if samples is None:
            raise DataError("--group-by needs --samples, the table that names each sample's group")
        rows = read_rows(samples)
        head = [h.strip() for h in rows[0]]
        if group_by not in head:
            raise DataError(f"{samples}: no column {group_by!r} (--group-by); the columns are {', '.join(head)}")
        if sample_column and sample_column not in head:
            raise DataError(
                f"{samples}: no column {sample_column!r} (--sample-column); the columns are {', '.join(head)}"
            )
        si, gi = head.index(sample_column) if sample_column else 0, head.index(group_by)
        group_of = {r[si].strip(): r[gi].strip() for r in rows[1:] if len(r) > max(si, gi)}
        lacking = [s for s in sample_ids if s not in group_of]
        if len(lacking) == len(sample_ids):
            raise DataError(
                f"{samples}: none of its sample IDs is a sample of {expression} (like "
                f"{sample_ids[0]!r}); check --sample-column"
            )
        if lacking:
            said.append(
                f"{len(lacking)} samples have no {group_by} in {samples} and are ranked as one group "
                f"'(none)': {', '.join(lacking[:5])}{' ...' if len(lacking) > 5 else ''}"
            )
        groups = [group_of.get(s) or "(none)" for s in sample_ids]
    progress(f"E-Flux on {len(sample_ids)} samples ...")
    model = load_model(source)[0]
    return rank_growth(model, masks.gene_ids, levels, sample_ids, groups), said


def expression_levels(
    expression,
    masks,
    *,
    orientation: str = "auto",
    transform: str = "none",
    gene_ids: str = "auto",
    duplicates: str = "mean",
) -> tuple[list, np.ndarray, list]:
    """(sample IDs, samples x the masks' genes log2 levels with NaN for a gene the file lacks, what reading said)
    of an expression file, its genes by ID or symbol."""
    from ..data.genes import GeneVocabulary, resolve_expression_genes
    from ..data.tables import align, read_expression, said_while

    vocabulary = GeneVocabulary(masks)
    expr, said = said_while(read_expression, expression, vocabulary.labels(), orientation, transform=transform)
    expr, mapping = resolve_expression_genes(expr, masks, gene_ids, duplicates, vocabulary)
    alignment = align(expr.gene_ids, masks.gene_ids, expr.path)
    levels = np.full((expr.n_samples, len(masks.gene_ids)), np.nan)
    present = alignment.columns >= 0
    levels[:, present] = expr.take(np.arange(expr.n_samples))[:, alignment.columns[present]]
    return list(expr.sample_ids), levels, said + [alignment.summary(), mapping.sentence()]
