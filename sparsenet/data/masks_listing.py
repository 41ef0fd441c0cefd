"""What ``sparsenet masks show`` lists: a masks file's phenotypes and genes, found by a query, and the
table of gene IDs and symbols that ``--gene-ids`` maps."""

from __future__ import annotations

import csv
import io

from .phenotypes import biomass_reactions, mentions_growth


def masks_listing(masks, find: str | None = None) -> dict:
    """Phenotypes (ID, name, linked genes) and genes (ID, name, phenotypes) whose ID or name contains
    ``find`` (case-insensitive); a growth word ('growth', 'mu', 'biomass') also finds the biomass reactions."""
    from .genes import GeneVocabulary

    pp = masks.protein_phenotype.tocsr() @ masks.gene_protein.tocsr()
    per_phenotype, per_gene = pp.getnnz(axis=1), pp.getnnz(axis=0)
    names = masks.phenotype_names or masks.phenotype_ids
    q = find.lower() if find else None
    growth = set(biomass_reactions(masks.phenotype_ids, names)) if q and mentions_growth(q) else set()

    def shown(*texts):
        return q is None or any(q in t.lower() for t in texts)

    vocabulary = GeneVocabulary(masks)
    phenotypes = [
        {"id": p, "name": n, "linked_genes": int(k)}
        for p, n, k in zip(masks.phenotype_ids, names, per_phenotype, strict=True)
        if p in growth or shown(p, n)
    ]
    genes = [
        {"id": g, "name": vocabulary.symbol.get(g, ""), "phenotypes": int(per_gene[i])}
        for i, g in enumerate(masks.gene_ids)
        if shown(g, vocabulary.symbol.get(g, ""))
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["gene_id", "symbol", "phenotypes_linked"])
    for i, g in enumerate(masks.gene_ids):
        w.writerow([g, vocabulary.symbol.get(g, ""), int(per_gene[i])])
    return {
        "summary": masks.summary(),
        "provenance": {k: v for k, v in masks.attrs.items() if k != "format"},
        "phenotypes": phenotypes,
        "genes": genes,
        "named": any(vocabulary.symbol.values()),
        "gene_table_csv": buf.getvalue(),
    }
