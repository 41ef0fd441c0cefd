"""The paper's paired-data synthesis: a time series of paired transcriptome/phenotype
measurements smoothed with cubic splines into N synthetic pairs.

Replicates at one time point are averaged first; each gene and each phenotype gets its own
cubic spline over time (scipy, not-a-knot ends), evaluated at N evenly spaced times spanning
the measured range.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline


def spline_pairs(times, expression, phenotypes, n: int):
    """Return (new_times, expression (n x genes), phenotypes (n x k))."""
    times = np.asarray(times, dtype=np.float64)
    if not np.isfinite(times).all():
        raise ValueError("spline: every sample needs a finite time")
    unique = np.unique(times)
    if unique.size < 3:
        raise ValueError(f"spline: needs at least 3 distinct time points, got {unique.size}")
    if n < 1:
        raise ValueError(f"spline: N must be positive, got {n}")
    where = np.searchsorted(unique, times)
    counts = np.bincount(where)

    def mean_by_time(values):
        out = np.zeros((unique.size, values.shape[1]))
        np.add.at(out, where, values)
        return out / counts[:, None]

    expr_t, phen_t = mean_by_time(np.asarray(expression, float)), mean_by_time(np.asarray(phenotypes, float))
    if np.isnan(phen_t).any() or np.isnan(expr_t).any():
        raise ValueError("spline: missing values in the time series; every time point needs every value")
    new_times = np.linspace(unique[0], unique[-1], n)
    return (new_times, CubicSpline(unique, expr_t, axis=0)(new_times), CubicSpline(unique, phen_t, axis=0)(new_times))


@dataclass(frozen=True)
class SplineTables:
    """``sparsenet data spline``'s output: the synthetic expression and phenotype tables as CSV text (a
    ``sample_id`` column, then genes; then the time column and each phenotype), and what they came from."""

    expression_csv: str
    phenotypes_csv: str
    time_points: int
    samples: int
    genes: int
    phenotypes: int


def spline_files(expression, phenotypes, time_column: str, n: int, gene_ids, orientation: str = "auto") -> SplineTables:
    """Read a paired time series (an expression file over ``gene_ids``, orientation detected by them, and a
    numeric table by sample ID with a ``time_column``), align the samples by ID and smooth them into ``n``
    synthetic pairs named spline_000001, ...."""
    from .tables import read_expression, read_text_table

    expr = read_expression(expression, gene_ids, orientation)
    header, ids, values = read_text_table(phenotypes)
    if time_column not in header:
        raise ValueError(f"{phenotypes}: no column {time_column!r} (columns: {', '.join(header[:8])})")
    row = {s: i for i, s in enumerate(ids)}
    missing = [s for s in expr.sample_ids if s not in row]
    if missing:
        raise ValueError(f"{phenotypes}: no row for expression sample {missing[0]!r}")
    order = [row[s] for s in expr.sample_ids]
    t = values[order, header.index(time_column)]
    others = [j for j in range(len(header)) if header[j] != time_column]
    new_t, x, y = spline_pairs(t, expr.take(np.arange(expr.n_samples)), values[order][:, others], n)
    names = [f"spline_{i + 1:06d}" for i in range(n)]

    def table(cols, rows, first):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["sample_id"] + cols)
        for name, extra, r in zip(names, first, rows, strict=True):
            w.writerow([name] + extra + [f"{v:.6g}" for v in r])
        return buf.getvalue()

    return SplineTables(
        table(list(expr.gene_ids), x, [[]] * n),
        table([time_column] + [header[j] for j in others], y, [[f"{v:.6g}"] for v in new_t]),
        len(np.unique(t)),
        expr.n_samples,
        len(expr.gene_ids),
        len(others),
    )
