"""Phenotype tables by sample ID, with columns mapped to phenotype reactions.

A column maps to a phenotype reaction by its ID, or through a mapping ``COLUMN=ID_OR_NAME``
(``--map``): a phenotype's ID or its name in the masks. Built in, any column whose name contains
"growth rate" maps to the model's core biomass reaction. A query that matches nothing is an
error listing the closest phenotypes (a growth word such as "growth", "mu" or "biomass" lists the
biomass reactions) and the command that lists them all. Observations of exactly 0 are treated as
missing by default (PRECISE's 0 growth rates are stress conditions where growth was not measured
as a rate); so are the cells ``DataSpec.na_values`` names (empty, NA, NaN, nan, n.d.).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .spec import DataSpec
from .tables import DataError, cell_kind, parse_cell, read_rows

GROWTH_WORDS = ("growth", "mu", "µ", "biomass", "doubling")


@dataclass
class Phenotypes:
    sample_ids: list
    columns: list  # column names in the table
    reactions: list  # phenotype reaction ID of each column (None: no node; read out of all nodes)
    values: np.ndarray  # samples x columns, NaN = missing
    groups: list | None = None  # the --group-by column, if asked for
    zeros_dropped: int = 0  # observations of 0 treated as missing
    missing_cells: int = 0  # cells read as missing (empty or one of the missing-value texts)


def biomass_reactions(phenotype_ids, phenotype_names=()) -> list:
    """The biomass reactions (by ID or name), the core one first."""
    names = list(phenotype_names) or list(phenotype_ids)
    found = [p for p, n in zip(phenotype_ids, names, strict=True) if "biomass" in p.lower() or "biomass" in n.lower()]
    return sorted(found, key=lambda p: "core" not in p.lower())


def biomass_reaction(phenotype_ids, phenotype_names=()) -> str | None:
    return (biomass_reactions(phenotype_ids, phenotype_names) or [None])[0]


def _masks_label(masks) -> str:
    return f" {masks.source}" if getattr(masks, "source", "") else ""


def closest_phenotypes(query: str, masks, n: int = 5) -> list:
    """Phenotype IDs a user who typed ``query`` most likely meant: the biomass reactions for a growth
    word, then IDs or names containing the query, then the closest spellings."""
    q = query.strip().lower()
    ids, names = list(masks.phenotype_ids), list(masks.phenotype_names) or list(masks.phenotype_ids)
    out = []
    if mentions_growth(q):
        out += biomass_reactions(ids, names)
    out += [p for p, name in zip(ids, names, strict=True) if q and (q in p.lower() or q in name.lower())]
    lower = {p.lower(): p for p in ids} | {name.lower(): p for p, name in zip(ids, names, strict=True)}
    out += [lower[m] for m in difflib.get_close_matches(q, list(lower), n=n, cutoff=0.5)]
    return list(dict.fromkeys(out))[:n]


def describe_phenotypes(ids, masks) -> str:
    names = dict(zip(masks.phenotype_ids, masks.phenotype_names or masks.phenotype_ids, strict=True))
    return "; ".join(f"{p} ({names[p]})" if names.get(p, p) != p else p for p in ids)


def find_phenotype(query: str, masks, where: str = "") -> str:
    """The phenotype ID ``query`` names: an ID, or a name (case-insensitive) that only one phenotype
    has. Otherwise a DataError listing the closest ones and the command that lists all."""
    q = query.strip()
    if q in masks.phenotype_ids:
        return q
    names = masks.phenotype_names or masks.phenotype_ids
    by_name = [p for p, name in zip(masks.phenotype_ids, names, strict=True) if name.strip().lower() == q.lower()]
    if len(by_name) == 1:
        return by_name[0]
    close = by_name or closest_phenotypes(q, masks)
    hint = f"closest: {describe_phenotypes(close, masks)}. " if close else ""
    raise DataError(
        f"{where}{q!r} is not a phenotype ID or name of the masks; {hint}All phenotypes: "
        f"sparsenet masks show{_masks_label(masks)}"
    )


NOT_A_RATE = {"doubling", "yield", "lag", "od", "sd", "std", "se", "sem", "err", "error", "cv", "n", "time"}


def names_growth_rate(text: str) -> bool:
    """'growth', 'growth_rate', 'mu', 'µ', 'Growth Rate (1/hr)': a column that is a growth rate itself (not its
    sd, a doubling time or a yield)."""
    words = set(re.split(r"[^a-zµ]+", text.lower())) - {""}
    return bool(words & {"growth", "mu", "µ"}) and not words & NOT_A_RATE


def mentions_growth(text: str) -> bool:
    """'mu', 'growth_rate', 'Growth (1/h)', 'biomass yield': a name a growth rate goes by."""
    return any(w in GROWTH_WORDS for w in re.split(r"[^a-zµ]+", text.lower()))


def read_phenotypes(spec: DataSpec, masks, unmapped_ok: bool = False) -> Phenotypes:
    """Read ``spec.phenotypes``; ``spec.columns`` chooses columns (default: all that map).
    ``unmapped_ok``: chosen columns may map to no phenotype node (their reaction is None)."""
    path = spec.phenotypes
    rows = read_rows(path)
    if len(rows) < 2:
        raise DataError(f"{path}: empty phenotype table (needs a header and at least one sample)")
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise DataError(f"{path}: ragged table: line {i} has {len(r)} fields, the header has {len(header)}")
    if spec.sample_column and spec.sample_column not in header:
        raise DataError(f"{path}: no sample ID column {spec.sample_column!r}; the columns are {', '.join(header)}")
    id_col = header.index(spec.sample_column) if spec.sample_column else 0
    ids = [r[id_col].strip() for r in rows[1:]]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{path}: duplicate sample ID {dup!r}")

    known = set(masks.phenotype_ids)
    biomass = biomass_reaction(masks.phenotype_ids, masks.phenotype_names)
    mapping = {}
    for name, query in spec.mapping.items():
        if name not in header:
            raise DataError(
                f"{path}: no column {name!r} (from --map {name}={query}); the columns are {', '.join(header)}"
            )
        mapping[name] = find_phenotype(query, masks, f"--map {name}={query}: ")

    rates = [
        c for i, c in enumerate(header) if i != id_col and c not in known and c not in mapping and names_growth_rate(c)
    ]
    growth_column = rates[0] if len(rates) == 1 and biomass else None  # two candidates: the user says which
    if growth_column and "growth rate" not in growth_column.lower():
        import warnings

        from .tables import DataWarning

        warnings.warn(
            DataWarning(
                f"{path}: column {growth_column!r} read as the growth rate (the biomass reaction "
                f"{biomass}); --map '{growth_column}=PHENOTYPE' says otherwise"
            ),
            stacklevel=2,
        )

    def reaction_of(col):
        if col in mapping:
            return mapping[col]
        if col in known:
            return col
        if biomass and (col == growth_column or "growth rate" in col.lower()):
            return biomass
        return None

    chosen = list(spec.columns) or [c for i, c in enumerate(header) if i != id_col and reaction_of(c)]
    for c in chosen:
        if c not in header:
            raise DataError(f"{path}: no column {c!r}; the columns are {', '.join(header)}")
        k = header.index(c)
        texts = sorted({r[k].strip() for r in rows[1:]} - set(spec.na_values))
        if len(texts) >= 2 and not any(cell_kind(v) for v in texts):  # classes, not a phenotype's value
            raise DataError(
                f"{path}: column {c!r} holds classes ({', '.join(texts[:4])}"
                f"{' ...' if len(texts) > 4 else ''}), not numbers: a classification task; sparsenet "
                f"classify EXPRESSION --design {Path(path).name} --label-column '{c}' --hierarchy H.h5 "
                "runs it (docs/pathway_networks.md)"
            )
        if reaction_of(c) is None and not unmapped_ok:
            raise DataError(
                f"{path}: column {c!r} maps to no phenotype reaction; map it with --map "
                f"'{c}={biomass if mentions_growth(c) and biomass else 'PHENOTYPE'}' (all phenotypes: "
                f"sparsenet masks show{_masks_label(masks)}) or read it out of all nodes with --head "
                "readout"
            )
    if not chosen:
        growth = [c for i, c in enumerate(header) if i != id_col and mentions_growth(c)]
        suggestion = f"; for a growth rate: --map '{growth[0]}={biomass}'" if growth and biomass else ""
        raise DataError(
            f"{path}: no column maps to a phenotype of the masks (columns: {', '.join(header)}){suggestion}"
            f"; name columns by phenotype ID or map them with --map 'COLUMN=PHENOTYPE' (IDs and names: "
            f"sparsenet masks show{_masks_label(masks)})"
        )
    values = np.full((len(ids), len(chosen)), np.nan)
    for j, c in enumerate(chosen):
        k = header.index(c)
        for i, r in enumerate(rows[1:]):
            try:
                values[i, j] = parse_cell(r[k], spec.na_values)
            except DataError as e:
                raise DataError(f"{path}: column {c!r}, sample {ids[i]!r}: {e}") from None
    if np.isinf(values).any():
        raise DataError(f"{path}: infinite phenotype value; fix it or mark it missing")
    missing = int(np.isnan(values).sum())
    zeros = 0
    if not spec.keep_zero:
        zeros = int((values == 0).sum())
        values[values == 0] = np.nan
    groups = None
    if spec.group_by:
        if spec.group_by not in header:
            could = [
                c
                for k, c in enumerate(header)
                if k != id_col and 2 <= len({r[k].strip() for r in rows[1:]}) <= (len(rows) - 1) // 2
            ]
            raise DataError(
                f"{path}: no column {spec.group_by!r} to group by (--group-by); columns that could "
                f"group the samples (each value shared by several): {', '.join(could) or 'none'}; or "
                "--cv kfold without groups (replicates then leak across folds)"
            )
        k = header.index(spec.group_by)
        groups = [r[k].strip() or f"(no {spec.group_by}) {ids[i]}" for i, r in enumerate(rows[1:])]
    return Phenotypes(ids, chosen, [reaction_of(c) for c in chosen], values, groups, zeros, missing)
