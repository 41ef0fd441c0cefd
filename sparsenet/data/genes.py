"""Gene identifiers as labs have them: b-numbers, gene symbols (thrA, gapA, zwf), any letter case,
mapped to the masks' gene IDs, with what was mapped, left out or probably misspelled said out loud.

A data row (or column) label maps to a model gene by its ID (case-insensitive), or by its symbol: the
masks' own gene names, else the E. coli gene table shipped with sparsenet (``ecoli_genes.csv``: the
b-number and symbol of each of the 4,386 genes in PRECISE's ``gene_table.csv``, pymodulon 0.2.1,
sha256 81a08e7a...; used when the masks' genes are b-numbers). A symbol that names several genes
(the insertion elements' ``insA``...) is ambiguous and left out. A label that is no model gene but a
known gene of the genome is a gene the model lacks; any other label is unrecognised and named with the
closest ID or symbol (``zfw`` -> ``zwf (b1852)``). Several labels of one model gene (two ``gapA`` rows,
or ``gapA`` and ``b1779``) are duplicates: averaged, the first kept, or an error (``duplicates``).
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
from dataclasses import dataclass, field

import numpy as np

from ..allowed import one_of
from .checks import _listed, _zero_padded
from .tables import DataError, Expression

GENE_ID_MODES = ("auto", "id", "symbol")
DUPLICATE_MODES = ("mean", "first", "error")
GENOME_TABLE = "ecoli_genes.csv"


def _n(count: int, what: str) -> str:
    """'1 gene', '2 genes'."""
    return f"{count} {what}" + ("" if count == 1 else "s")


@functools.lru_cache(maxsize=1)
def genome_genes() -> tuple:
    """(gene IDs, symbols) of the shipped E. coli gene table ('' where a gene has no symbol)."""
    from ..masks.store import shipped_file

    with open(shipped_file(GENOME_TABLE), newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    neighbouring letters each count 1 (zfw is one edit from zwf)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


class GeneVocabulary:
    """What a label can be for one masks file: its gene IDs, their symbols, and the genome's other genes."""

    def __init__(self, masks):
        self.ids = list(masks.gene_ids)
        self.by_id = {g.lower(): g for g in self.ids}
        names = list(getattr(masks, "gene_names", []) or []) or [""] * len(self.ids)  # masks may name no gene
        symbols = {g: (n if n and n != g else "") for g, n in zip(self.ids, names, strict=True)}
        g_ids, g_symbols = genome_genes()
        self.genome = bool(self.ids) and sum(g in self.by_id for g in (i.lower() for i in g_ids)) >= 0.5 * len(self.ids)
        self.genome_labels = set()
        if self.genome:  # E. coli b-numbers: the shipped table names genes the masks leave unnamed
            for g, s in zip(g_ids, g_symbols, strict=True):
                if g in symbols and not symbols[g] and s:
                    symbols[g] = s
                self.genome_labels.update(x.lower() for x in (g, s) if x)
        self.symbol = symbols
        self.by_symbol: dict = {}
        for g, s in symbols.items():
            if s:
                self.by_symbol.setdefault(s.lower(), []).append(g)
        if self.genome:  # a symbol the genome gives several genes is ambiguous even if the masks hold one
            counts: dict = {}
            for s in g_symbols:
                if s:
                    counts[s.lower()] = counts.get(s.lower(), 0) + 1
            self.ambiguous_in_genome = {s for s, k in counts.items() if k > 1}
        else:
            self.ambiguous_in_genome = set()

    def labels(self) -> list:
        """Every label that names a model gene, its IDs first (``read_expression`` compares them in lower case to
        detect a table's orientation)."""
        return self.ids + [s for s in self.symbol.values() if s]

    def describe(self, gene_id: str) -> str:
        s = self.symbol.get(gene_id, "")
        return f"{s} ({gene_id})" if s else gene_id

    def closest(self, label: str) -> str | None:
        """The model gene ID or symbol a misspelled ``label`` most likely means (at most 2 edits, or a number
        written without its leading zeros), as 'zwf (b1852)'; None when nothing is that close."""
        padded = _zero_padded(label, set(self.ids))
        if padded:
            return self.describe(padded)
        low = label.lower()
        candidates = list(self.by_id) + list(self.by_symbol)
        close = difflib.get_close_matches(low, candidates, n=20, cutoff=0.5)
        scored = sorted(((_edits(low, c), c) for c in close), key=lambda t: t[0])
        if not scored or scored[0][0] > min(2, max(1, len(low) // 3)):
            return None
        best = scored[0][1]
        gene = self.by_id.get(best) or self.by_symbol[best][0]
        return self.describe(gene)


@dataclass
class GeneMapping:
    """Where each data label went: ``model_ids[i]`` is label i's model gene ID, or None."""

    labels: list
    model_ids: list
    how: list  # 'id', 'symbol' or None per label
    ambiguous: dict = field(default_factory=dict)  # label -> the model genes its symbol names
    not_in_model: list = field(default_factory=list)  # known genes of the genome the masks do not hold
    unrecognised: list = field(default_factory=list)  # (label, closest model gene or None)
    duplicates: dict = field(default_factory=dict)  # model gene ID -> its labels, in data order
    duplicate_rule: str = "mean"

    @property
    def by_id(self) -> int:
        return sum(h == "id" for h in self.how)

    @property
    def by_symbol(self) -> int:
        return sum(h == "symbol" for h in self.how)

    def summary(self) -> dict:
        return {
            "labels": len(self.labels),
            "mapped_by_id": self.by_id,
            "mapped_by_symbol": self.by_symbol,
            "ambiguous_symbols": {k: list(v) for k, v in self.ambiguous.items()},
            "genes_not_in_model": len(self.not_in_model),
            "unrecognised": [{"label": lab, "closest": c} for lab, c in self.unrecognised],
            "duplicates": {g: list(v) for g, v in self.duplicates.items()},
            "duplicates_rule": self.duplicate_rule,
            "symbols_mapped": {
                lab: g for lab, g, h in zip(self.labels, self.model_ids, self.how, strict=True) if h == "symbol"
            },
        }

    def sentence(self) -> str:
        """The mapping in one line, for the data summary."""
        parts = [
            f"{_n(self.by_id + self.by_symbol, 'gene label')} mapped to model genes ({self.by_id} by ID, "
            f"{self.by_symbol} by symbol)"
        ]
        if self.not_in_model:
            parts.append(f"{_n(len(self.not_in_model), 'gene')} the model lacks")
        if self.ambiguous:
            parts.append(f"{_n(len(self.ambiguous), 'ambiguous symbol')} left out")
        if self.unrecognised:
            parts.append(f"{_n(len(self.unrecognised), 'label')} unrecognised")
        if self.duplicates:
            parts.append(f"{_n(len(self.duplicates), 'gene')} given more than once ({self.duplicate_rule})")
        return "; ".join(parts)

    def warnings(self, source: str) -> list:
        """One sentence per kind of loss a user should know of (``--strict`` makes the first an error)."""
        out = []
        if self.ambiguous:
            out.append(
                f"{_n(len(self.ambiguous), 'gene symbol')} of {source} name several genes and are left out: "
                + _listed(f"{s} ({'/'.join(g)})" for s, g in self.ambiguous.items())
                + "; use b-numbers for those rows"
            )
        named = [(lab, c) for lab, c in self.unrecognised if c]
        if named:
            out.append(
                f"{_n(len(named), 'gene label')} of {source} match no gene but look like one: "
                + _listed(f"{lab} ({c}?)" for lab, c in named)
                + "; fix their spelling (sparsenet masks show "
                "--gene-table FILE writes every ID and symbol)"
            )
        if self.duplicates:
            what = {"mean": "averaged", "first": "the first kept"}[self.duplicate_rule]
            out.append(
                f"{_n(len(self.duplicates), 'gene')} appear more than once in {source} ({what}; --duplicates "
                "mean|first|error): " + ", ".join(f"{g} as {' and '.join(v)}" for g, v in self.duplicates.items())
            )
        return out


def map_gene_labels(
    labels, masks, mode: str = "auto", duplicates: str = "mean", vocabulary: GeneVocabulary | None = None
) -> GeneMapping:
    """Map data gene labels to the masks' gene IDs: ``mode`` 'id' (IDs only, any case), 'symbol' (symbols
    only) or 'auto' (an ID first, else a symbol)."""
    one_of("--gene-ids", mode, GENE_ID_MODES, DataError)
    one_of("--duplicates", duplicates, DUPLICATE_MODES, DataError)
    v = vocabulary or GeneVocabulary(masks)
    model_ids, how, ambiguous, not_in_model, unrecognised = [], [], {}, [], []
    given = {str(lab).strip().lower() for lab in labels}
    for label in labels:
        low = str(label).strip().lower()
        renamed = re.fullmatch(r"(.+)\.(\d+)", low)
        if renamed and renamed.group(1) in given and (renamed.group(1) in v.by_id or renamed.group(1) in v.by_symbol):
            low = renamed.group(1)  # 'thrA.1': pandas' name for a second 'thrA' column, a duplicate of it
        gene, kind = None, None
        if mode in ("auto", "id") and low in v.by_id:
            gene, kind = v.by_id[low], "id"
        elif mode in ("auto", "symbol") and low in v.by_symbol:
            genes = v.by_symbol[low]
            if len(genes) > 1 or low in v.ambiguous_in_genome:
                ambiguous[label] = genes
            else:
                gene, kind = genes[0], "symbol"
        elif low in v.genome_labels:
            not_in_model.append(label)
        else:
            unrecognised.append((label, v.closest(str(label))))
        model_ids.append(gene)
        how.append(kind)
    seen: dict = {}
    for label, gene in zip(labels, model_ids, strict=True):
        if gene is not None:
            seen.setdefault(gene, []).append(label)
    dups = {g: labs for g, labs in seen.items() if len(labs) > 1}
    return GeneMapping(list(labels), model_ids, how, ambiguous, not_in_model, unrecognised, dups, duplicates)


def resolve_expression_genes(
    expr: Expression, masks, mode: str = "auto", duplicates: str = "mean", vocabulary: GeneVocabulary | None = None
):
    """``expr`` with its gene labels replaced by the masks' gene IDs they map to (duplicates averaged or the
    first kept; labels that map to nothing stay as they are and go unused), and the GeneMapping."""
    mapping = map_gene_labels(expr.gene_ids, masks, mode, duplicates, vocabulary)
    if not any(mapping.model_ids):
        v = vocabulary or GeneVocabulary(masks)
        first = v.ids[0] if v.ids else "?"
        raise DataError(
            f"{expr.path}: no gene label maps to a model gene (labels like "
            f"{expr.gene_ids[0]!r}; the model's "
            f"genes are named like {v.describe(first)!r}) with --gene-ids {mode}"
            + ("; try --gene-ids auto" if mode != "auto" else "")
        )
    if mapping.duplicates and duplicates == "error":
        raise DataError(
            f"{expr.path}: {len(mapping.duplicates)} genes appear more than once: "
            + ", ".join(f"{g} as {' and '.join(v)}" for g, v in mapping.duplicates.items())
            + "; remove the extra rows, or pass --duplicates mean (average them) or first"
        )
    labels = [g if g is not None else str(lab) for lab, g in zip(expr.gene_ids, mapping.model_ids, strict=True)]
    values = expr.values
    if mapping.duplicates:
        first = {}
        keep = []
        for j, g in enumerate(mapping.model_ids):
            if g is None or g not in mapping.duplicates:
                keep.append(j)
            elif g not in first:
                first[g] = j
                keep.append(j)
        if duplicates == "mean":
            if values is None:
                raise DataError(
                    f"{expr.path}: {len(mapping.duplicates)} genes appear more than once "
                    f"({_listed(mapping.duplicates)}); an HDF5 file is streamed, not averaged: pass "
                    "--duplicates first, or remove the extra columns"
                )
            values = values.copy()
            for g, j in first.items():
                cols = [k for k, m in enumerate(mapping.model_ids) if m == g]
                values[:, j] = expr.values[:, cols].mean(axis=1)
        if values is not None:
            values = np.ascontiguousarray(values[:, keep])
            labels = [labels[j] for j in keep]
        else:  # streamed: the extra columns stay in the file under labels no gene has
            for g in mapping.duplicates:
                cols = [k for k, m in enumerate(mapping.model_ids) if m == g]
                for k in cols[1:]:
                    labels[k] = f"{expr.gene_ids[k]} (duplicate of {g}, not used)"
    count: dict = {}
    for j, lab in enumerate(labels):  # a label of no model gene given twice: harmless, kept apart
        count[lab] = count.get(lab, 0) + 1
        if count[lab] > 1:
            labels[j] = f"{lab} (#{count[lab]})"
    out = Expression(expr.path, expr.sample_ids, labels, values, expr._h5, expr.transform)
    return out, mapping
