"""Masks from an edge list: any bipartite network (regulator -> gene, gene -> pathway,
gene -> iModulon) as the masks file ``sparsenet train --masks`` reads.

The ``source`` column holds the input layer's IDs (genes: matched to the expression data by
ID, as for the COBRA masks); the ``target`` column the nodes of the next layer (regulators,
pathways). A multi-level hierarchy is several of these, one per level, wired in code
(``masks_from_edges(...).protein_phenotype`` of each level into a ``MaskedLinear``).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .store import Masks


def read_edges(path, source: str, target: str, allow_self_loops: bool = False):
    """(sources, targets) of each edge, checked; ValueError naming the file, line and fix otherwise."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such edge list")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab", ".txt") else ","
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ValueError(f"{path}: empty file; an edge list needs a header row and one edge per row")
        header = [h.strip() for h in header]
        for column, what in ((source, "--source"), (target, "--target")):
            if column not in header:
                raise ValueError(f"{path}: no column {column!r} for {what}; the columns are {', '.join(header)}")
        if source == target:
            raise ValueError(f"{path}: --source and --target name the same column {source!r}")
        i, j = header.index(source), header.index(target)
        sources, targets, seen = [], [], {}
        for line, row in enumerate(reader, start=2):
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) <= max(i, j):
                raise ValueError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
            a, b = row[i].strip(), row[j].strip()
            if not a or not b:
                raise ValueError(
                    f"{path}, line {line}: empty {source if not a else target!r}; every edge needs both ends"
                )
            if a == b and not allow_self_loops:
                raise ValueError(
                    f"{path}, line {line}: self-loop {a!r} -> {b!r}; a layer's nodes are not its inputs "
                    "(drop the row, or pass --allow-self-loops if the IDs only coincide)"
                )
            if (a, b) in seen:
                raise ValueError(
                    f"{path}, line {line}: duplicate edge {a!r} -> {b!r} (first on line {seen[a, b]}); "
                    "remove the repeat"
                )
            seen[a, b] = line
            sources.append(a)
            targets.append(b)
    if not sources:
        raise ValueError(f"{path}: a header but no edges")
    return sources, targets


def masks_from_edges(path, source: str, target: str, allow_self_loops: bool = False) -> Masks:
    """The masks of a bipartite network: inputs (the ``source`` IDs, one-to-one to proteins) ->
    nodes (the ``target`` IDs), both sorted; provenance (file, SHA-256, columns, date) in attrs."""
    sources, targets = read_edges(path, source, target, allow_self_loops)
    inputs, nodes = sorted(set(sources)), sorted(set(targets))
    col = {g: k for k, g in enumerate(inputs)}
    row = {n: k for k, n in enumerate(nodes)}
    links = sp.csr_matrix(
        (np.ones(len(sources)), ([row[t] for t in targets], [col[s] for s in sources])), shape=(len(nodes), len(inputs))
    )
    links.sort_indices()
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return Masks(
        gene_ids=inputs,
        protein_ids=list(inputs),
        phenotype_ids=nodes,
        phenotype_names=list(nodes),
        gene_protein=sp.identity(len(inputs), format="csr"),
        protein_phenotype=links,
        attrs={
            "kind": "edge list",
            "edges_file": str(Path(path).name),
            "edges_sha256": digest,
            "source_column": source,
            "target_column": target,
            "edges": len(sources),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        },
    )
