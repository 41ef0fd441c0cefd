"""Assemble one training data set: expression aligned to the masks' genes, phenotypes matched by
sample ID, the fine-tuning targets located in the phenotype layer."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .normalise import ModelInput, Normalisation, fit_reference
from .phenotypes import Phenotypes, read_phenotypes
from .tables import DataError, align, read_expression


@dataclass
class Dataset:
    masks: object
    inputs: ModelInput  # every expression sample, normalised, model gene order
    labelled: np.ndarray  # rows of ``inputs`` with at least one observed target
    y: np.ndarray  # observed targets of the labelled rows (NaN = missing)
    targets: list  # phenotype reaction IDs
    target_columns: list  # phenotype table column names
    target_indices: np.ndarray  # positions of ``targets`` in the phenotype layer
    groups: list | None  # --group-by value of each labelled sample
    pretrain_source: ModelInput  # pre-training pool (the same as ``inputs`` unless given apart)
    normalisation: Normalisation
    summary: dict = field(default_factory=dict)

    @property
    def labelled_ids(self) -> list:
        return [self.inputs.sample_ids[r] for r in self.labelled]


def load_dataset(masks, expression, phenotypes, reference=(), orientation="auto", columns=None, mapping=None,
                 group_by=None, keep_zero=False, sample_column=None, pretrain_expression=None,
                 read_out=False) -> Dataset:
    """``read_out``: the network reads its targets out of all nodes (``--head readout``), so the
    chosen phenotype columns need not be nodes of the masks (e.g. growth on a regulatory network);
    such a target is named by its column and has target index -1."""
    genes = masks.gene_ids
    expr = read_expression(expression, genes, orientation)
    alignment = align(expr.gene_ids, genes, expr.path)
    norm = fit_reference(expr, alignment, list(reference))
    inputs = ModelInput(expr, alignment, norm)
    phen: Phenotypes = read_phenotypes(phenotypes, masks.phenotype_ids, columns, mapping, group_by,
                                       sample_column, keep_zero, unmapped_ok=read_out)
    row_of = {s: i for i, s in enumerate(expr.sample_ids)}
    matched = [(i, row_of[s]) for i, s in enumerate(phen.sample_ids)
               if s in row_of and np.isfinite(phen.values[i]).any()]
    if not matched:
        raise DataError(f"{phenotypes}: no sample with an observed phenotype matches a sample ID of {expression} "
                        f"(phenotype IDs like {phen.sample_ids[0]!r}, expression IDs like {expr.sample_ids[0]!r})")
    prow, labelled = (np.array(v, dtype=np.int64) for v in zip(*matched))
    index = {p: i for i, p in enumerate(masks.phenotype_ids)}
    pretrain = inputs
    if pretrain_expression:
        pexpr = read_expression(pretrain_expression, genes, orientation)
        palign = align(pexpr.gene_ids, genes, pexpr.path)
        own = reference and all(r in set(pexpr.sample_ids) for r in reference)
        # references inside the pre-training file: its own fold changes; else those of the main data's references
        pnorm = fit_reference(pexpr, palign, list(reference)) if own else norm
        pretrain = ModelInput(pexpr, palign, pnorm)
    summary = {
        "expression_file": str(expression), "phenotype_file": str(phenotypes),
        "expression_samples": expr.n_samples, "alignment": alignment.summary(),
        "model_genes_missing": len(alignment.missing), "data_genes_unused": alignment.unused,
        "phenotype_columns": dict(zip(phen.columns, phen.reactions)),
        "labelled_samples": int(labelled.size),
        "phenotype_samples_not_in_expression": int(sum(s not in row_of for s in phen.sample_ids)),
        "zero_observations": "kept" if keep_zero else f"{phen.zeros_dropped} treated as missing",
        "normalisation": norm.settings(),
        "pretrain_samples": pretrain.n_samples,
        "pretrain_file": str(pretrain_expression or expression),
    }
    targets = [r if r is not None else c for r, c in zip(phen.reactions, phen.columns)]
    return Dataset(masks, inputs, labelled, phen.values[prow], targets, list(phen.columns),
                   np.array([index.get(r, -1) if r is not None else -1 for r in phen.reactions], dtype=np.int64),
                   [phen.groups[i] for i in prow] if phen.groups else None, pretrain, norm, summary)
