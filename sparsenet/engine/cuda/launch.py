"""Launchers for the CUDA kernels in this folder (compiled once with cupy.RawModule).

Same names and signatures as ``cpu_kernels`` so layers call either set the same way.
All arrays are float32/int32, C-contiguous, feature-major (features, batch). Nothing here
synchronises with the host: sizes come from array shapes, never from device values.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cupy as cp
import numpy as np

from .sources import read_source

SOURCES = Path(__file__).parent
THREADS = 256
TILE = 1024  # batch samples per reduction tile: 5 tiles at the paper's batch of 5,000
SDDMM_WARPS = THREADS // 32  # nonzeros per SDDMM block (one warp each)
MAX_GRID_Y = 65535
ACT_SOFTPLUS = 1  # activation codes: activation.cuh (0 none, 1 softplus, 2 relu, 3 tanh, 4 sigmoid)


OPTIONS = ("--std=c++14",)  # NVRTC options; headers are written into the source (sources.py)


@functools.cache
def _module(filename: str):
    return cp.RawModule(code=read_source(filename, SOURCES), options=OPTIONS)


def _kernel(filename: str, name: str):
    return _module(filename).get_function(name)


def _check(*arrays):
    for a in arrays:
        if a.dtype not in (cp.float32, cp.int32) and a.size:
            raise ValueError(
                f"the GPU kernels take float32 arrays, got {a.dtype}; build the network with dtype float32"
            )
        if a.size and not a.flags.c_contiguous:
            raise ValueError("the GPU kernels take C-contiguous feature-major arrays")


def _grid(n: int) -> int:
    return int(min(max(1, (n + THREADS - 1) // THREADS), 65535 * 4))


def n_tiles(batch: int) -> int:
    """Batch tiles a reduction over the batch is split into (one partial each, summed in order)."""
    return max(1, -(-int(batch) // TILE))


def masked_forward(indptr, indices, weight, bias, xT, outT, slopeT, act):
    _check(weight, bias, xT, outT, slopeT)
    n_out = int(indptr.size - 1)
    batch = int(xT.shape[1])
    grid = ((batch + THREADS - 1) // THREADS, min(n_out, MAX_GRID_Y))
    _kernel("masked_linear.cu", "masked_forward")(
        grid,
        (THREADS,),
        (
            indptr,
            indices,
            weight,
            bias,
            np.int32(bias.size == n_out),
            xT,
            outT,
            slopeT,
            np.int32(act),
            np.int32(n_out),
            np.int32(batch),
        ),
    )


def _sddmm(indptr, indices, dzT, xT, dw_tiles):
    n_out, nnz, batch = int(indptr.size - 1), int(indices.size), int(xT.shape[1])
    if nnz == 0:
        return
    grid = (-(-nnz // SDDMM_WARPS), n_tiles(batch))
    _kernel("masked_linear.cu", "sddmm")(
        grid,
        (THREADS,),
        (indptr, indices, dzT, xT, dw_tiles, np.int32(n_out), np.int32(nnz), np.int32(batch), np.int32(TILE)),
    )


def masked_backward(
    indptr,
    indices,
    t_indptr,
    t_indices,
    t_weight,
    xT,
    gT,
    slopeT,
    act,
    dzT,
    dxT,
    dw_tiles,
    db_tiles,
    want_dx,
    want_params,
):
    _check(xT, gT, slopeT, dzT, dxT, dw_tiles, db_tiles)
    n_out = int(indptr.size - 1)
    batch = int(xT.shape[1])
    if act or want_params:
        _kernel("masked_linear.cu", "slope_rowsum")(
            (n_tiles(batch), min(n_out, MAX_GRID_Y)),
            (THREADS,),
            (
                gT,
                slopeT,
                dzT,
                db_tiles,
                np.int32(act != 0),
                np.int32(bool(want_params)),
                np.int32(n_out),
                np.int32(batch),
                np.int32(TILE),
            ),
        )
    if want_params:
        _sddmm(indptr, indices, dzT, xT, dw_tiles)
    if want_dx:
        empty = cp.zeros(0, dtype=cp.float32)
        masked_forward(t_indptr, t_indices, t_weight, empty, dzT, dxT, empty.reshape(0, 0), 0)


def masked_forward_softplus_scaled_sse(
    indptr,
    indices,
    weight,
    bias,
    xT,
    d,
    yT,
    row_weight,
    grad_zT,
    grad_d_tiles,
    loss_tiles,
    dw_tiles,
    db_tiles,
    want_params,
):
    """The decoder, softplus, the output one-to-one layer and the SSE in one kernel (as the CPU's
    fused kernel), then with ``want_params`` the decoder's weight gradient (SDDMM on grad_z)."""
    _decoder_scaled_sse(
        indptr,
        indices,
        weight,
        bias,
        xT,
        d,
        yT,
        row_weight,
        grad_zT,
        grad_d_tiles,
        loss_tiles,
        dw_tiles,
        db_tiles,
        want_params,
        ACT_SOFTPLUS,
    )


def masked_forward_scaled_sse(
    indptr,
    indices,
    weight,
    bias,
    xT,
    d,
    yT,
    row_weight,
    grad_zT,
    grad_d_tiles,
    loss_tiles,
    dw_tiles,
    db_tiles,
    want_params,
):
    """The same for a linear decoder (no softplus)."""
    _decoder_scaled_sse(
        indptr,
        indices,
        weight,
        bias,
        xT,
        d,
        yT,
        row_weight,
        grad_zT,
        grad_d_tiles,
        loss_tiles,
        dw_tiles,
        db_tiles,
        want_params,
        0,
    )


def _decoder_scaled_sse(
    indptr,
    indices,
    weight,
    bias,
    xT,
    d,
    yT,
    row_weight,
    grad_zT,
    grad_d_tiles,
    loss_tiles,
    dw_tiles,
    db_tiles,
    want_params,
    act,
):
    _check(weight, bias, xT, d, yT, row_weight, grad_zT, grad_d_tiles, dw_tiles, db_tiles)
    if loss_tiles.dtype != cp.float64:
        raise ValueError("loss_tiles must be float64")
    n_out = int(indptr.size - 1)
    batch = int(xT.shape[1])
    _kernel("masked_linear.cu", "decoder_scaled_sse")(
        (n_tiles(batch), min(n_out, MAX_GRID_Y)),
        (THREADS,),
        (
            indptr,
            indices,
            weight,
            bias,
            np.int32(bias.size == n_out),
            xT,
            d,
            yT,
            row_weight,
            grad_zT,
            grad_d_tiles,
            loss_tiles,
            db_tiles,
            np.int32(act),
            np.int32(bool(want_params)),
            np.int32(n_out),
            np.int32(batch),
            np.int32(TILE),
        ),
    )
    if want_params:
        _sddmm(indptr, indices, grad_zT, xT, dw_tiles)


def scale_gradient(t_indptr, t_perm, weight, s, ds):
    """ds[j] = sum of weight[k] * s[k] over column j's nonzeros (k = t_perm[kk], kk in column j)."""
    _check(weight, s, ds)
    n_in = int(t_indptr.size - 1)
    _kernel("masked_linear.cu", "scale_gradient")(
        (_grid(n_in),), (THREADS,), (t_indptr, t_perm, weight, s, ds, np.int32(n_in))
    )


def activation_forward(act, z, y, slope):
    """y = act(z) elementwise and its slope (any activation code but 0)."""
    _check(z, y, slope)
    n = int(z.size)
    _kernel("activation.cu", "activation_forward")((_grid(n),), (THREADS,), (z, y, slope, np.int32(act), np.int64(n)))


def multiply(a, b, out):
    _check(a, b, out)
    n = int(a.size)
    _kernel("activation.cu", "multiply")((_grid(n),), (THREADS,), (a, b, out, np.int64(n)))


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, bias1, bias2, decay):
    _check(param, grad, m, v)
    n = int(param.size)
    _kernel("adam.cu", "adam_update")(
        (_grid(n),),
        (THREADS,),
        (
            param,
            grad,
            m,
            v,
            np.int64(n),
            np.float32(lr),
            np.float32(beta1),
            np.float32(beta2),
            np.float32(eps),
            np.float32(bias1),
            np.float32(bias2),
            np.float32(decay),
        ),
    )


def adam_update_members(param, grad, m, v, penalty, anchor, active, lr, beta1, beta2, eps, bias1, bias2):
    """Adam with a per-parameter L2 penalty (empty: none) toward ``anchor`` (empty: 0) on the active parameters
    (empty: all)."""
    _check(param, grad, m, v, penalty, anchor)
    if active.size and active.dtype != cp.uint8:
        raise ValueError("adam_update_members: active must be uint8")
    n = int(param.size)
    _kernel("adam.cu", "adam_update_members")(
        (_grid(n),),
        (THREADS,),
        (
            param,
            grad,
            m,
            v,
            penalty,
            np.int32(penalty.size == n),
            anchor,
            np.int32(anchor.size == n and penalty.size == n),
            active,
            np.int32(active.size == n),
            np.int64(n),
            np.float32(lr),
            np.float32(beta1),
            np.float32(beta2),
            np.float32(eps),
            np.float32(bias1),
            np.float32(bias2),
        ),
    )


LOSS_SQUARED, LOSS_RELATIVE = 0, 1


def member_losses(kind, outT, columns, yT, weight, scale, gradT, values):
    """Each stacked member's fine-tuning loss and its gradient (as cpu_kernels.member_losses), in CuPy
    array operations: a few small elementwise kernels over (members, targets, batch)."""
    out = outT[columns]  # K x T x B
    w = weight.astype(cp.float64)
    if kind == LOSS_SQUARED:
        inv2 = (1.0 / (scale.astype(cp.float64) ** 2))[:, :, None]
        d = cp.where(w > 0, out - yT[None], 0).astype(cp.float64)
        values[...] = (w * d**2 * inv2).sum(axis=(1, 2))
        gradT[columns] = (2 * w * d * inv2).astype(gradT.dtype)
    else:
        denom = yT[None] + cp.float32(1e-6)
        r = cp.where(w > 0, (yT[None] - out) / denom, 0)
        values[...] = (w * cp.abs(r.astype(cp.float64))).sum(axis=(1, 2))
        gradT[columns] = cp.where(w > 0, -w * cp.sign(r) / denom, 0).astype(gradT.dtype)


def all_finite_rows(x, ok):
    ok[...] = cp.isfinite(x).all(axis=1)


def dropout_forward(xT, outT, keepT, key, threshold, scale):
    """outT = xT * keepT, keepT = scale where the hash of (key, element) >= threshold, else 0 (dropout.cu)."""
    _check(xT, outT, keepT)
    features, batch = int(xT.shape[0]), int(xT.shape[1])
    _kernel("dropout.cu", "dropout_forward")(
        (_grid(features * batch),),
        (THREADS,),
        (xT, outT, keepT, np.uint32(key), np.uint32(threshold), np.float32(scale), np.int32(features), np.int32(batch)),
    )
