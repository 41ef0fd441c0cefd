"""Whole-network gradient check, Adam against a reference, containers, bad input."""

import numpy as np
import numba
import pytest
import scipy.sparse as sp

from sparsenet import (
    Adam,
    MaskedLinear,
    OneToOne,
    Sequential,
    Softplus,
    scaled_squared_error,
    softplus_scaled_squared_error,
    sum_abs_relative_error,
    sum_squared_error,
)
from conftest import random_mask


def small_autoencoder(rng, dtype=np.float64, seed=0):
    enc = random_mask(rng, 4, 9, 0.5, empty_col=3)
    mid = random_mask(rng, 3, 4, 0.7)
    return Sequential(
        [
            MaskedLinear(enc, activation="softplus", dtype=dtype, seed=seed, input_scale=True),
            MaskedLinear(mid, activation="softplus", dtype=dtype, seed=seed + 1),
            MaskedLinear(random_mask(rng, 9, 3, 0.6), dtype=dtype, seed=seed + 2),
        ]
    )


def test_finite_difference_gradient_of_whole_autoencoder(rng):
    net = small_autoencoder(rng)
    for layer in net.layers:  # nonzero biases (and input scales) so every path is exercised
        layer.params["bias"][...] = rng.normal(scale=0.5, size=layer.params["bias"].shape)
    net.layers[0].params["scale"][...] = rng.normal(size=9)
    x = rng.normal(size=(6, 9))

    def loss_at(params, inputs):
        saved = net.params.copy()
        net.params[...] = params
        value = sum_squared_error(net.forward(inputs), x)[0]
        net.params[...] = saved
        return value

    value, g = sum_squared_error(net.forward(x), x)
    dx = net.backward(g, want_input_grad=True)
    analytic = net.grads.copy()
    h = 1e-6
    p0 = net.params.copy()
    numeric = np.empty_like(p0)
    for i in range(p0.size):
        e = np.zeros_like(p0)
        e[i] = h
        numeric[i] = (loss_at(p0 + e, x) - loss_at(p0 - e, x)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)

    # input gradient (the target held fixed)
    num_dx = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        up = sum_squared_error(net.forward(x + e), x)[0]
        down = sum_squared_error(net.forward(x - e), x)[0]
        num_dx[idx] = (up - down) / (2 * h)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-7)


def test_relative_error_loss_value_and_gradient(rng):
    y = rng.uniform(0.1, 2.0, size=(7, 2))
    y[0, 1] = 0.0  # nudged off zero by eps
    y[3, 0] = np.nan  # missing: ignored
    pred = rng.normal(size=(7, 2))
    eps = 1e-3
    value, grad = sum_abs_relative_error(pred, y, eps=eps)
    known = ~np.isnan(y)
    expect = np.abs((y[known] - pred[known]) / (y[known] + eps)).sum()
    assert value == pytest.approx(expect, rel=1e-12)
    h = 1e-7
    for idx in np.ndindex(*pred.shape):
        e = np.zeros_like(pred)
        e[idx] = h
        num = (sum_abs_relative_error(pred + e, y, eps)[0] - sum_abs_relative_error(pred - e, y, eps)[0]) / (2 * h)
        assert grad[idx] == pytest.approx(num, rel=1e-5, abs=1e-6)


def reference_adam(p, grads, lr, b1, b2, eps):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(p.copy())
    return out


@pytest.mark.parametrize("n", [1, 10, 70_000])  # 70,000 spans several parallel chunks
def test_adam_matches_reference_over_several_steps(rng, n):
    p = rng.normal(size=n)
    grads = [rng.normal(size=n) for _ in range(5)]
    expected = reference_adam(p.copy(), grads, 0.01, 0.9, 0.999, 1e-8)
    params = p.copy()
    g = np.zeros(n)
    opt = Adam(params, g, lr=0.01)
    for step, gs in enumerate(grads):
        g[...] = gs
        opt.step()
        np.testing.assert_allclose(params, expected[step], rtol=1e-12, atol=1e-14)


def test_training_reduces_loss_and_is_deterministic_across_thread_counts(rng):
    enc = random_mask(rng, 20, 60, 0.2)
    x = rng.normal(size=(700, 60)).astype(np.float32) / 3

    def run(threads):
        numba.set_num_threads(threads)
        try:
            net = Sequential(
                [
                    OneToOne(60),
                    MaskedLinear(enc, activation="softplus", seed=1),
                    MaskedLinear(enc.T, activation="softplus", seed=2),
                    OneToOne(60),
                ]
            )
            opt = Adam(net.params, net.grads, lr=1e-2)
            losses = []
            for _ in range(30):
                value, g = sum_squared_error(net.forward(x), x)
                net.backward(g)
                opt.step()
                losses.append(value)
            return np.array(losses), net.params.copy()
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    losses1, params1 = run(1)
    losses2, params2 = run(numba.config.NUMBA_NUM_THREADS)
    assert losses1[-1] < 0.5 * losses1[0]
    np.testing.assert_array_equal(losses1, losses2)
    np.testing.assert_array_equal(params1, params2)


def test_frozen_layer_gets_no_gradient_and_does_not_move(rng):
    enc = random_mask(rng, 5, 12, 0.4)
    net = Sequential([OneToOne(12), MaskedLinear(enc, activation="softplus")])
    net.layers[0].trainable = False
    before = net.layers[0].params["weight"].copy()
    opt = Adam(net.params, net.grads, lr=0.1)
    x = rng.normal(size=(8, 12))
    for _ in range(3):
        y = net.forward(x)
        net.backward(np.ones_like(y))
        opt.step()
    np.testing.assert_array_equal(net.layers[0].grads["weight"], 0)
    np.testing.assert_array_equal(net.layers[0].params["weight"], before)
    assert np.any(net.layers[1].grads["weight"] != 0)


def test_state_dict_round_trip_gives_same_outputs(rng):
    net = small_autoencoder(rng, dtype=np.float32, seed=3)
    state = net.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    other = small_autoencoder(np.random.default_rng(1234), dtype=np.float32, seed=99)
    x = rng.normal(size=(5, 9)).astype(np.float32)
    assert not np.allclose(other.forward(x), net.forward(x))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.forward(x), net.forward(x))
    with pytest.raises(ValueError, match="missing"):
        other.load_state_dict({k: v for k, v in list(state.items())[1:]})


def test_input_layout_does_not_change_results(rng):
    net = small_autoencoder(rng, dtype=np.float32)
    x = rng.normal(size=(300, 9)).astype(np.float32)
    np.testing.assert_array_equal(net.forward(np.ascontiguousarray(x)), net.forward(np.asfortranarray(x)))


# ------------------------------------------------------------------ bad input
def test_bad_inputs_raise_clear_value_errors(rng):
    mask = random_mask(rng, 3, 5, 0.5)
    layer = MaskedLinear(mask)
    with pytest.raises(ValueError, match="has 4 features but the layer expects 5"):
        layer.forward(np.zeros((2, 4), np.float32))
    bad = np.zeros((2, 5), np.float32)
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        layer.forward(bad)
    bad[1, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        layer.forward(bad)
    with pytest.raises(ValueError, match="dtype must be floating point"):
        layer.forward(np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match="must be 2-D"):
        layer.forward(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="values must be 0 or 1"):
        MaskedLinear(np.array([[0, 0.5], [1, 0]]))
    with pytest.raises(ValueError, match="values must be 0 or 1"):
        MaskedLinear(sp.csr_matrix(np.array([[0, 2.0], [1, 0]])))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        MaskedLinear(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="activation"):
        MaskedLinear(mask, activation="gelu")
    with pytest.raises(ValueError, match="gives 3 features but the next MaskedLinear expects 4"):
        Sequential([MaskedLinear(mask), MaskedLinear(random_mask(rng, 2, 4, 0.5))])
    with pytest.raises(ValueError, match="shape"):
        sum_squared_error(np.zeros((2, 3)), np.zeros((3, 2)))


def test_frozen_single_parameter_holds_still(rng):
    net = Sequential([MaskedLinear(random_mask(rng, 5, 12, 0.4), activation="softplus", input_scale=True)])
    net.layers[0].frozen = {"scale"}
    scale, weight = net.layers[0].params["scale"].copy(), net.layers[0].params["weight"].copy()
    opt = Adam(net.params, net.grads, lr=0.1)
    x = rng.normal(size=(8, 12))
    for _ in range(3):
        net.backward(np.ones_like(net.forward(x)))
        opt.step()
    np.testing.assert_array_equal(net.layers[0].params["scale"], scale)
    assert not np.array_equal(net.layers[0].params["weight"], weight)


@pytest.mark.parametrize("weighted", [False, True])
def test_scaled_squared_error_equals_one_to_one_then_sse(rng, weighted):
    """The fused output layer + loss against the two ops it replaces, in float64."""
    h = np.asfortranarray(rng.normal(size=(300, 11)))
    d, y = rng.normal(size=11), rng.normal(size=(300, 11))
    w = (rng.random(11) < 0.6).astype(np.float64) if weighted else None
    value, gh, gd = scaled_squared_error(h, d, y, w)
    layer = OneToOne(11, dtype=np.float64)
    layer.params["weight"][...] = d
    ref_value, ref_g = sum_squared_error(layer.forward(h), y, w)
    ref_gh = layer.backward(ref_g)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(gh, ref_gh, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gd, layer.grads["weight"], rtol=1e-12, atol=1e-12)


def test_reconstruction_step_fused_equals_unfused(rng):
    from sparsenet.training.pretrain import reconstruction_step

    enc, dec = random_mask(rng, 4, 9, 0.5), random_mask(rng, 9, 4, 0.6)

    def net_():
        return Sequential(
            [
                MaskedLinear(enc, activation="softplus", dtype=np.float64, seed=1, input_scale=True),
                MaskedLinear(dec, activation="softplus", dtype=np.float64, seed=2),
                OneToOne(9, dtype=np.float64),
            ]
        )

    a = net_()
    b = Sequential([layer for layer in net_().layers])
    b.params[...] = a.params
    x = rng.normal(size=(20, 9))
    w = (rng.random(9) < 0.7).astype(np.float64)
    va = reconstruction_step(a, x, w)  # fused path
    vb, g = sum_squared_error(b.forward(x), x, w)  # the unfused ops
    b.backward(g)
    assert va == pytest.approx(vb, rel=1e-12)
    np.testing.assert_allclose(a.grads, b.grads, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softplus_scaled_squared_error_equals_the_three_ops(rng, dtype):
    z = np.asfortranarray(rng.normal(scale=4, size=(300, 11))).astype(dtype)
    d, y = rng.normal(size=11).astype(dtype), rng.normal(size=(300, 11)).astype(dtype)
    w = (rng.random(11) < 0.6).astype(dtype)
    value, gz, gd = softplus_scaled_squared_error(z, d, y, w)
    act, layer = Softplus(), OneToOne(11, dtype=np.float64)
    layer.params["weight"][...] = d
    z64 = z.astype(np.float64)
    ref_value, g = sum_squared_error(layer.forward(act.forward(z64)), y.astype(np.float64), w.astype(np.float64))
    ref_gz = act.backward(layer.backward(g))
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-5)
    assert value == pytest.approx(ref_value, rel=tol["rtol"])
    np.testing.assert_allclose(gz, ref_gz, **tol)
    np.testing.assert_allclose(gd, layer.grads["weight"], rtol=tol["rtol"], atol=tol["atol"] * 300)


def test_state_dict_follows_layers_moved_into_another_container(rng):
    """A sub-container re-flattens its layers; the outer container's state must still see them."""
    net = Sequential(
        [
            MaskedLinear(random_mask(rng, 5, 12, 0.4), activation="softplus", input_scale=True),
            MaskedLinear(random_mask(rng, 12, 5, 0.4)),
            Softplus(),
            OneToOne(12),
        ]
    )
    encoder = Sequential(net.layers[:1])
    opt = Adam(encoder.params, encoder.grads, lr=0.1)
    x = rng.normal(size=(8, 12))
    encoder.backward(np.ones_like(encoder.forward(x)))
    opt.step()
    state = net.state_dict()
    np.testing.assert_array_equal(state["0.weight"], net.layers[0].params["weight"])
    np.testing.assert_array_equal(state["0.scale"], encoder.state_dict()["0.scale"])
    state["0.bias"] = state["0.bias"] + 1
    net.load_state_dict(state)
    np.testing.assert_array_equal(encoder.layers[0].params["bias"], state["0.bias"].astype(np.float32))
