"""Launchers for the CUDA kernels in this folder (compiled once with cupy.RawModule).

Same names and signatures as ``cpu_kernels`` so layers call either set the same way.
All arrays are float32/int32, C-contiguous, feature-major (features, batch).
"""
from __future__ import annotations

import functools
from pathlib import Path

import cupy as cp
import numpy as np

SOURCES = Path(__file__).parent
THREADS = 256
ACT_SOFTPLUS = 1


@functools.lru_cache(maxsize=None)
def _module(filename: str):
    return cp.RawModule(code=(SOURCES / filename).read_text(), options=("--std=c++14",))


def _kernel(filename: str, name: str):
    return _module(filename).get_function(name)


def _check(*arrays):
    for a in arrays:
        if a.dtype not in (cp.float32, cp.int32) and a.size:
            raise ValueError(f"the GPU kernels take float32 arrays, got {a.dtype}; build the network with dtype float32")
        if a.size and not a.flags.c_contiguous:
            raise ValueError("the GPU kernels take C-contiguous feature-major arrays")


def _grid(n: int) -> int:
    return int(min(max(1, (n + THREADS - 1) // THREADS), 65535 * 4))


def n_tiles(batch: int) -> int:
    """The GPU reduces over the whole batch in one pass: one gradient 'tile'."""
    return 1


def masked_forward(indptr, indices, weight, bias, xT, outT, slopeT, act):
    _check(weight, bias, xT, outT, slopeT)
    n_out = int(indptr.size - 1)
    batch = int(xT.shape[1])
    grid = ((batch + THREADS - 1) // THREADS, min(n_out, 65535))
    _kernel("masked_linear.cu", "masked_forward")(
        grid, (THREADS,),
        (indptr, indices, weight, bias, np.int32(bias.size == n_out), xT, outT, slopeT,
         np.int32(act), np.int32(n_out), np.int32(batch)))


def masked_backward(indptr, indices, t_indptr, t_indices, t_weight, xT, gT, slopeT, act,
                    dzT, dxT, dw_tiles, db_tiles, want_dx, want_params):
    _check(xT, gT, slopeT, dzT, dxT, dw_tiles, db_tiles)
    n_out = int(indptr.size - 1)
    batch = int(xT.shape[1])
    if act == ACT_SOFTPLUS or want_params:
        db = db_tiles[0] if want_params else db_tiles  # not written when want_params is False
        _kernel("masked_linear.cu", "slope_rowsum")(
            (min(n_out, 65535),), (THREADS,),
            (gT, slopeT, dzT, db, np.int32(act == ACT_SOFTPLUS), np.int32(bool(want_params)),
             np.int32(n_out), np.int32(batch)))
    if want_params:
        _kernel("masked_linear.cu", "sddmm")(
            (min(n_out, 65535),), (THREADS,),
            (indptr, indices, dzT, xT, dw_tiles[0], np.int32(n_out), np.int32(batch)))
    if want_dx:
        empty = cp.zeros(0, dtype=cp.float32)
        masked_forward(t_indptr, t_indices, t_weight, empty, dzT, dxT, empty.reshape(0, 0), 0)


def softplus_forward(z, y, slope):
    _check(z, y, slope)
    n = int(z.size)
    _kernel("softplus.cu", "softplus_forward")((_grid(n),), (THREADS,), (z, y, slope, np.int64(n)))


def multiply(a, b, out):
    _check(a, b, out)
    n = int(a.size)
    _kernel("softplus.cu", "multiply")((_grid(n),), (THREADS,), (a, b, out, np.int64(n)))


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, bias1, bias2):
    _check(param, grad, m, v)
    n = int(param.size)
    _kernel("adam.cu", "adam_update")(
        (_grid(n),), (THREADS,),
        (param, grad, m, v, np.int64(n), np.float32(lr), np.float32(beta1), np.float32(beta2),
         np.float32(eps), np.float32(bias1), np.float32(bias2)))


def all_finite_rows(x, ok):
    ok[...] = cp.isfinite(x).all(axis=1)
