"""Losses with value and gradient with respect to the prediction."""
from __future__ import annotations

import numpy as np

from .. import backend
from .layer import rows_view
from . import kernels


def _check_pair(pred, target, where):
    if pred.shape != target.shape:
        raise ValueError(f"{where}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")


def sum_squared_error(pred, target, feature_weight=None):
    """Sum over all entries of w_f (pred - target)^2; returns (value, d value / d pred).

    ``feature_weight`` (one per feature, default all 1) weighs each feature's error; a weight of
    0 leaves a feature out of the loss (e.g. genes the network cannot reconstruct).
    """
    _check_pair(pred, target, "sum_squared_error")
    xp = backend.get_array_module(pred)
    if feature_weight is not None and tuple(feature_weight.shape) != (pred.shape[1],):
        raise ValueError(f"sum_squared_error: feature_weight has shape {tuple(feature_weight.shape)}, "
                         f"expected ({pred.shape[1]},)")
    p, transposed = rows_view(pred)
    y = backend.feature_major(target).T if transposed else xp.ascontiguousarray(target)
    y = y.astype(p.dtype, copy=False)
    if xp is np and (transposed or feature_weight is None):
        grad = np.empty_like(p)
        row_sums = np.empty(p.shape[0], dtype=np.float64)
        w = np.ones(p.shape[0], p.dtype) if feature_weight is None else np.asarray(feature_weight, p.dtype)
        kernels.for_module(np).squared_error(p, y, w, grad, row_sums)
        value = float(row_sums.sum())
    else:
        w = 1 if feature_weight is None else xp.asarray(feature_weight, p.dtype)
        w = w[:, None] if (transposed and feature_weight is not None) else w
        diff = p - y
        value = float((w * diff.astype(xp.float64) ** 2).sum())
        grad = (2 * w * diff).astype(p.dtype)
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
