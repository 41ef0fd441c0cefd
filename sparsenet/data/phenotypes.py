"""Phenotype tables by sample ID, with columns mapped to phenotype reactions.

A column maps to a phenotype reaction by its ID, or through a name mapping: built in, any
column whose name contains "growth rate" maps to the model's core biomass reaction.
Observations of exactly 0 are treated as missing by default (PRECISE's 0 growth rates are
stress conditions where growth was not measured as a rate).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tables import DataError, read_rows


@dataclass
class Phenotypes:
    sample_ids: list
    columns: list  # column names in the table
    reactions: list  # phenotype reaction ID of each column
    values: np.ndarray  # samples x columns, NaN = missing
    groups: list | None = None  # the --group-by column, if asked for
    zeros_dropped: int = 0  # observations of 0 treated as missing


def biomass_reaction(phenotype_ids) -> str | None:
    biomass = [p for p in phenotype_ids if "biomass" in p.lower()]
    core = [p for p in biomass if "core" in p.lower()]
    return (core or biomass or [None])[0]


def read_phenotypes(path, phenotype_ids, columns=None, mapping=None, group_by=None,
                    sample_column=None, keep_zero=False, unmapped_ok=False) -> Phenotypes:
    """Read the phenotype table; ``columns`` chooses columns (default: all that map).
    ``unmapped_ok``: chosen columns may map to no phenotype node (their reaction is None)."""
    path = Path(path)
    rows = read_rows(path)
    if len(rows) < 2:
        raise DataError(f"{path}: empty phenotype table (needs a header and at least one sample)")
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise DataError(f"{path}: ragged table: line {i} has {len(r)} fields, the header has {len(header)}")
    id_col = header.index(sample_column) if sample_column else 0
    if sample_column and sample_column not in header:
        raise DataError(f"{path}: no sample ID column {sample_column!r}")
    ids = [r[id_col].strip() for r in rows[1:]]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{path}: duplicate sample ID {dup!r}")

    known = set(phenotype_ids)
    biomass = biomass_reaction(phenotype_ids)
    mapping = dict(mapping or {})
    for name, reaction in mapping.items():
        if name not in header:
            raise DataError(f"{path}: no column {name!r} (from the phenotype mapping)")
        if reaction not in known:
            raise DataError(f"phenotype mapping {name}={reaction}: {reaction!r} is not a phenotype of the masks")

    def reaction_of(col):
        if col in mapping:
            return mapping[col]
        if col in known:
            return col
        if "growth rate" in col.lower() and biomass:
            return biomass
        return None

    chosen = list(columns) if columns else [c for i, c in enumerate(header) if i != id_col and reaction_of(c)]
    for c in chosen:
        if c not in header:
            raise DataError(f"{path}: no column {c!r}; columns are {', '.join(header[:8])}...")
        if reaction_of(c) is None and not unmapped_ok:
            raise DataError(f"{path}: column {c!r} maps to no phenotype reaction; map it with --map '{c}=REACTION_ID' "
                            "or read it out of all nodes with --head readout")
    if not chosen:
        raise DataError(f"{path}: no column maps to a phenotype reaction; name columns by reaction ID, "
                        "use --map 'COLUMN=REACTION_ID', or choose them with --phenotype COLUMN (read out of all "
                        "nodes with --head readout)")
    values = np.full((len(ids), len(chosen)), np.nan)
    for j, c in enumerate(chosen):
        k = header.index(c)
        for i, r in enumerate(rows[1:]):
            cell = r[k].strip()
            if cell:
                try:
                    values[i, j] = float(cell)
                except ValueError:
                    raise DataError(f"{path}: column {c!r}, sample {ids[i]!r}: {cell!r} is not a number") from None
    if np.isinf(values).any():
        raise DataError(f"{path}: infinite phenotype value; fix or leave the cell empty")
    zeros = 0
    if not keep_zero:
        zeros = int((values == 0).sum())
        values[values == 0] = np.nan
    groups = None
    if group_by:
        if group_by not in header:
            raise DataError(f"{path}: no column {group_by!r} to group by (--group-by)")
        k = header.index(group_by)
        groups = [r[k].strip() or f"(no {group_by}) {ids[i]}" for i, r in enumerate(rows[1:])]
    return Phenotypes(ids, chosen, [reaction_of(c) for c in chosen], values, groups, zeros)
