"""Two wirings over overlapping genes as one masks file: the genes of both, the nodes of both side by
side (a metabolic model's phenotypes beside a regulatory network's regulators), each node linked to
the genes it had. Both must wire genes one-to-one to proteins."""

from __future__ import annotations

import datetime

import numpy as np
import scipy.sparse as sp

from .store import Masks, is_identity


def combine(first: Masks, second: Masks, names=("first", "second")) -> Masks:
    """``first``'s genes then ``second``'s new ones; ``first``'s nodes then ``second``'s (a node ID both have
    gets its masks' name as a prefix)."""
    for m, name in zip((first, second), names, strict=True):
        if not is_identity(m.gene_protein):
            raise ValueError(f"{name}: combining needs one-to-one gene -> protein masks")
    genes = list(first.gene_ids) + [g for g in second.gene_ids if g not in set(first.gene_ids)]
    column = {g: i for i, g in enumerate(genes)}
    shared = set(first.phenotype_ids) & set(second.phenotype_ids)

    def node(pid, prefix):
        return f"{prefix}:{pid}" if pid in shared else pid

    blocks = []
    for m in (first, second):
        pp = sp.csr_matrix(m.protein_phenotype)
        cols = np.array([column[g] for g in m.gene_ids])[pp.indices]
        rows = np.repeat(np.arange(pp.shape[0]), np.diff(pp.indptr))
        blocks.append(sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(pp.shape[0], len(genes))))
    pp = sp.vstack(blocks, format="csr")
    pp.sort_indices()
    ids = [node(p, names[0]) for p in first.phenotype_ids] + [node(p, names[1]) for p in second.phenotype_ids]
    labels = list(first.phenotype_names or first.phenotype_ids) + list(second.phenotype_names or second.phenotype_ids)
    gene_names = {}
    for m in (second, first):  # the first's names win
        gene_names.update({g: m.gene_label(i) for i, g in enumerate(m.gene_ids) if m.gene_label(i)})
    return Masks(
        genes,
        list(genes),
        ids,
        labels,
        sp.identity(len(genes), format="csr"),
        pp,
        gene_names=[gene_names.get(g, g) for g in genes] if gene_names else [],
        attrs={
            "kind": "combined",
            "first": names[0],
            "second": names[1],
            "first_links": int(first.protein_phenotype.nnz),
            "second_links": int(second.protein_phenotype.nnz),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        },
    )
