"""Each CUDA kernel through its launcher against the CPU path, on the CUDA emulator (every CI
run) and on a real GPU (when CuPy sees one): the ``cp`` fixture gives both.

Outputs are poisoned (NaN) before each launch so elements a kernel fails to write show up.
"""

import numpy as np
import pytest

from sparsenet.engine import cpu_kernels, MaskedLinear
from conftest import random_mask

TOL = dict(rtol=2e-5, atol=2e-5)
EMULATED_SHAPES = [((9, 13), 3), ((40, 120), 300), ((120, 40), 257), ((1, 1), 1)]
GPU_ONLY_SHAPES = [((110, 1366), 5000), ((1366, 110), 257)]


def poisoned(cp, shape):
    return cp.full(shape, cp.nan, dtype=cp.float32)


def is_emulator(cp):
    return getattr(cp, "is_emulator", False)


@pytest.fixture
def launch(cp):
    from sparsenet.engine.cuda import launch

    return launch


@pytest.mark.parametrize("shape,batch", EMULATED_SHAPES + GPU_ONLY_SHAPES)
@pytest.mark.parametrize("act", [0, 1])
@pytest.mark.parametrize("tile", [None, 64], ids=["default tile", "tile 64"])
def test_masked_forward_and_backward_kernels(rng, cp, launch, monkeypatch, shape, batch, act, tile):
    if is_emulator(cp) and (shape, batch) in GPU_ONLY_SHAPES:
        pytest.skip("paper-sized shapes run on a real GPU only")
    if tile:
        monkeypatch.setattr(launch, "TILE", tile)
    mask = random_mask(rng, *shape, 0.3 if shape[0] > 1 else 1.0, empty_row=0 if shape[0] > 5 else None)
    layer = MaskedLinear(mask, activation="softplus" if act else None, seed=1)
    layer.params["bias"][...] = rng.normal(size=shape[0])
    w, b = layer.params["weight"], layer.params["bias"]
    xT = rng.normal(size=(shape[1], batch)).astype(np.float32)
    outT = np.empty((shape[0], batch), np.float32)
    slopeT = np.empty_like(outT)
    cpu_kernels.masked_forward(layer.indptr, layer.indices, w, b, xT, outT, slopeT, act)
    d = {k: cp.asarray(getattr(layer, k)) for k in ("indptr", "indices", "t_indptr", "t_indices", "t_perm")}
    g_out = poisoned(cp, outT.shape)
    g_slope = poisoned(cp, outT.shape) if act else cp.zeros((0, 0), cp.float32)
    launch.masked_forward(d["indptr"], d["indices"], cp.asarray(w), cp.asarray(b), cp.asarray(xT), g_out, g_slope, act)
    np.testing.assert_allclose(g_out.get(), outT, **TOL)
    if act:
        np.testing.assert_allclose(g_slope.get(), slopeT, **TOL)

    gT = rng.normal(size=outT.shape).astype(np.float32)
    t_w = w[layer.t_perm]
    tiles = cpu_kernels.n_tiles(batch)
    dzT, dxT = np.empty_like(gT), np.empty_like(xT)
    dw_t, db_t = np.empty((tiles, layer.nnz), np.float32), np.empty((tiles, shape[0]), np.float32)
    cpu_kernels.masked_backward(
        layer.indptr,
        layer.indices,
        layer.t_indptr,
        layer.t_indices,
        t_w,
        xT,
        gT,
        slopeT,
        act,
        dzT if act else gT,
        dxT,
        dw_t,
        db_t,
        True,
        True,
    )
    g_dz = poisoned(cp, gT.shape) if act else cp.asarray(gT)
    g_tiles = launch.n_tiles(batch)
    g_dx, g_dw, g_db = poisoned(cp, xT.shape), poisoned(cp, (g_tiles, layer.nnz)), poisoned(cp, (g_tiles, shape[0]))
    launch.masked_backward(
        d["indptr"],
        d["indices"],
        d["t_indptr"],
        d["t_indices"],
        cp.asarray(t_w),
        cp.asarray(xT),
        cp.asarray(gT),
        g_slope,
        act,
        g_dz,
        g_dx,
        g_dw,
        g_db,
        True,
        True,
    )
    scale = 1 + np.sqrt(batch)
    np.testing.assert_allclose(g_dx.get(), dxT, **TOL)
    np.testing.assert_allclose(g_dw.get().sum(0), dw_t.sum(0), rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(g_db.get().sum(0), db_t.sum(0), rtol=1e-4, atol=1e-5 * scale)
    if act:
        np.testing.assert_allclose(g_dz.get(), dzT, **TOL)


@pytest.mark.parametrize("want_dx,want_params", [(True, False), (False, True)])
def test_masked_backward_partial_branches_write_only_what_is_asked(rng, cp, launch, want_dx, want_params):
    mask = random_mask(rng, 20, 50, 0.3)
    layer = MaskedLinear(mask, activation="softplus", seed=1)
    d = {k: cp.asarray(getattr(layer, k)) for k in ("indptr", "indices", "t_indptr", "t_indices", "t_perm")}
    xT = rng.normal(size=(50, 70)).astype(np.float32)
    gT = rng.normal(size=(20, 70)).astype(np.float32)
    slopeT = rng.random(size=(20, 70)).astype(np.float32)
    w = layer.params["weight"]
    dx = poisoned(cp, xT.shape) if want_dx else cp.zeros((0, 0), cp.float32)
    tiles = launch.n_tiles(70)
    dw = poisoned(cp, (tiles, layer.nnz)) if want_params else cp.zeros((0, layer.nnz), cp.float32)
    db = poisoned(cp, (tiles, 20)) if want_params else cp.zeros((0, 20), cp.float32)
    dz = poisoned(cp, gT.shape)
    launch.masked_backward(
        d["indptr"],
        d["indices"],
        d["t_indptr"],
        d["t_indices"],
        cp.asarray(w[layer.t_perm]),
        cp.asarray(xT),
        cp.asarray(gT),
        cp.asarray(slopeT),
        1,
        dz,
        dx,
        dw,
        db,
        want_dx,
        want_params,
    )
    dz_ref = gT * slopeT
    np.testing.assert_allclose(dz.get(), dz_ref, **TOL)
    dense = layer.weight_matrix().toarray()
    if want_dx:
        np.testing.assert_allclose(dx.get(), dense.T @ dz_ref, rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_allclose(db.get().sum(0), dz_ref.sum(1), rtol=1e-4, atol=1e-4)
        rows = np.repeat(np.arange(20), np.diff(layer.indptr))
        np.testing.assert_allclose(
            dw.get().sum(0), np.einsum("kb,kb->k", dz_ref[rows], xT[layer.indices]), rtol=1e-4, atol=1e-4
        )


def test_softplus_and_multiply_kernels(rng, cp, launch):
    z = (rng.normal(size=(37, 1001)) * 30).astype(np.float32)
    y, s = np.empty_like(z), np.empty_like(z)
    cpu_kernels.activation_forward(1, z, y, s)
    gy, gs = poisoned(cp, z.shape), poisoned(cp, z.shape)
    launch.activation_forward(1, cp.asarray(z), gy, gs)
    np.testing.assert_allclose(gy.get(), y, rtol=1e-6, atol=1e-37)
    np.testing.assert_allclose(gs.get(), s, rtol=1e-6, atol=1e-37)
    out = poisoned(cp, z.shape)
    launch.multiply(cp.asarray(z), cp.asarray(s), out)
    np.testing.assert_allclose(out.get(), z * s, rtol=1e-6)


def test_adamw_kernel_against_the_textbook_update_with_varying_gradients(rng, cp, launch):
    n = 10_007
    p = rng.normal(size=n)
    m, v = np.zeros(n), np.zeros(n)
    gp, gm, gv = cp.asarray(p, dtype=np.float32), cp.zeros(n, dtype=np.float32), cp.zeros(n, dtype=np.float32)
    lr, b1, b2, eps, wd = 1e-2, 0.9, 0.999, 1e-8, 0.5
    for t in range(1, 6):
        g = rng.normal(size=n) * rng.uniform(0.1, 10, size=n)  # a new gradient, of varying scale, every step
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = (1 - lr * wd) * p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)  # AdamW
        launch.adam_update(
            gp, cp.asarray(g, dtype=np.float32), gm, gv, lr, b1, b2, eps, 1 - b1**t, 1 - b2**t, 1 - lr * wd
        )
    # float32 state against float64 maths: (1 - beta2) alone is 1.3e-5 off in float32
    np.testing.assert_allclose(gm.get(), m, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gv.get(), v, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gp.get(), p, rtol=1e-5, atol=1e-6)


def test_kernel_profile_records_every_kernel_of_the_step_and_its_bytes(rng, cp):
    """`sparsenet bench --device gpu`'s per-kernel table: every kernel of a pre-training step,
    launches per step and the bytes its array arguments hold (Adam: p, g, m, v once each)."""
    from sparsenet import benchmark

    mask = benchmark.random_phenotype_mask(n_out=12, n_in=80, links=200, seed=1)
    p = benchmark.kernel_profile(mask, batch=70, repeats=2, device="gpu")
    k = p["kernels"]
    assert set(k) == {"masked_forward", "decoder_scaled_sse", "sddmm", "slope_rowsum", "scale_gradient", "adam_update"}
    assert k["masked_forward"]["launches"] == 2 and k["sddmm"]["launches"] == 2  # encoder + input gradient
    n_params = mask.nnz + 12 + 80 + mask.nnz + 80 + 80  # encoder w, b, scale; decoder w, b; one-to-one d
    assert k["adam_update"]["bytes"] == 4 * 4 * n_params
    assert p["kernel_bytes_per_step"] == sum(v["bytes"] for v in k.values())
    assert "adam_update" in benchmark.format_kernel_profile(p)
