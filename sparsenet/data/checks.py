"""What a user's data loses on the way in, said out loud: the checks behind the data summary that
``train`` and ``predict`` print first and write into ``report.json``.

Each check returns facts and, where something is probably wrong, one warning sentence that says
what to do; ``--strict`` turns the warnings into errors. Nothing here changes the data.
"""

from __future__ import annotations

import difflib
import re

import numpy as np

LEVELS_MEDIAN = 1.0  # log2 fold changes centre on 0; log2 TPM levels have medians of ~3-8
LEVELS_NEGATIVE = 0.01  # ... and levels are almost never negative
MIN_LINKED_COVERAGE = 0.8  # warn when fewer of the genes the masks link are in the data
SHOWN = 5  # names listed in a warning; the report has all


def _listed(items, n=SHOWN) -> str:
    items = list(items)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(map(str, items[:n])) + more


def _shape(gene_id: str) -> str:
    """b0002 -> a9999: what kind of string the model's IDs are."""
    return re.sub(r"[0-9]", "9", re.sub(r"[A-Za-z]", "a", gene_id))


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: ranks difflib's equally similar candidates (b00O2 is b0002, not b1002)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _zero_padded(gene_id: str, model: set) -> str | None:
    """b003 -> b0003 when that is a model gene: the number written without its leading zeros."""
    m = re.fullmatch(r"([A-Za-z_]*)(\d+)", gene_id)
    if not m:
        return None
    for width in range(len(m.group(2)) + 1, len(m.group(2)) + 4):
        candidate = m.group(1) + m.group(2).zfill(width)
        if candidate in model:
            return candidate
    return None


def suspect_gene_columns(data_ids, model_ids, model_names=()) -> list:
    """Data gene IDs that match no model gene but look like one: a model gene's name (thrA for b0002),
    or an ID of another shape than the model's that is spelled close to one (b003 for b0003). IDs of the
    model's own shape are genes the model lacks (most of a genome), not suspects. Returns
    [(data ID, the model gene ID it probably is, why)]."""
    model = set(model_ids)
    by_name = {}
    for gid, name in zip(model_ids, list(model_names) or [""] * len(model_ids), strict=True):
        if name and name != gid:
            by_name.setdefault(name.lower(), gid)
    shapes = {_shape(g) for g in model_ids}
    lower = {g.lower(): g for g in model_ids}
    out = []
    for d in data_ids:
        if d in model:
            continue
        if d.lower() in lower:
            out.append((d, lower[d.lower()], "the same ID in other letter case"))
        elif d.lower() in by_name:
            out.append((d, by_name[d.lower()], f"the name of {by_name[d.lower()]}"))
        elif not any(_shape(d).startswith(shape) for shape in shapes):
            padded = _zero_padded(d, model)
            close = (
                [padded]
                if padded
                else sorted(difflib.get_close_matches(d, model_ids, n=20, cutoff=0.75), key=lambda g: _edits(d, g))
            )
            if close:
                out.append((d, close[0], "its number without leading zeros" if padded else "spelled close to it"))
    return out


def levels_not_fold_changes(values: np.ndarray) -> dict | None:
    """Facts when values given as log2 fold changes look like log2 levels (no negative values to speak
    of and a median well above 0), else None."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    median, negative = float(np.median(v)), float(np.mean(v < 0))
    if median > LEVELS_MEDIAN and negative < LEVELS_NEGATIVE:
        return {"median": median, "negative_fraction": negative}
    return None


def data_checks(expr, alignment, masks, linked, reference, phenotype_ids=None, mapping=None) -> dict:
    """Every check on one data set: ``expr`` (an Expression) aligned to ``masks`` by ``alignment``;
    ``linked`` (bool per model gene) marks the genes that reach a phenotype; ``reference`` the
    reference sample IDs (empty: values taken as fold changes); ``phenotype_ids``: the phenotype
    table's sample IDs (training only); ``mapping``: how the data's gene labels were mapped to the model's
    IDs (``genes.GeneMapping``), whose losses are then the gene warnings. Returns the facts and warnings."""
    warnings = []
    facts = {}
    if phenotype_ids is not None:
        have = set(expr.sample_ids)
        orphans = [s for s in phenotype_ids if s not in have]
        facts["phenotype_samples_without_expression"] = orphans
        closest = {s: (difflib.get_close_matches(s, list(have), n=1, cutoff=0.7) or [None])[0] for s in orphans[:1000]}
        facts["phenotype_samples_closest_expression_id"] = closest
        if orphans:
            close = closest[orphans[0]]
            hint = f" ({orphans[0]!r} may be {close!r})" if close else ""
            warnings.append(
                f"{len(orphans)} of {len(phenotype_ids)} phenotype rows have no expression profile and "
                f"are left out: {_listed(orphans)}{hint}; make the sample IDs of both files match"
            )
    missing = [g for g, c in zip(masks.gene_ids, alignment.columns, strict=True) if c < 0]
    facts["model_genes_missing"] = missing
    n_linked = int(np.sum(linked))
    found_linked = int(np.sum(linked & (alignment.columns >= 0)))
    facts["linked_genes_found"] = f"{found_linked} of {n_linked}"
    if n_linked and found_linked < MIN_LINKED_COVERAGE * n_linked:
        warnings.append(
            f"only {found_linked} of the {n_linked} genes the masks link to a phenotype are in "
            f"{expr.path.name} ({len(masks.gene_ids) - len(missing)} of "
            f"{len(masks.gene_ids)} model genes); "
            "the others are filled as 'no change', so predictions lean on few genes"
        )
    if mapping is not None:
        facts["gene_labels"] = mapping.summary()
        facts["suspect_gene_columns"] = [
            {"column": lab, "model_gene": c, "why": "spelled close to it"} for lab, c in mapping.unrecognised if c
        ]
        warnings += mapping.warnings(expr.path.name)
        suspects = []
    else:
        suspects = suspect_gene_columns(expr.gene_ids, masks.gene_ids, masks.gene_names)
        facts["suspect_gene_columns"] = [{"column": d, "model_gene": g, "why": why} for d, g, why in suspects]
    if suspects:
        warnings.append(
            f"{len(suspects)} gene ID{'s' if len(suspects) > 1 else ''} of {expr.path.name} match no model "
            "gene but look like one: "
            + _listed(f"{d} ({g}? {why})" for d, g, why in suspects)
            + "; rename them to the model's IDs (sparsenet masks show lists them)"
        )
    if not reference:
        rows = np.linspace(0, expr.n_samples - 1, min(expr.n_samples, 200)).astype(int)
        levels = levels_not_fold_changes(expr.take(np.unique(rows)))
        facts["values_look_like_levels"] = levels
        if levels:
            warnings.append(
                f"the values of {expr.path.name} look like log2 levels, not log2 fold changes (median "
                f"{levels['median']:.2f}, {100 * levels['negative_fraction']:.1f} % negative); name the "
                "control samples with --reference ID1,ID2 so they become fold changes"
            )
    facts["warnings"] = warnings
    return facts
