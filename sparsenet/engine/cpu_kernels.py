"""Fused, multi-threaded CPU kernels (Numba) for the sparse engine.

Every array here is feature-major: ``xT`` has shape (features, batch), C-contiguous, so the
innermost loops walk the batch contiguously and vectorise (AVX2/AVX-512).

Work is split into tiles of ``TILE`` batch columns; threads take whole tiles and per-tile
partial sums of weight/bias gradients are reduced afterwards in a fixed order, so results
do not depend on the number of threads (same seed, same numbers).

Denormal floats are flushed to zero inside the kernels (FTZ and DAZ set in each worker's MXCSR
for the duration of a work item, then restored; x86-64 only): with an L2 penalty, links the data do
not use decay geometrically toward 0, and once their products and Adam moments reach float32's
denormal range (below 1.2e-38) every operation on them takes a microcode assist, which made
fine-tuning steps 2-3x slower after a thousand steps. GPUs flush denormals the same way (CuPy
compiles with -ftz=true).

Small batches (fine-tuning: ~160 samples, one tile) are split over rows too: work items are
(tile, block of ``ROWS`` rows), so both cores work on one tile and on stacks of networks.

Softplus in float32 uses polynomial ``exp``/``log1p`` written here so that LLVM vectorises
them (Numba's libm calls do not: 20 ms vs 3.5 ms for 5,000 x 1,366 on 2 cores); float64 uses
libm. Softplus is evaluated as ``max(z, 0) + log1p(exp(-|z|))`` which neither overflows for
large ``z`` nor loses precision near 0; ``log1p(e) = e P(e)`` with a polynomial ``P`` keeps
full relative precision for tiny ``e`` and needs no division.
"""

from __future__ import annotations

import math
import platform

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

TILE = 256  # batch columns per tile: a tile of 1,366 float32 rows is 1.4 MB, L2-resident
ROWS = 16  # rows per work item: a tile's rows split over threads when there are few tiles

ACT_NONE = 0  # activation codes, as in cuda/activation.cuh
ACT_SOFTPLUS = 1
ACT_RELU = 2
ACT_TANH = 3
ACT_SIGMOID = 4

_F = np.float32


_X86 = platform.machine().lower() in ("x86_64", "amd64")
_FTZ_DAZ = 0x8040  # MXCSR: flush-to-zero (bit 15) and denormals-are-zero (bit 6)


def _mxcsr_call(builder, name, slot):
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [builder.bitcast(slot, ir.PointerType(ir.IntType(8)))])


@intrinsic
def _flush_denormals(typingctx):
    """Set FTZ and DAZ in this thread's MXCSR; returns the previous MXCSR (0 and no change off x86-64)."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        if not _X86:
            return ir.Constant(i32, 0)
        slot = cgutils.alloca_once(builder, i32)
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        old = builder.load(slot)
        builder.store(builder.or_(old, ir.Constant(i32, _FTZ_DAZ)), slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return old

    return types.int32(), codegen


@intrinsic
def _restore_mxcsr(typingctx, old):
    """Put back the MXCSR ``_flush_denormals`` returned (nothing off x86-64)."""

    def codegen(context, builder, signature, args):
        if _X86:
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(args[0], slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(old), codegen


@nb.njit(cache=True)
def mxcsr_while_flushing():
    """(MXCSR inside a kernel's work item, MXCSR after it): what the tests check."""
    old = _flush_denormals()
    inside = _flush_denormals()
    _restore_mxcsr(old)
    after = _flush_denormals()
    _restore_mxcsr(old)
    return inside, after


@intrinsic
def _bits_to_float32(typingctx, i):
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return sig, codegen


@nb.njit(inline="always", fastmath=True)
def _exp_nonpositive_f32(x):
    """exp(x) for x <= 0 in float32 (relative error < 1e-7); 0 below float32's normal range."""
    xc = max(x, _F(-87.33654))  # ln(smallest normal float32)
    # float32: math.floor gives int64 and drags the maths to float64
    n = np.floor(xc * _F(1.4426950408889634) + _F(0.5))
    r = xc - n * _F(0.693145751953125) - n * _F(1.428606765330187e-06)
    p = _F(1.0 / 5040.0)
    p = p * r + _F(1.0 / 720.0)
    p = p * r + _F(1.0 / 120.0)
    p = p * r + _F(1.0 / 24.0)
    p = p * r + _F(1.0 / 6.0)
    p = p * r + _F(0.5)
    p = p * r + _F(1.0)
    p = p * r + _F(1.0)
    e = p * _bits_to_float32((np.int32(n) + np.int32(127)) << 23)
    return e if x >= _F(-87.33654) else _F(0.0)


@nb.njit(inline="always", fastmath=True)
def _reciprocal_1_2_f32(x):
    """1/x for 1 <= x <= 2 without a division (divisions dominated softplus's cost):
    the linear start 24/17 - 8/17 x (relative error <= 1/17) and three Newton steps."""
    r = _F(24.0 / 17.0) - _F(8.0 / 17.0) * x
    for _ in range(3):
        r = r + r * (_F(1.0) - x * r)
    return r


@nb.njit(inline="always", fastmath=True)
def _log1p_unit_f32(e):
    """log1p(e) for 0 <= e <= 1 in float32 as e * P(e), P the degree-9 Chebyshev interpolant of
    log1p(e)/e on [0, 1] (relative error 1.6e-7 with float32 rounding; no division, and the
    factor e keeps full relative precision for tiny e)."""
    p = _F(-0.0031760570127516985)
    p = p * e + _F(0.019542526453733444)
    p = p * e + _F(-0.056373611092567444)
    p = p * e + _F(0.10543623566627502)
    p = p * e + _F(-0.1526966691017151)
    p = p * e + _F(0.1966327428817749)
    p = p * e + _F(-0.24951615929603577)
    p = p * e + _F(0.33329710364341736)
    p = p * e + _F(-0.49999892711639404)
    p = p * e + _F(1.0)
    return e * p


@nb.njit(inline="always", fastmath=True)
def _logistic_f32(z):
    """(e, logistic(z)) with e = exp(-|z|) <= 1, so nothing overflows for any z (float32)."""
    e = _exp_nonpositive_f32(-abs(z))
    r = _reciprocal_1_2_f32(_F(1.0) + e)
    return e, (r if z >= _F(0.0) else e * r)


@nb.njit(inline="always")
def _logistic_f64(z):
    """(e, logistic(z)) with e = exp(-|z|) <= 1 (float64)."""
    e = math.exp(-abs(z))
    return e, (1.0 if z >= 0.0 else e) / (1.0 + e)


@nb.njit(inline="always", fastmath=True)
def _softplus_row_f32(z_row, y_row, s_row):
    for t in range(z_row.shape[0]):
        z = z_row[t]
        e, s = _logistic_f32(z)
        y_row[t] = max(z, _F(0.0)) + _log1p_unit_f32(e)
        s_row[t] = s


@nb.njit(inline="always")
def _softplus_row_f64(z_row, y_row, s_row):
    for t in range(z_row.shape[0]):
        z = z_row[t]
        e, s = _logistic_f64(z)
        y_row[t] = max(z, 0.0) + math.log1p(e)
        s_row[t] = s


def _by_dtype(generic, f32, f64):
    """Make ``generic(z_row, y_row, s_row)`` (a Python stub) call ``f32`` on float32 rows and ``f64`` on others,
    inlined where Numba compiles it (the activations' float32 kernels are polynomial, their float64 ones libm)."""

    @overload(generic, inline="always")
    def by_dtype(z_row, y_row, s_row):
        if z_row.dtype == types.float32:
            return lambda z_row, y_row, s_row: f32(z_row, y_row, s_row)
        return lambda z_row, y_row, s_row: f64(z_row, y_row, s_row)


def _softplus_row(z_row, y_row, s_row):
    """softplus of z_row into y_row and its slope (logistic) into s_row, by dtype."""


_by_dtype(_softplus_row, _softplus_row_f32, _softplus_row_f64)


@nb.njit(inline="always", fastmath=True)
def _sigmoid_row_f32(z_row, y_row, s_row):
    for t in range(z_row.shape[0]):
        y = _logistic_f32(z_row[t])[1]
        y_row[t] = y
        s_row[t] = y * (_F(1.0) - y)


@nb.njit(inline="always")
def _sigmoid_row_f64(z_row, y_row, s_row):
    for t in range(z_row.shape[0]):
        y = _logistic_f64(z_row[t])[1]
        y_row[t] = y
        s_row[t] = y * (1.0 - y)


def _sigmoid_row(z_row, y_row, s_row):
    """logistic(z_row) into y_row and its slope y (1 - y) into s_row, by dtype."""


_by_dtype(_sigmoid_row, _sigmoid_row_f32, _sigmoid_row_f64)


@nb.njit(inline="always", fastmath=True)
def _relu_row(z_row, y_row, s_row):
    zero = y_row.dtype.type(0.0)
    one = y_row.dtype.type(1.0)
    for t in range(z_row.shape[0]):
        z = z_row[t]
        y_row[t] = z if z > zero else zero
        s_row[t] = one if z > zero else zero


@nb.njit(inline="always", fastmath=True)
def _tanh_row_f32(z_row, y_row, s_row):
    """tanh(z) = sign(z) (1 - e) / (1 + e), e = exp(-2|z|) <= 1, through the polynomial exp and the
    division-free reciprocal on [1, 2], and for |z| < 0.5 (where 1 - e loses relative precision) its odd
    Taylor polynomial to z^13; the slope from e where tanh is near +-1: vectorised (libm's tanh is a scalar
    call, ~20 ns an element), relative error below 1e-6 everywhere, never overflows."""
    for t in range(z_row.shape[0]):
        z = z_row[t]
        a = abs(z)
        e = _exp_nonpositive_f32(_F(-2.0) * a)
        r = _reciprocal_1_2_f32(_F(1.0) + e)
        far = (_F(1.0) - e) * r
        q = a * a
        p = _F(21844.0 / 6081075.0)
        p = p * q - _F(1382.0 / 155925.0)
        p = p * q + _F(62.0 / 2835.0)
        p = p * q - _F(17.0 / 315.0)
        p = p * q + _F(2.0 / 15.0)
        p = p * q - _F(1.0 / 3.0)
        near = a + a * q * p
        m = near if a < _F(0.5) else far
        y = m if z >= _F(0.0) else -m
        y_row[t] = y
        # the slope 1 - tanh^2 as 4 e / (1 + e)^2 where tanh is near +-1 (1 - y^2 would cancel to 0)
        s_row[t] = _F(1.0) - near * near if a < _F(0.5) else _F(4.0) * e * r * r


@nb.njit(inline="always")
def _tanh_row_f64(z_row, y_row, s_row):
    for t in range(z_row.shape[0]):
        y = math.tanh(z_row[t])
        y_row[t] = y
        s_row[t] = 1.0 - y * y


def _tanh_row(z_row, y_row, s_row):
    """tanh of z_row into y_row and its slope 1 - tanh^2 into s_row, by dtype."""


_by_dtype(_tanh_row, _tanh_row_f32, _tanh_row_f64)


@nb.njit(inline="always", fastmath=True)
def _activate_row(act, z_row, y_row, s_row):
    """y_row = act(z_row) and s_row = act'(z_row) for an activation code other than none."""
    if act == ACT_SOFTPLUS:
        _softplus_row(z_row, y_row, s_row)
    elif act == ACT_RELU:
        _relu_row(z_row, y_row, s_row)
    elif act == ACT_TANH:
        _tanh_row(z_row, y_row, s_row)
    else:
        _sigmoid_row(z_row, y_row, s_row)


@nb.njit(cache=True)
def n_tiles(batch):
    """Number of batch tiles (also the row count of the per-tile gradient partials)."""
    return max(1, (batch + TILE - 1) // TILE)


# --------------------------------------------------------------------------- masked linear
# Inner loops run over row slices (``xT[i, c0:c1]``): Numba then knows the indices are in
# range and LLVM vectorises them (indexing ``xT[i, t]`` with a loop from c0 measured 5x slower).
# Nonzeros are taken four at a time so each output element is loaded and stored once per four.
@nb.njit(inline="always", fastmath=True)
def _combine_rows(out, xT, c0, c1, indices, weights, k0, k1):
    """out[:] += sum_k weights[k] * xT[indices[k], c0:c1] for k in [k0, k1)."""
    n = c1 - c0
    k = k0
    while k + 4 <= k1:
        w0, w1, w2, w3 = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
        s0 = xT[indices[k], c0:c1]
        s1 = xT[indices[k + 1], c0:c1]
        s2 = xT[indices[k + 2], c0:c1]
        s3 = xT[indices[k + 3], c0:c1]
        for t in range(n):
            out[t] += (w0 * s0[t] + w1 * s1[t]) + (w2 * s2[t] + w3 * s3[t])
        k += 4
    while k < k1:
        w0 = weights[k]
        s0 = xT[indices[k], c0:c1]
        for t in range(n):
            out[t] += w0 * s0[t]
        k += 1


@nb.njit(inline="always", fastmath=True)
def _dots_with_rows(dz, xT, c0, c1, indices, k0, k1, dw):
    """dw[k] = <dz, xT[indices[k], c0:c1]> for k in [k0, k1) (the SDDMM of one output row)."""
    n = c1 - c0
    k = k0
    while k + 4 <= k1:
        s0 = xT[indices[k], c0:c1]
        s1 = xT[indices[k + 1], c0:c1]
        s2 = xT[indices[k + 2], c0:c1]
        s3 = xT[indices[k + 3], c0:c1]
        a0 = np.float32(0.0)
        a1 = np.float32(0.0)
        a2 = np.float32(0.0)
        a3 = np.float32(0.0)
        for t in range(n):
            g = dz[t]
            a0 += g * s0[t]
            a1 += g * s1[t]
            a2 += g * s2[t]
            a3 += g * s3[t]
        dw[k], dw[k + 1], dw[k + 2], dw[k + 3] = a0, a1, a2, a3
        k += 4
    while k < k1:
        s0 = xT[indices[k], c0:c1]
        a0 = np.float32(0.0)
        for t in range(n):
            a0 += dz[t] * s0[t]
        dw[k] = a0
        k += 1


@nb.njit(parallel=True, fastmath=True, cache=True)
def masked_forward(indptr, indices, weight, bias, xT, outT, slopeT, act):
    """outT = act(W xT + b) for CSR ``W`` (indptr, indices, weight); slopeT = act'(z).

    Per batch tile and output row j: accumulate the row's nonzeros (contiguous axpys over
    the tile), add the bias, then apply the activation (code ``act``) and keep its slope.
    """
    n_out = indptr.shape[0] - 1
    batch = xT.shape[1]
    has_bias = bias.shape[0] == n_out
    blocks = (n_out + ROWS - 1) // ROWS
    for item in nb.prange(n_tiles(batch) * blocks):
        mxcsr = _flush_denormals()
        tile = item // blocks
        c0 = tile * TILE
        c1 = min(batch, c0 + TILE)
        # pre-activations go to a scratch row: the activation then reads and writes different
        # arrays, which LLVM vectorises (in place, its alias check fails and it runs scalar)
        scratch = np.empty(c1 - c0, dtype=outT.dtype)
        for j in range((item % blocks) * ROWS, min(n_out, (item % blocks + 1) * ROWS)):
            z = scratch if act != ACT_NONE else outT[j, c0:c1]
            b0 = bias[j] if has_bias else np.float32(0.0)
            for t in range(c1 - c0):
                z[t] = b0
            _combine_rows(z, xT, c0, c1, indices, weight, indptr[j], indptr[j + 1])
            if act != ACT_NONE:
                _activate_row(act, z, outT[j, c0:c1], slopeT[j, c0:c1])
        _restore_mxcsr(mxcsr)


@nb.njit(inline="always", fastmath=True)
def _scaled_sse_row(h, slope, y_row, g_row, d, w):
    """One feature row of softplus -> one-to-one (d) -> weighted SSE (w), given h = softplus(z)
    and its slope: writes g_row = d g slope with g = 2 w (d h - y); returns (sum (d h - y)^2,
    sum g h). Accumulates in the array's precision (float64 sums stop float32 loops vectorising)."""
    acc = h.dtype.type(0.0)
    acc_d = h.dtype.type(0.0)
    two_w = 2 * w
    for t in range(h.shape[0]):
        diff = d * h[t] - y_row[t]
        g = two_w * diff
        acc += diff * diff
        acc_d += g * h[t]
        g_row[t] = d * g * slope[t]
    return acc, acc_d


@nb.njit(parallel=True, fastmath=True, cache=True)
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
    """A linear masked layer, softplus, a one-to-one output layer and the sum of squared error,
    forward and back to the layer's pre-activation, per batch tile:
    z = W x + b; h = softplus(z); out = d_j h; loss = sum w_j (out - y)^2;
    grad_z = d_j g logistic(z) and per-tile partials of grad_d = sum g h, g = 2 w_j (out - y);
    with want_params also the layer's weight (SDDMM) and bias gradient partials, so that its
    backward only has the input gradient left. z, h, out and the gradients in between never
    leave cache: only grad_z is written."""
    n_out = indptr.shape[0] - 1
    batch = xT.shape[1]
    has_bias = bias.shape[0] == n_out
    for tile in nb.prange(n_tiles(batch)):
        mxcsr = _flush_denormals()
        c0 = tile * TILE
        c1 = min(batch, c0 + TILE)
        n = c1 - c0
        z = np.empty(n, dtype=xT.dtype)
        h = np.empty(n, dtype=xT.dtype)
        slope = np.empty(n, dtype=xT.dtype)
        for j in range(n_out):
            b0 = bias[j] if has_bias else xT.dtype.type(0.0)
            for t in range(n):
                z[t] = b0
            _combine_rows(z, xT, c0, c1, indices, weight, indptr[j], indptr[j + 1])
            _softplus_row(z, h, slope)
            g_row = grad_zT[j, c0:c1]
            acc, acc_d = _scaled_sse_row(h, slope, yT[j, c0:c1], g_row, d[j], row_weight[j])
            loss_tiles[tile, j] = row_weight[j] * acc
            grad_d_tiles[tile, j] = acc_d
            if want_params:  # the layer's own weight and bias gradients while g_row is in L1
                acc_b = g_row[0] * 0
                for t in range(n):
                    acc_b += g_row[t]
                db_tiles[tile, j] = acc_b
                _dots_with_rows(g_row, xT, c0, c1, indices, indptr[j], indptr[j + 1], dw_tiles[tile])
        _restore_mxcsr(mxcsr)


@nb.njit(parallel=True, fastmath=True, cache=True)
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
    """Backward of outT = act(W xT + b), one pass per batch tile.

    dz = g * slope (or g itself); db = row sums of dz; dW[k] = <dz[row k], x[col k]> at the
    mask's nonzeros only (SDDMM), as per-tile partials; dx = W^T dz through the precomputed
    transpose (t_indptr, t_indices) with t_weight = weight in transposed order.
    """
    n_out = indptr.shape[0] - 1
    n_in = t_indptr.shape[0] - 1
    batch = xT.shape[1]
    tiles = n_tiles(batch)
    blocks = (n_out + ROWS - 1) // ROWS
    for item in nb.prange(tiles * blocks):  # dz, then the bias and weight gradient partials, by rows
        mxcsr = _flush_denormals()
        tile = item // blocks
        c0 = tile * TILE
        c1 = min(batch, c0 + TILE)
        n = c1 - c0
        for j in range((item % blocks) * ROWS, min(n_out, (item % blocks + 1) * ROWS)):
            dz = dzT[j, c0:c1]
            if act != ACT_NONE:
                g = gT[j, c0:c1]
                s = slopeT[j, c0:c1]
                for t in range(n):
                    dz[t] = g[t] * s[t]
            if want_params:
                acc = np.float32(0.0)
                for t in range(n):
                    acc += dz[t]
                db_tiles[tile, j] = acc
                _dots_with_rows(dz, xT, c0, c1, indices, indptr[j], indptr[j + 1], dw_tiles[tile])
        _restore_mxcsr(mxcsr)
    if want_dx:  # dx = W^T dz, by input rows, once every dz is there
        in_blocks = (n_in + ROWS - 1) // ROWS
        for item in nb.prange(tiles * in_blocks):
            mxcsr = _flush_denormals()
            tile = item // in_blocks
            c0 = tile * TILE
            c1 = min(batch, c0 + TILE)
            for i in range((item % in_blocks) * ROWS, min(n_in, (item % in_blocks + 1) * ROWS)):
                dx = dxT[i, c0:c1]
                for t in range(c1 - c0):
                    dx[t] = 0
                _combine_rows(dx, dzT, c0, c1, t_indices, t_weight, t_indptr[i], t_indptr[i + 1])
            _restore_mxcsr(mxcsr)


# --------------------------------------------------------------------------- one-to-one
@nb.njit(parallel=True, fastmath=True, cache=True)
def diagonal_forward(d, bias, xT, outT):
    n = xT.shape[0]
    has_bias = bias.shape[0] == n
    for i in nb.prange(n):
        w = d[i]
        b0 = bias[i] if has_bias else np.float32(0.0)
        x_row = xT[i]
        o_row = outT[i]
        for t in range(xT.shape[1]):
            o_row[t] = w * x_row[t] + b0


@nb.njit(parallel=True, fastmath=True, cache=True)
def diagonal_backward(d, xT, gT, dxT, dd, db, want_dx, want_params):
    n = xT.shape[0]
    for i in nb.prange(n):
        g_row = gT[i]
        if want_params:
            x_row = xT[i]
            acc = np.float32(0.0)
            accb = np.float32(0.0)
            for t in range(xT.shape[1]):
                acc += g_row[t] * x_row[t]
                accb += g_row[t]
            dd[i] = acc
            db[i] = accb
        if want_dx:
            w = d[i]
            dx_row = dxT[i]
            for t in range(xT.shape[1]):
                dx_row[t] = w * g_row[t]


# --------------------------------------------------------------------------- elementwise
@nb.njit(parallel=True, fastmath=True, cache=True)
def activation_forward(act, z, y, slope):
    """y = act(z) and its slope, row-wise over any C-contiguous 2-D array (layout-agnostic)."""
    for i in nb.prange(z.shape[0]):
        _activate_row(act, z[i], y[i], slope[i])


@nb.njit(parallel=True, fastmath=True, cache=True)
def multiply(a, b, out):
    for i in nb.prange(a.shape[0]):
        a_row = a[i]
        b_row = b[i]
        o_row = out[i]
        for t in range(a.shape[1]):
            o_row[t] = a_row[t] * b_row[t]


@nb.njit(parallel=True, fastmath=True, cache=True)
def squared_error(pred, target, row_weight, grad, row_sums):
    """row_sums[i] = w_i sum_t (pred - target)^2; grad = 2 w_i (pred - target)."""
    for i in nb.prange(pred.shape[0]):
        p_row = pred[i]
        y_row = target[i]
        g_row = grad[i]
        w = row_weight[i]
        two_w = 2 * w
        acc = 0.0
        for t in range(pred.shape[1]):
            diff = p_row[t] - y_row[t]
            g_row[t] = two_w * diff
            acc += diff * diff
        row_sums[i] = w * acc


@nb.njit(parallel=True, fastmath=True, cache=True)
def scaled_squared_error(h, d, target, row_weight, grad_h, grad_d, row_sums):
    """One pass for a one-to-one output layer and its loss: out = d_i h; row_sums[i] =
    w_i sum_t (out - y)^2; grad_d[i] = sum_t g h; grad_h = d_i g, with g = 2 w_i (out - y)."""
    for i in nb.prange(h.shape[0]):
        h_row = h[i]
        y_row = target[i]
        g_row = grad_h[i]
        di = d[i]
        two_w = 2 * row_weight[i]
        acc = 0.0
        acc_d = 0.0
        for t in range(h.shape[1]):
            diff = di * h_row[t] - y_row[t]
            g = two_w * diff
            acc += diff * diff
            acc_d += g * h_row[t]
            g_row[t] = di * g
        row_sums[i] = row_weight[i] * acc
        grad_d[i] = acc_d


@nb.njit(parallel=True, fastmath=True, cache=True)
def softplus_scaled_squared_error(z, d, target, row_weight, grad_z, grad_d, row_sums):
    """The decoder's softplus, the one-to-one output layer and the loss in one pass:
    h = softplus(z); out = d_i h; row_sums[i] = w_i sum_t (out - y)^2; with
    g = 2 w_i (out - y): grad_d[i] = sum_t g h and grad_z = d_i g logistic(z).
    Reads z and y once and writes grad_z; h, its slope, out and its gradient never leave cache."""
    n_rows, batch = z.shape
    rows_per_block = 8
    for block in nb.prange((n_rows + rows_per_block - 1) // rows_per_block):
        h = np.empty(batch, dtype=z.dtype)  # scratch rows, once per block of rows
        slope = np.empty(batch, dtype=z.dtype)
        for i in range(block * rows_per_block, min(n_rows, (block + 1) * rows_per_block)):
            _softplus_row(z[i], h, slope)
            acc, acc_d = _scaled_sse_row(h, slope, target[i], grad_z[i], d[i], row_weight[i])
            row_sums[i] = row_weight[i] * acc
            grad_d[i] = acc_d


LOSS_SQUARED = 0  # member_losses' kinds
LOSS_RELATIVE = 1


@nb.njit(cache=True)
def member_losses(kind, outT, columns, yT, weight, scale, gradT, values):
    """The fine-tuning loss of each member of a stack, and its gradient, in one pass.

    ``outT`` (width, batch): the stack's output; ``columns`` (K, T): member k's rows of its T targets;
    ``yT`` (T, batch) targets; ``weight`` (K, T, batch): each observation's weight for member k (0: not
    trained on, or not observed; a sample weight otherwise); ``scale`` (K, T): member k's mean |target|.
    kind 0 (squared): sum w (out - y)^2 / scale^2, gradient 2 w (out - y) / scale^2; kind 1 (relative):
    sum w |(y - out) / (y + 1e-6)|, gradient -w sign / (y + 1e-6). Writes ``values`` (K,) (float64 sums)
    and the gradient into ``gradT`` at the members' rows (every other row must be 0)."""
    k_members, n_targets = columns.shape
    batch = outT.shape[1]
    for k in range(k_members):
        acc = 0.0
        for t in range(n_targets):
            row = columns[k, t]
            o, g, y, w = outT[row], gradT[row], yT[t], weight[k, t]
            sc = scale[k, t]
            inv2 = 1.0 / (sc * sc)
            for b in range(batch):
                if w[b] == 0:
                    g[b] = 0
                elif kind == LOSS_SQUARED:
                    d = o[b] - y[b]
                    acc += np.float64(w[b]) * np.float64(d) * np.float64(d) * inv2
                    g[b] = 2 * w[b] * d * inv2
                else:
                    denom = y[b] + np.float32(1e-6)
                    r = (y[b] - o[b]) / denom
                    acc += np.float64(w[b]) * abs(np.float64(r))
                    g[b] = -w[b] * (1.0 if r > 0 else (-1.0 if r < 0 else 0.0)) / denom
        values[k] = acc


@nb.njit(parallel=True, cache=True)  # no fastmath: it assumes no NaN/inf and folds the test away
def all_finite_rows(x, ok):
    for i in nb.prange(x.shape[0]):
        row = x[i]
        bad = 0
        for t in range(x.shape[1]):
            if math.isnan(row[t]) or math.isinf(row[t]):
                bad += 1
        ok[i] = bad == 0


@nb.njit(parallel=True, cache=True)
def transpose(x, outT):
    """outT = x.T for a C-contiguous 2-D ``x``, in cache-sized blocks."""
    rows, cols = x.shape
    blk = 64
    nbr = (rows + blk - 1) // blk
    nbc = (cols + blk - 1) // blk
    for b in nb.prange(nbr * nbc):
        r0 = (b // nbc) * blk
        q0 = (b % nbc) * blk
        for q in range(q0, min(cols, q0 + blk)):
            o_row = outT[q]
            for r in range(r0, min(rows, r0 + blk)):
                o_row[r] = x[r, q]


# --------------------------------------------------------------------------- Adam
@nb.njit(parallel=True, fastmath=True, cache=True)
def adam_update(param, grad, m, v, lr, beta1, beta2, eps, bias1, bias2, decay):
    """Textbook Adam (Kingma & Ba): m, v moments; bias1 = 1 - beta1^t, bias2 = 1 - beta2^t;
    decay = 1 - lr * weight_decay multiplies the parameter first (AdamW's decoupled decay; 1: none)."""
    n = param.shape[0]
    chunk = 16384
    for c in nb.prange((n + chunk - 1) // chunk):
        mxcsr = _flush_denormals()
        i0, i1 = c * chunk, min(n, (c + 1) * chunk)
        p_, g_, m_, v_ = param[i0:i1], grad[i0:i1], m[i0:i1], v[i0:i1]  # slices: the loop vectorises
        for i in range(i1 - i0):
            g = g_[i]
            mi = beta1 * m_[i] + (1 - beta1) * g
            vi = beta2 * v_[i] + (1 - beta2) * g * g
            m_[i] = mi
            v_[i] = vi
            p_[i] = decay * p_[i] - lr * (mi / bias1) / (math.sqrt(vi / bias2) + eps)
        _restore_mxcsr(mxcsr)


@nb.njit(inline="always", fastmath=True)
def _adam_members_chunk(
    param,
    grad,
    m,
    v,
    penalty,
    anchor,
    active,
    i0,
    i1,
    lr,
    beta1,
    beta2,
    eps,
    bias1,
    bias2,
    has_penalty,
    has_anchor,
    has_active,
):
    """One chunk of ``adam_update_members``, branch-free in the loop so that it vectorises: a stopped
    parameter computes its update and keeps its old values."""
    p_, g_, m_, v_ = param[i0:i1], grad[i0:i1], m[i0:i1], v[i0:i1]  # slices: the loop vectorises
    pen = penalty[i0:i1] if has_penalty else penalty
    anc = anchor[i0:i1] if has_anchor else anchor
    act = active[i0:i1] if has_active else active
    for i in range(i1 - i0):
        p = p_[i]
        pull = p - anc[i] if has_anchor else p
        g = g_[i] + pen[i] * pull if has_penalty else g_[i]
        mi = beta1 * m_[i] + (1 - beta1) * g
        vi = beta2 * v_[i] + (1 - beta2) * g * g
        step = p - lr * (mi / bias1) / (math.sqrt(vi / bias2) + eps)
        keep = has_active and act[i] == 0
        m_[i] = m_[i] if keep else mi
        v_[i] = v_[i] if keep else vi
        p_[i] = p if keep else step


@nb.njit(parallel=True, fastmath=True, cache=True)
def adam_update_members(param, grad, m, v, penalty, anchor, active, lr, beta1, beta2, eps, bias1, bias2):
    """Adam for a stack of networks: g = grad + penalty * (param - anchor) (each parameter's own L2
    coefficient, 0 for none, pulling toward ``anchor``, empty: toward 0), and only where ``active`` (uint8
    per parameter; empty: everywhere) is set, so that a member that has stopped keeps its parameters and
    moments as they were."""
    n = param.shape[0]
    has_penalty = penalty.shape[0] == n
    has_anchor = anchor.shape[0] == n and has_penalty
    has_active = active.shape[0] == n
    pen = penalty if has_penalty else np.zeros(1, dtype=param.dtype)
    anc = anchor if has_anchor else np.zeros(1, dtype=param.dtype)
    act = active if has_active else np.ones(1, dtype=np.uint8)
    chunk = 16384
    for c in nb.prange((n + chunk - 1) // chunk):
        mxcsr = _flush_denormals()
        i0, i1 = c * chunk, min(n, (c + 1) * chunk)
        # the flags are constants inside each call: one specialised loop per case
        if has_penalty and has_anchor:
            if has_active:
                _adam_members_chunk(
                    param, grad, m, v, pen, anc, act, i0, i1, lr, beta1, beta2, eps, bias1, bias2, True, True, True
                )
            else:
                _adam_members_chunk(
                    param, grad, m, v, pen, anc, act, i0, i1, lr, beta1, beta2, eps, bias1, bias2, True, True, False
                )
        elif has_penalty:
            if has_active:
                _adam_members_chunk(
                    param, grad, m, v, pen, anc, act, i0, i1, lr, beta1, beta2, eps, bias1, bias2, True, False, True
                )
            else:
                _adam_members_chunk(
                    param, grad, m, v, pen, anc, act, i0, i1, lr, beta1, beta2, eps, bias1, bias2, True, False, False
                )
        elif has_active:
            _adam_members_chunk(
                param, grad, m, v, pen, anc, act, i0, i1, lr, beta1, beta2, eps, bias1, bias2, False, False, True
            )
        else:
            _adam_members_chunk(
                param, grad, m, v, pen, anc, act, i0, i1, lr, beta1, beta2, eps, bias1, bias2, False, False, False
            )
        _restore_mxcsr(mxcsr)


@nb.njit(parallel=True, cache=True)
def gather_columns(src, idx, out):
    """out[:, j] = src[:, idx[j]] for C-contiguous (features, samples) arrays: a shuffled batch."""
    for i in nb.prange(src.shape[0]):
        s_row = src[i]
        o_row = out[i]
        for j in range(idx.shape[0]):
            o_row[j] = s_row[idx[j]]


@nb.njit(cache=True)
def scale_gradient(t_indptr, t_perm, weight, s, ds):
    """ds[j] = sum of weight[k] * s[k] over column j's nonzeros (k = t_perm[kk], kk in column j):
    the gradient of an input scale folded into a masked layer, in a fixed order. Products in the
    parameters' precision, sums in float64 (as np.bincount with weights, which this replaced)."""
    mxcsr = _flush_denormals()
    for j in range(t_indptr.shape[0] - 1):
        acc = 0.0
        for kk in range(t_indptr[j], t_indptr[j + 1]):
            k = t_perm[kk]
            acc += np.float64(weight[k] * s[k])
        ds[j] = acc
    _restore_mxcsr(mxcsr)


# --------------------------------------------------------------------------- dropout
@nb.njit(inline="always")
def lowbias32(x):
    """C. Wellons' 32-bit integer hash (as dropout.cu's), on a uint64 holding 32 bits."""
    m = np.uint64(0xFFFFFFFF)
    x = x & m
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & m
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & m
    x ^= x >> np.uint64(16)
    return x


@nb.njit(parallel=True, cache=True)
def dropout_forward(xT, outT, keepT, key, threshold, scale):
    """outT = xT * keepT with keepT = scale where lowbias32(lowbias32(t * features + j + key)) >= threshold,
    else 0, for feature j and sample t of a feature-major (features, batch) array: the bits dropout.cu
    draws, so CPU and GPU drop the same entries."""
    features, batch = xT.shape
    k0 = np.uint64(key)
    th = np.uint64(threshold)
    s = xT.dtype.type(scale)
    zero = xT.dtype.type(0.0)
    for j in nb.prange(features):
        for t in range(batch):
            h = lowbias32(lowbias32(np.uint64(t) * np.uint64(features) + np.uint64(j) + k0))
            k = s if h >= th else zero
            keepT[j, t] = k
            outT[j, t] = xT[j, t] * k
