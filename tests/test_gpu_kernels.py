"""GPU kernels against the CPU path, float32 tolerance; skipped where CuPy sees no GPU.

Outputs are poisoned (NaN) before each launch so elements a kernel fails to write show up.
"""
import numpy as np
import pytest

from sparsenet import backend
from sparsenet.engine import cpu_kernels, MaskedLinear, OneToOne, Sequential, Adam, Softplus, sum_squared_error
from conftest import random_mask

cp = backend.cupy_or_none()
pytestmark = pytest.mark.skipif(cp is None, reason="no GPU: CuPy missing or sees no CUDA device")

TOL = dict(rtol=2e-5, atol=2e-5)


def poisoned(shape):
    return cp.full(shape, cp.nan, dtype=cp.float32)


@pytest.fixture
def launch():
    from sparsenet.engine.cuda import launch
    return launch


@pytest.mark.parametrize("shape,batch", [((110, 1366), 5000), ((9, 13), 3), ((1366, 110), 257), ((1, 1), 1)])
@pytest.mark.parametrize("act", [0, 1])
def test_masked_forward_and_backward_kernels(rng, launch, shape, batch, act):
    mask = random_mask(rng, *shape, 0.3 if shape[0] > 1 else 1.0)
    layer = MaskedLinear(mask, activation="softplus" if act else None, seed=1)
    layer.params["bias"][...] = rng.normal(size=shape[0])
    w, b = layer.params["weight"], layer.params["bias"]
    xT = rng.normal(size=(shape[1], batch)).astype(np.float32)
    outT = np.empty((shape[0], batch), np.float32)
    slopeT = np.empty_like(outT)
    cpu_kernels.masked_forward(layer.indptr, layer.indices, w, b, xT, outT, slopeT, act)
    d = {k: cp.asarray(getattr(layer, k)) for k in ("indptr", "indices", "t_indptr", "t_indices", "t_perm")}
    g_out, g_slope = poisoned(outT.shape), poisoned(outT.shape) if act else cp.zeros((0, 0), cp.float32)
    launch.masked_forward(d["indptr"], d["indices"], cp.asarray(w), cp.asarray(b), cp.asarray(xT), g_out, g_slope, act)
    np.testing.assert_allclose(g_out.get(), outT, **TOL)
    if act:
        np.testing.assert_allclose(g_slope.get(), slopeT, **TOL)

    gT = rng.normal(size=outT.shape).astype(np.float32)
    t_w = w[layer.t_perm]
    tiles = cpu_kernels.n_tiles(batch)
    dzT, dxT = np.empty_like(gT), np.empty_like(xT)
    dw_t, db_t = np.empty((tiles, layer.nnz), np.float32), np.empty((tiles, shape[0]), np.float32)
    cpu_kernels.masked_backward(layer.indptr, layer.indices, layer.t_indptr, layer.t_indices, t_w, xT, gT,
                                slopeT, act, dzT if act else gT, dxT, dw_t, db_t, True, True)
    g_dz = poisoned(gT.shape) if act else cp.asarray(gT)
    g_dx, g_dw, g_db = poisoned(xT.shape), poisoned((1, layer.nnz)), poisoned((1, shape[0]))
    launch.masked_backward(d["indptr"], d["indices"], d["t_indptr"], d["t_indices"], cp.asarray(t_w),
                           cp.asarray(xT), cp.asarray(gT), g_slope, act, g_dz, g_dx, g_dw, g_db, True, True)
    scale = 1 + np.sqrt(batch)
    np.testing.assert_allclose(g_dx.get(), dxT, **TOL)
    np.testing.assert_allclose(g_dw.get()[0], dw_t.sum(0), rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(g_db.get()[0], db_t.sum(0), rtol=1e-4, atol=1e-5 * scale)


def test_softplus_and_multiply_kernels(rng, launch):
    z = (rng.normal(size=(37, 1001)) * 30).astype(np.float32)
    y, s = np.empty_like(z), np.empty_like(z)
    cpu_kernels.softplus_forward(z, y, s)
    gy, gs = poisoned(z.shape), poisoned(z.shape)
    launch.softplus_forward(cp.asarray(z), gy, gs)
    np.testing.assert_allclose(gy.get(), y, rtol=1e-6, atol=1e-37)
    np.testing.assert_allclose(gs.get(), s, rtol=1e-6, atol=1e-37)
    out = poisoned(z.shape)
    launch.multiply(cp.asarray(z), cp.asarray(s), out)
    np.testing.assert_allclose(out.get(), z * s, rtol=1e-6)


def test_adam_kernel(rng, launch):
    n = 100_003
    p, g = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    gp, gm, gv = cp.asarray(p), cp.asarray(m), cp.asarray(v)
    for t in range(1, 4):
        b1, b2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        cpu_kernels.adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, b1, b2)
        launch.adam_update(gp, cp.asarray(g), gm, gv, 1e-3, 0.9, 0.999, 1e-8, b1, b2)
    np.testing.assert_allclose(gp.get(), p, rtol=1e-6, atol=1e-7)


def test_whole_network_step_matches_cpu(rng):
    enc = random_mask(rng, 30, 200, 0.1)

    def net():
        return Sequential([OneToOne(200), MaskedLinear(enc, activation="softplus", seed=1),
                           MaskedLinear(enc.T, activation="softplus", seed=2), OneToOne(200)])

    x = (rng.normal(size=(600, 200)) / 3).astype(np.float32)
    cpu, gpu = net(), net().to("gpu")
    for model, xx in ((cpu, x), (gpu, cp.asarray(x))):
        opt = Adam(model.params, model.grads, lr=1e-3)
        for _ in range(3):
            value, g = sum_squared_error(model.forward(xx), xx)
            model.backward(g)
            opt.step()
    np.testing.assert_allclose(gpu.params.get(), cpu.params, rtol=1e-4, atol=1e-5)
