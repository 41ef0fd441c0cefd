"""Losses with value and gradient with respect to the prediction.

The value is a Python float on the CPU and a 0-d device array on the GPU, so that a training
step never waits for the GPU; ``float(value)`` when it is logged."""

from __future__ import annotations

import numpy as np

from .. import backend
from .layer import rows_view
from . import kernels


def _host_if_cpu(xp, value):
    return float(value) if xp is np else value


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
        raise ValueError(
            f"sum_squared_error: feature_weight has shape {tuple(feature_weight.shape)}, expected ({pred.shape[1]},)"
        )
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
        value = _host_if_cpu(xp, (w * diff.astype(xp.float64) ** 2).sum())
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
    value = _host_if_cpu(xp, xp.abs(r).sum())
    grad = (-xp.sign(r) / denom).astype(pred.dtype)
    return value, grad


def _fused_operands(a, scale, target, feature_weight, where):
    """Checked operands of a fused output-layer loss: (xp, n, weights, a^T, target^T), feature-major."""
    _check_pair(a, target, where)
    xp = backend.get_array_module(a)
    n = a.shape[1]
    if tuple(scale.shape) != (n,) or (feature_weight is not None and tuple(feature_weight.shape) != (n,)):
        raise ValueError(f"{where}: scale and feature_weight need shape ({n},)")
    w = xp.ones(n, a.dtype) if feature_weight is None else xp.asarray(feature_weight, a.dtype)
    return xp, n, w, backend.feature_major(a).T, backend.feature_major(xp.asarray(target, dtype=a.dtype)).T


def scaled_squared_error(h, scale, target, feature_weight=None):
    """The output one-to-one layer and the sum of squared error, fused: out = h * scale.

    Returns (value, d value / d h, d value / d scale) for value = sum w_f (h scale_f - y)^2,
    reading ``h`` and ``target`` once instead of materialising ``out`` and its gradient.
    """
    xp, n, w, hT, yT = _fused_operands(h, scale, target, feature_weight, "scaled_squared_error")
    if xp is np:
        ghT = np.empty_like(hT)
        gd = np.empty(n, dtype=h.dtype)
        row_sums = np.empty(n, dtype=np.float64)
        kernels.for_module(np).scaled_squared_error(hT, np.ascontiguousarray(scale), yT, w, ghT, gd, row_sums)
        return float(row_sums.sum()), ghT.T, gd
    diff = scale[:, None] * hT - yT
    g = 2 * w[:, None] * diff
    value = (w[:, None] * diff.astype(xp.float64) ** 2).sum()
    return value, (scale[:, None] * g).T, (g * hT).sum(axis=1).astype(h.dtype)


def softplus_scaled_squared_error(z, scale, target, feature_weight=None):
    """Softplus, the output one-to-one layer and the sum of squared error, fused:
    out = softplus(z) * scale. Returns (value, d value / d z, d value / d scale).

    The pre-training step of an autoencoder ending in ``[..., Softplus(), OneToOne]`` runs its
    last two layers and the loss as this one pass over ``z`` and ``target``.
    """
    xp, n, w, zT, yT = _fused_operands(z, scale, target, feature_weight, "softplus_scaled_squared_error")
    if xp is np:
        gzT = np.empty_like(zT)
        gd = np.empty(n, dtype=z.dtype)
        row_sums = np.empty(n, dtype=np.float64)
        kernels.for_module(np).softplus_scaled_squared_error(zT, np.ascontiguousarray(scale), yT, w, gzT, gd, row_sums)
        return float(row_sums.sum()), gzT.T, gd
    h = xp.logaddexp(0, zT)
    diff = scale[:, None] * h - yT
    g = 2 * w[:, None] * diff
    value = (w[:, None] * diff.astype(xp.float64) ** 2).sum()
    slope = xp.exp(-xp.logaddexp(0, -zT))
    return value, (scale[:, None] * g * slope).T, (g * h).sum(axis=1).astype(z.dtype)


def _entry_weights(xp, shape, dtype, sample_weight, feature_weight, where):
    """Broadcastable weights w_s w_f of a (batch, features) loss, or None for all ones."""
    n, f = shape
    w = None
    if sample_weight is not None:
        sw = xp.asarray(sample_weight, dtype=dtype)
        if tuple(sw.shape) != (n,):
            raise ValueError(f"{where}: sample_weight has shape {tuple(sw.shape)}, expected ({n},)")
        w = sw[:, None]
    if feature_weight is not None:
        fw = xp.asarray(feature_weight, dtype=dtype)
        if tuple(fw.shape) != (f,):
            raise ValueError(f"{where}: feature_weight has shape {tuple(fw.shape)}, expected ({f},)")
        w = fw[None, :] if w is None else w * fw[None, :]
    return w


def mean_squared_error(pred, target, sample_weight=None, feature_weight=None):
    """Mean over all batch x features entries of w_s w_f (pred - target)^2, with optional
    per-sample (``sample_weight``, one per row) and per-feature weights (the mean divides by the
    entry count, not by the weights' sum). Returns (value, d value / d pred)."""
    _check_pair(pred, target, "mean_squared_error")
    xp = backend.get_array_module(pred)
    w = _entry_weights(xp, pred.shape, pred.dtype, sample_weight, feature_weight, "mean_squared_error")
    diff = pred - xp.asarray(target, dtype=pred.dtype)
    count = pred.shape[0] * pred.shape[1]
    sq = diff.astype(xp.float64) ** 2
    value = (sq if w is None else w * sq).sum() / count
    grad = (2 / count) * (diff if w is None else w * diff)
    return _host_if_cpu(xp, value), grad.astype(pred.dtype)


def binary_cross_entropy_with_logits(logits, target, sample_weight=None, feature_weight=None):
    """Mean over all entries of w_s w_f [max(z, 0) - z y + log1p(e^-|z|)], the binary
    cross-entropy of sigmoid(z) against y in [0, 1], in a form that never overflows and never
    takes log(0). Gradient: w_s w_f (sigmoid(z) - y) / entries. Targets outside [0, 1] are
    refused on the CPU (a check on the GPU would wait for the device)."""
    _check_pair(logits, target, "binary_cross_entropy_with_logits")
    xp = backend.get_array_module(logits)
    y = xp.asarray(target, dtype=logits.dtype)
    if xp is np and y.size and not (np.all(y >= 0) and np.all(y <= 1)):
        raise ValueError("binary_cross_entropy_with_logits: targets must lie in [0, 1]")
    w = _entry_weights(
        xp, logits.shape, logits.dtype, sample_weight, feature_weight, "binary_cross_entropy_with_logits"
    )
    z = logits
    e = xp.exp(-xp.abs(z))
    terms = xp.maximum(z, 0).astype(xp.float64) - (z * y).astype(xp.float64) + xp.log1p(e).astype(xp.float64)
    count = z.shape[0] * z.shape[1]
    value = (terms if w is None else w * terms).sum() / count
    sig = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))
    grad = (sig - y) / count
    return _host_if_cpu(xp, value), (grad if w is None else w * grad).astype(z.dtype)


def softmax_cross_entropy(logits, target, sample_weight=None):
    """Mean over samples of w_s [logsumexp(z) - z_y], the cross-entropy of softmax(z) against class
    indices ``target`` (one int per row, in [0, classes)); logsumexp shifted by the row's maximum, so it
    never overflows. Gradient: w_s (softmax(z) - onehot(y)) / samples."""
    xp = backend.get_array_module(logits)
    n, k = logits.shape
    y = xp.asarray(target).astype(xp.int64).ravel()
    if tuple(y.shape) != (n,):
        raise ValueError(f"softmax_cross_entropy: {y.shape[0]} targets for {n} rows of logits")
    if xp is np and n and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"softmax_cross_entropy: class indices must lie in [0, {k})")
    z = logits.astype(xp.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = xp.arange(n)
    terms = xp.log(total[:, 0]) - shifted[rows, y]
    grad = e / total
    grad[rows, y] -= 1
    if sample_weight is not None:
        sw = xp.asarray(sample_weight, dtype=xp.float64)
        if tuple(sw.shape) != (n,):
            raise ValueError(f"softmax_cross_entropy: sample_weight has shape {tuple(sw.shape)}, expected ({n},)")
        terms, grad = terms * sw, grad * sw[:, None]
    return _host_if_cpu(xp, terms.sum() / n), (grad / n).astype(logits.dtype)
