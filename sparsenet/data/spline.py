"""The paper's paired-data synthesis: a time series of paired transcriptome/phenotype
measurements smoothed with cubic splines into N synthetic pairs.

Replicates at one time point are averaged first; each gene and each phenotype gets its own
cubic spline over time (scipy, not-a-knot ends), evaluated at N evenly spaced times spanning
the measured range.
"""
from __future__ import annotations

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
    return (new_times, CubicSpline(unique, expr_t, axis=0)(new_times),
            CubicSpline(unique, phen_t, axis=0)(new_times))
