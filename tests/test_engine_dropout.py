"""Dropout: the share it keeps, its scale, its gradient (float64 finite differences through a network),
off at prediction, seeded, and the CPU and GPU kernels (emulated, and real where a GPU is present)
dropping exactly the same entries."""

import numpy as np
import pytest

from sparsenet import DenseLinear, Dropout, MaskedLinear, Sequential, Tanh
from sparsenet.engine import cpu_kernels
from conftest import random_mask


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.9])
def test_keeps_one_minus_p_scaled_by_its_inverse(p):
    x = np.ones((400, 250), dtype=np.float32)
    y = Dropout(p, seed=5).forward(x)
    kept = y != 0
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n)  # 4 sd of a binomial share
    np.testing.assert_allclose(np.unique(y[kept]), [1 / (1 - p)], rtol=1e-6)
    # no structure across samples or features: each row's and column's share is near 1 - p
    assert np.abs(kept.mean(axis=1) - (1 - p)).max() < 6 * np.sqrt(p * (1 - p) / x.shape[1])
    assert np.abs(kept.mean(axis=0) - (1 - p)).max() < 6 * np.sqrt(p * (1 - p) / x.shape[0])


def test_backward_is_the_forward_mask_and_prediction_is_the_identity(rng):
    d = Dropout(0.3, seed=1)
    x = rng.normal(size=(50, 40)).astype(np.float32)
    y = d.forward(x)
    g = rng.normal(size=x.shape).astype(np.float32)
    dx = d.backward(g)
    keep = np.where(y != 0, 1 / 0.7, 0.0)
    np.testing.assert_allclose(dx, g * keep, rtol=1e-6)
    d.training = False
    np.testing.assert_array_equal(d.forward(x), x)
    np.testing.assert_array_equal(d.backward(g), g)


def test_seeded_steps_differ_and_same_seed_repeats(rng):
    x = np.ones((64, 100))
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))  # same seed, same step: same mask
    second = a.forward(x)
    assert (first != second).mean() > 0.3  # the next step draws anew
    assert (first != Dropout(0.5, seed=4).forward(x)).mean() > 0.3
    a.step = 0
    np.testing.assert_array_equal(a.forward(x), first)  # the step is the whole state


def test_layout_of_the_input_does_not_change_the_mask(rng):
    x = rng.normal(size=(37, 23))
    np.testing.assert_array_equal(
        Dropout(0.4, seed=2).forward(np.ascontiguousarray(x)), Dropout(0.4, seed=2).forward(np.asfortranarray(x))
    )


def test_gradient_through_a_network_matches_float64_finite_differences(rng):
    mask = random_mask(rng, 7, 12, 0.4)
    drop = Dropout(0.25, seed=9)
    net = Sequential([MaskedLinear(mask, seed=1), Tanh(), drop, DenseLinear(7, 2, seed=2)], dtype=np.float64)
    x = rng.normal(size=(6, 12))
    target = rng.normal(size=(6, 2))

    def loss():
        drop.step = 0  # the same mask at every evaluation
        out = net.forward(x)
        return 0.5 * float(((out - target) ** 2).sum()), out

    _, out = loss()
    net.backward(out - target)
    analytic = net.grads.copy()
    eps, numeric = 1e-6, np.empty_like(analytic)
    for i in range(net.params.size):
        keep = net.params[i]
        net.params[i] = keep + eps
        up = loss()[0]
        net.params[i] = keep - eps
        down = loss()[0]
        net.params[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    assert np.count_nonzero(analytic) > 0


@pytest.mark.parametrize("shape", [(1, 1), (13, 9), (300, 257)])
def test_gpu_kernel_drops_the_same_entries_as_the_cpu(rng, cp, shape):
    from sparsenet.engine.cuda import launch

    xT = rng.normal(size=shape).astype(np.float32)
    out, keep = np.empty_like(xT), np.empty_like(xT)
    key, threshold, scale = 0x1234567, int(0.3 * 2**32), 1 / 0.7
    cpu_kernels.dropout_forward(xT, out, keep, key, threshold, scale)
    d_out, d_keep = cp.full(shape, cp.nan, dtype=cp.float32), cp.full(shape, cp.nan, dtype=cp.float32)
    launch.dropout_forward(cp.asarray(xT), d_out, d_keep, key, threshold, scale)
    np.testing.assert_array_equal(d_keep.get(), keep)
    np.testing.assert_array_equal(d_out.get(), out)


def test_dropout_layer_on_the_gpu_path_equals_the_cpu(rng, cp):
    x = rng.normal(size=(40, 30)).astype(np.float32)
    on_cpu = Dropout(0.2, seed=11).forward(x)
    on_gpu = Dropout(0.2, seed=11).forward(cp.asarray(x))
    np.testing.assert_array_equal(on_gpu.get(), on_cpu)


@pytest.mark.parametrize("p", [-0.1, 1.0, 2])
def test_refuses_a_share_outside_0_1(p):
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        Dropout(p)
