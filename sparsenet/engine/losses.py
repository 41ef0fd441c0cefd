"""Losses with value and gradient with respect to the prediction."""
from __future__ import annotations

import numpy as np

from .. import backend
from .layer import rows_view
from . import kernels


def _check_pair(pred, target, where):
    if pred.shape != target.shape:
        raise ValueError(f"{where}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")


def sum_squared_error(pred, target):
    """Sum over all entries of (pred - target)^2; returns (value, d value / d pred)."""
    _check_pair(pred, target, "sum_squared_error")
    xp = backend.get_array_module(pred)
    p, transposed = rows_view(pred)
    y = backend.feature_major(target).T if transposed else xp.ascontiguousarray(target)
    y = y.astype(p.dtype, copy=False)
    if xp is np:
        grad = np.empty_like(p)
        row_sums = np.empty(p.shape[0], dtype=np.float64)
        kernels.for_module(np).squared_error(p, y, grad, row_sums)
        value = float(row_sums.sum())
    else:
        diff = p - y
        value = float((diff.astype(xp.float64) ** 2).sum())
        grad = 2 * diff
    return value, (grad.T if transposed else grad)


def sum_abs_relative_error(pred, target, eps: float = 1e-6):
    """Sum of |(y - yhat) / (y + eps)|, the paper's fine-tuning loss (y nudged off zero by eps).

    Entries whose target is NaN are ignored (missing phenotypes). Returns (value, gradient).
    """
    _check_pair(pred, target, "sum_abs_relative_error")
    xp = backend.get_array_module(pred)
    y = xp.asarray(target, dtype=pred.dtype)
    known = ~xp.isnan(y)
    denom = xp.where(known, y + eps, 1)
    r = xp.where(known, (y - pred) / denom, 0)
    value = float(xp.abs(r).sum())
    grad = (-xp.sign(r) / denom).astype(pred.dtype)
    return value, grad
