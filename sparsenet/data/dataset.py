"""Assemble one training data set: expression aligned to the masks' genes, phenotypes matched by
sample ID, the fine-tuning targets located in the phenotype layer, and the checks of what the
data lost on the way (``summary['checks']``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..masks.store import linked_genes
from .checks import data_checks
from .genes import GeneVocabulary, resolve_expression_genes
from .normalise import ModelInput, Normalisation, fit_reference
from .phenotypes import read_phenotypes
from .spec import DataSpec
from .tables import DataError, align, read_expression, said_while


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

    @property
    def warnings(self) -> list:
        return self.summary.get("checks", {}).get("warnings", [])


def load_dataset(masks, spec: DataSpec, read_out: bool = False) -> Dataset:
    """The data set ``spec`` describes, aligned to ``masks``. ``read_out``: the network reads its
    targets out of all nodes (``--head readout``), so the chosen phenotype columns need not be nodes of
    the masks (e.g. growth on a regulatory network); such a target is named by its column and has
    target index -1."""
    genes = masks.gene_ids
    vocabulary = GeneVocabulary(masks)
    expr, read_warnings = said_while(
        read_expression, spec.expression, vocabulary.labels(), spec.orientation, spec.na_values, spec.transform
    )
    expr, mapping = resolve_expression_genes(expr, masks, spec.gene_ids, spec.duplicates, vocabulary)
    alignment = align(expr.gene_ids, genes, expr.path)
    norm = fit_reference(expr, alignment, list(spec.reference))
    inputs = ModelInput(expr, alignment, norm)
    phen, phen_warnings = said_while(read_phenotypes, spec, masks, unmapped_ok=read_out)
    row_of = {s: i for i, s in enumerate(expr.sample_ids)}
    matched = [
        (i, row_of[s]) for i, s in enumerate(phen.sample_ids) if s in row_of and np.isfinite(phen.values[i]).any()
    ]
    if not matched:
        raise DataError(
            f"{spec.phenotypes}: no sample with an observed phenotype matches a sample ID of "
            f"{spec.expression} (phenotype IDs like {phen.sample_ids[0]!r}, expression IDs like "
            f"{expr.sample_ids[0]!r})"
        )
    prow, labelled = (np.array(v, dtype=np.int64) for v in zip(*matched, strict=True))
    index = {p: i for i, p in enumerate(masks.phenotype_ids)}
    pretrain = inputs
    if spec.pretrain_expression:
        pexpr = read_expression(
            spec.pretrain_expression, vocabulary.labels(), spec.orientation, spec.na_values, spec.transform
        )
        pexpr, _ = resolve_expression_genes(pexpr, masks, spec.gene_ids, spec.duplicates, vocabulary)
        palign = align(pexpr.gene_ids, genes, pexpr.path)
        own = spec.reference and all(r in set(pexpr.sample_ids) for r in spec.reference)
        # references inside the pre-training file: its own fold changes; else those of the main data's references
        pnorm = fit_reference(pexpr, palign, list(spec.reference)) if own else norm
        pretrain = ModelInput(pexpr, palign, pnorm)
    checks = data_checks(expr, alignment, masks, linked_genes(masks), spec.reference, phen.sample_ids, mapping)
    checks["warnings"] = read_warnings + phen_warnings + checks["warnings"]  # what reading changed, first
    summary = {
        "expression_file": str(spec.expression),
        "phenotype_file": str(spec.phenotypes),
        "expression_samples": expr.n_samples,
        "alignment": alignment.summary(),
        "gene_labels": mapping.sentence(),
        "model_genes_missing": len(alignment.missing),
        "data_genes_unused": alignment.unused,
        "phenotype_columns": dict(zip(phen.columns, phen.reactions, strict=True)),
        "labelled_samples": int(labelled.size),
        "phenotype_samples_not_in_expression": len(checks["phenotype_samples_without_expression"]),
        "missing_phenotype_cells": f"{phen.missing_cells} (read as missing: "
        f"{', '.join(repr(v) for v in spec.na_values)})",
        "zero_observations": "kept" if spec.keep_zero else f"{phen.zeros_dropped} treated as missing",
        "normalisation": norm.settings(),
        "pretrain_samples": pretrain.n_samples,
        "pretrain_file": str(spec.pretrain_expression or spec.expression),
        "checks": checks,
    }
    targets = [r if r is not None else c for r, c in zip(phen.reactions, phen.columns, strict=True)]
    return Dataset(
        masks,
        inputs,
        labelled,
        phen.values[prow],
        targets,
        list(phen.columns),
        np.array([index.get(r, -1) if r is not None else -1 for r in phen.reactions], dtype=np.int64),
        [phen.groups[i] for i in prow] if phen.groups else None,
        pretrain,
        norm,
        summary,
    )
