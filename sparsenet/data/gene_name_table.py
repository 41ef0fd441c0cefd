"""Gene names for a masks file from any table of gene ID -> name (a genome annotation, PRECISE's
``gene_table.csv``): what ``masks show``, ``links.csv`` and the data checks print beside IDs.

A COBRA model often carries no gene names (cobra's iJO1366 has none); names never change the
wiring or the masks' fingerprint.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from ..masks.store import Masks
from .tables import DataError, read_rows


def names_from_table(path, id_column: str | None = None, name_column: str = "gene_name") -> dict:
    """{gene ID: name} from a CSV/TSV with a header; ``id_column`` defaults to the first column."""
    rows = read_rows(path)
    if len(rows) < 2:
        raise DataError(f"{path}: empty table (needs a header and one gene per row)")
    header = [h.strip() for h in rows[0]]
    i = 0 if id_column is None else (header.index(id_column) if id_column in header else -1)
    if i < 0 or name_column not in header:
        missing = id_column if i < 0 else name_column
        raise DataError(f"{path}: no column {missing!r}; the columns are {', '.join(h or '(blank)' for h in header)}")
    j = header.index(name_column)
    return {r[i].strip(): r[j].strip() for r in rows[1:] if len(r) > max(i, j) and r[i].strip() and r[j].strip()}


def with_gene_names(masks: Masks, names: dict, source: str) -> Masks:
    """``masks`` with each gene's name from ``names`` (genes absent from it keep their ID as name);
    the table's file name and SHA-256 go into the provenance."""
    found = [names.get(g, "") for g in masks.gene_ids]
    if not any(found):
        raise DataError(
            f"{source}: none of its IDs is a gene of the masks (masks genes look like "
            f"{masks.gene_ids[0]!r}); check --id-column"
        )
    attrs = dict(
        masks.attrs,
        gene_names_from=Path(source).name,
        gene_names_sha256=hashlib.sha256(Path(source).read_bytes()).hexdigest(),
        gene_names_found=sum(bool(n) for n in found),
    )
    return dataclasses.replace(
        masks, gene_names=[n or g for n, g in zip(found, masks.gene_ids, strict=True)], attrs=attrs
    )
