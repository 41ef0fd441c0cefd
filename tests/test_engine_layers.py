"""Every layer's forward and backward against a float64 dense NumPy reference."""

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet import DenseLinear, MaskedLinear, OneToOne, Softplus
from conftest import random_mask
import reference as ref

F32 = dict(rtol=2e-5, atol=2e-5)

MASKS = {
    "random with empty row and column": lambda rng: random_mask(rng, 9, 13, 0.35, empty_row=2, empty_col=5),
    "fully dense": lambda rng: sp.csr_matrix(np.ones((4, 6))),
    "1x1": lambda rng: sp.csr_matrix(np.ones((1, 1))),
    "wide and uneven": lambda rng: random_mask(rng, 5, 300, 0.2),
    "tall (decoder-like)": lambda rng: random_mask(rng, 300, 5, 0.5),
}
BATCHES = [1, 3, 257, 600]  # 257 and 600 cross the CPU's 256-column tiles unevenly


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("activation", [None, "softplus", "relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_linear_matches_dense_reference(rng, mask_name, batch, activation, dtype):
    mask = MASKS[mask_name](rng)
    layer = MaskedLinear(mask, bias=True, activation=activation, dtype=dtype, seed=7)
    layer.params["bias"][...] = rng.normal(size=mask.shape[0])
    x = rng.normal(scale=2.0, size=(batch, mask.shape[1]))
    y = layer.forward(x.astype(dtype))
    z, y_ref = ref.masked_forward(layer, x.astype(dtype))
    tol = F32 if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, y_ref, **tol)

    g = rng.normal(size=y.shape)
    dx = layer.backward(g.astype(dtype))
    dx_ref, dw_ref, db_ref = ref.masked_backward(layer, x.astype(dtype), z, g.astype(dtype))
    scale = 1 + np.sqrt(batch)  # sums over the batch grow with it
    tolg = dict(rtol=1e-4, atol=1e-5 * scale) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11 * scale)
    np.testing.assert_allclose(dx, dx_ref, **tolg)
    np.testing.assert_allclose(layer.grads["weight"], dw_ref, **tolg)
    np.testing.assert_allclose(layer.grads["bias"], db_ref, **tolg)


def test_masked_linear_parameters_are_only_the_nonzeros(rng):
    mask = random_mask(rng, 6, 8, 0.4)
    layer = MaskedLinear(mask)
    assert layer.params["weight"].shape == (mask.nnz,)
    rows, cols = ref.nonzero_positions(layer)
    dense = layer.weight_matrix().toarray()
    assert np.count_nonzero(dense[mask.toarray() == 0]) == 0
    np.testing.assert_array_equal(dense[rows, cols], layer.params["weight"])


def test_masked_linear_without_bias_and_with_dense_mask_input(rng):
    mask = (rng.random((5, 7)) < 0.5).astype(int)
    layer = MaskedLinear(mask, bias=False, dtype=np.float64)
    assert "bias" not in layer.params
    x = rng.normal(size=(4, 7))
    np.testing.assert_allclose(layer.forward(x), x @ ref.dense_weight(layer).T, rtol=1e-12)


def test_identity_mask_costs_one_weight_per_gene(rng):
    n = 50
    layer = MaskedLinear(sp.identity(n, format="csr"), bias=False, dtype=np.float64)
    assert layer.nnz == n
    x = rng.normal(size=(3, n))
    np.testing.assert_allclose(layer.forward(x), x * layer.params["weight"], rtol=1e-12)


@pytest.mark.parametrize("batch", [1, 5, 300])
@pytest.mark.parametrize("bias", [False, True])
def test_one_to_one_matches_reference(rng, batch, bias):
    n = 17
    layer = OneToOne(n, bias=bias, dtype=np.float64)
    layer.params["weight"][...] = rng.normal(size=n)
    if bias:
        layer.params["bias"][...] = rng.normal(size=n)
    x = rng.normal(size=(batch, n))
    y = layer.forward(x)
    b = layer.params["bias"] if bias else 0.0
    np.testing.assert_allclose(y, x * layer.params["weight"] + b, rtol=1e-12)
    g = rng.normal(size=(batch, n))
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, g * layer.params["weight"], rtol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], (g * x).sum(0), rtol=1e-10)
    if bias:
        np.testing.assert_allclose(layer.grads["bias"], g.sum(0), rtol=1e-10)


def test_dense_linear_matches_reference(rng):
    layer = DenseLinear(6, 4, dtype=np.float64, seed=3)
    layer.params["bias"][...] = rng.normal(size=4)
    x = rng.normal(size=(5, 6))
    W = layer.params["weight"]
    np.testing.assert_allclose(layer.forward(x), x @ W.T + layer.params["bias"], rtol=1e-12)
    g = rng.normal(size=(5, 4))
    np.testing.assert_allclose(layer.backward(g), g @ W, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], g.sum(0), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_softplus_stable_and_exact(dtype, order):
    z = np.array(
        [[-1e4, -200.0, -88.0, -87.0, -30.0, -1e-3, -1e-8, 0.0], [1e-8, 1e-3, 0.5, 3.0, 15.0, 30.0, 88.0, 1e4]],
        dtype=dtype,
    )
    z = np.asarray(z, order=order)
    layer = Softplus()
    y = layer.forward(z)
    assert np.all(np.isfinite(y))
    expect = ref.softplus(z.astype(np.float64))
    tiny = np.finfo(dtype).tiny
    rel = np.abs(y - expect) / np.maximum(expect, tiny)
    # relative precision everywhere a normal float can hold the answer
    limit = 5e-7 if dtype == np.float32 else 1e-15  # float32 arithmetic: a few ulp
    assert rel[expect > tiny].max() < limit
    assert np.all(y[expect <= tiny] <= tiny)
    g = np.ones_like(z)
    slope = layer.backward(g)
    np.testing.assert_allclose(slope, ref.logistic(z.astype(np.float64)), rtol=limit * 5, atol=1e-30)


def test_softplus_float32_over_a_wide_range():
    z = np.linspace(-90, 90, 200_001, dtype=np.float32).reshape(1, -1)
    y = Softplus().forward(z)
    expect = ref.softplus(z.astype(np.float64))
    ok = expect > np.finfo(np.float32).tiny
    assert (np.abs(y - expect) / expect)[ok].max() < 5e-7  # float32 arithmetic: a few ulp


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_scale_equals_a_one_to_one_layer_in_front(rng, mask_name, dtype):
    """MaskedLinear(input_scale=True) == OneToOne then MaskedLinear, against a float64 dense reference."""
    mask = MASKS[mask_name](rng)
    layer = MaskedLinear(mask, activation="softplus", dtype=dtype, seed=3, input_scale=True)
    s = rng.normal(size=mask.shape[1])
    layer.params["scale"][...] = s
    layer.params["bias"][...] = rng.normal(size=mask.shape[0])
    x = rng.normal(size=(37, mask.shape[1]))
    y = layer.forward(x.astype(dtype))
    w = ref.dense_weight(layer)
    z = (x * s) @ w.T + np.asarray(layer.params["bias"], np.float64)
    tol = F32 if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, ref.softplus(z), **tol)
    g = rng.normal(size=y.shape)
    dx = layer.backward(g.astype(dtype))
    dz = g * ref.logistic(z)
    rows, cols = ref.nonzero_positions(layer)
    tolg = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, (dz @ w) * s, **tolg)
    np.testing.assert_allclose(layer.grads["weight"], (dz.T @ (x * s))[rows, cols], **tolg)
    np.testing.assert_allclose(layer.grads["scale"], ((dz @ w) * x).sum(axis=0), **tolg)
    layer.frozen = {"scale"}
    layer.backward(g.astype(dtype))
    assert not layer.grads["scale"].any()
