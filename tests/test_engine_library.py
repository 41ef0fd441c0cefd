"""The engine as a library: activations, losses, a user's own layer, Sequential(dtype=), AdamW,
and a P-NET-style hierarchy trained with them. Float64 finite differences are the reference."""

import numpy as np
import pytest

import sparsenet
from sparsenet import (
    Adam,
    Layer,
    MaskedLinear,
    OneToOne,
    ReLU,
    Sequential,
    Sigmoid,
    Softplus,
    Tanh,
    binary_cross_entropy_with_logits,
    mean_squared_error,
)
from conftest import random_mask
import reference as ref

ACTS = ["softplus", "relu", "tanh", "sigmoid"]
LAYERS = {"softplus": Softplus, "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def loss_of(name, out, y, sw, fw):
    if name == "mse":
        return mean_squared_error(out, y, sample_weight=sw, feature_weight=fw)
    return binary_cross_entropy_with_logits(out, y, sample_weight=sw, feature_weight=fw)


def finite_difference(f, values, eps=1e-6, take=25, rng=None):
    """Central differences of scalar f() in the entries of ``values`` (changed in place)."""
    flat = values.reshape(-1)
    picks = np.arange(flat.size) if flat.size <= take else rng.choice(flat.size, take, replace=False)
    out = {}
    for i in picks:
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        out[int(i)] = (up - down) / (2 * eps)
    return out


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_float64_finite_differences_of_activations_and_losses(rng, act, loss):
    """Input and parameter gradients of masked layers with each activation fused and standalone,
    under each loss with per-sample and per-feature weights, against central differences."""
    enc = random_mask(rng, 6, 11, 0.4, empty_row=2)
    other = ACTS[(ACTS.index(act) + 1) % len(ACTS)]
    net = Sequential(
        [MaskedLinear(enc, activation=act, seed=1), LAYERS[other](), MaskedLinear(random_mask(rng, 4, 6, 0.6), seed=2)],
        dtype=np.float64,
    )
    for layer in net.layers:
        if "bias" in layer.params:
            layer.params["bias"][...] = rng.normal(size=layer.params["bias"].shape) * 0.5
    x = rng.normal(size=(5, 11))
    y = rng.random(size=(5, 4)) if loss == "bce" else rng.normal(size=(5, 4))
    sw, fw = rng.uniform(0.5, 2, size=5), rng.uniform(0.5, 2, size=4)

    def value():
        return loss_of(loss, net.forward(x), y, sw, fw)[0]

    v, g = loss_of(loss, net.forward(x), y, sw, fw)
    dx = net.backward(g, want_input_grad=True)
    grads, dx = net.grads.copy(), np.asarray(dx)
    for i, fd in finite_difference(value, x, rng=rng).items():
        np.testing.assert_allclose(dx.reshape(-1)[i], fd, rtol=1e-5, atol=1e-8)
    params = net.params  # the flat buffer: every layer's parameters are views into it
    for i, fd in finite_difference(value, params, take=40, rng=rng).items():
        np.testing.assert_allclose(grads[i], fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standalone_activations_are_exact_and_safe_at_large_inputs(act, dtype):
    z = np.concatenate([np.linspace(-100, 100, 2001), [-1e30, -88.8, -30, -1e-30, 0.0, 1e-30, 30, 88.8, 1e30]])
    x = np.tile(z.astype(dtype), (3, 1))  # batch 3 (and batch 1 below)
    layer = LAYERS[act]()
    y = layer.forward(x)
    g = layer.backward(np.ones_like(x))
    value, slope = ref.ACTIVATIONS[act]
    zz = x.astype(np.float64)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))
    tol = dict(rtol=2e-6, atol=1e-30) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(y, value(zz), **tol)
    np.testing.assert_allclose(g, slope(zz), **{**tol, "atol": 1e-7 if dtype == np.float32 else 1e-15})
    one = LAYERS[act]().forward(x[:1])  # batch 1: the same values (to the last bit or so: SIMD remainders)
    np.testing.assert_allclose(one, y[:1], rtol=3e-7, atol=0)


def test_losses_exact_values_and_safe_logits(rng):
    z = np.array([[-1e4, -30.0, 0.0], [30.0, 1e4, 2.5]])
    y = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1.0]])
    v, g = binary_cross_entropy_with_logits(z, y)
    p = np.clip(1 / (1 + np.exp(-np.clip(z, -700, 700))), 1e-300, 1)
    expected_terms = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    assert np.isfinite(v) and np.all(np.isfinite(g))
    np.testing.assert_allclose(v, expected_terms.mean(), rtol=1e-12)
    np.testing.assert_allclose(g, (p - y) / 6, rtol=1e-12, atol=1e-300)
    pred, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    sw, fw = rng.random(4), rng.random(3)
    v, g = mean_squared_error(pred, target, sw, fw)
    w = sw[:, None] * fw[None, :]
    np.testing.assert_allclose(v, (w * (pred - target) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(g, 2 * w * (pred - target) / 12, rtol=1e-12)
    with pytest.raises(ValueError, match="sample_weight has shape \\(3,\\), expected \\(4,\\)"):
        mean_squared_error(pred, target, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="targets must lie in \\[0, 1\\]"):
        binary_cross_entropy_with_logits(pred, target)


class Affine(Layer):
    """A user's own layer, written against the documented contract: y = a * x + c per feature."""

    def __init__(self, n):
        super().__init__()
        self.n = n
        self.params["a"] = np.full(n, 1.5, dtype=np.float32)
        self.params["c"] = np.zeros(n, dtype=np.float32)
        self._new_grads()

    in_features = property(lambda self: self.n)
    out_features = property(lambda self: self.n)

    def _forward(self, x):
        self._x = x
        return x * self.params["a"] + self.params["c"]

    def backward(self, grad_out, want_input_grad=True):
        self.grads["a"][...] = (grad_out * self._x).sum(axis=0)
        self.grads["c"][...] = grad_out.sum(axis=0)
        return grad_out * self.params["a"] if want_input_grad else None


def test_a_users_layer_trains_inside_sequential_with_one_dtype(rng):
    mask = random_mask(rng, 5, 12, 0.5)
    net = Sequential([Affine(12), MaskedLinear(mask, activation="tanh", seed=3), OneToOne(5)], dtype=np.float64)
    assert net.params.dtype == np.float64
    assert all(v.dtype == np.float64 for layer in net.layers for v in layer.params.values())
    x = rng.normal(size=(8, 12))
    y = rng.normal(size=(8, 5)) * 0.3

    def value():
        return mean_squared_error(net.forward(x), y)[0]

    v, g = mean_squared_error(net.forward(x), y)
    net.backward(g)
    grads = net.grads.copy()
    user = net.slices["0.a"]
    for i, fd in finite_difference(value, net.params[user]).items():
        np.testing.assert_allclose(grads[user][i], fd, rtol=1e-5, atol=1e-9)
    opt = Adam(net.params, net.grads, lr=0.02)
    before = value()
    for _ in range(200):
        _, g = mean_squared_error(net.forward(x), y)
        net.backward(g)
        opt.step()
    assert value() < 0.2 * before
    assert net.layers[0].params["a"].base is not None  # still a view into the flat buffer


def test_sequential_dtype_is_checked():
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        Sequential([OneToOne(3)], dtype=np.int32)


def test_adamw_decay_is_decoupled_from_the_gradient():
    """With a zero gradient Adam leaves parameters alone and AdamW shrinks them by (1 - lr w) a step."""
    p = np.linspace(-2, 2, 9).astype(np.float64)
    for wd, factor in ((0.0, 1.0), (0.1, 1 - 0.05 * 0.1)):
        params, grads = p.copy(), np.zeros_like(p)
        opt = Adam(params, grads, lr=0.05, weight_decay=wd)
        for _ in range(7):
            opt.step()
        np.testing.assert_allclose(params, p * factor**7, rtol=1e-12)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        Adam(p.copy(), np.zeros_like(p), weight_decay=-1)


def test_pnet_style_hierarchy_learns_a_pathway_label():
    """P-NET-like: genes -> pathways -> super-pathways -> one logit, three masked levels with tanh,
    a sigmoid output through binary cross-entropy with logits; the label follows one pathway."""
    rng = np.random.default_rng(5)
    n_genes, n_path, n_super = 60, 12, 4
    genes_to_path = np.zeros((n_path, n_genes))
    for p in range(n_path):
        genes_to_path[p, rng.choice(n_genes, 8, replace=False)] = 1
    path_to_super = np.zeros((n_super, n_path))
    path_to_super[np.arange(n_path) % n_super, np.arange(n_path)] = 1
    net = Sequential(
        [
            MaskedLinear(genes_to_path, activation="tanh", seed=1),
            MaskedLinear(path_to_super, activation="tanh", seed=2),
            MaskedLinear(np.ones((1, n_super)), seed=3),
        ]
    )
    x = rng.normal(size=(400, n_genes)).astype(np.float32)
    signal = x[:, genes_to_path[0] == 1].mean(axis=1)
    y = (signal > 0).astype(np.float32)[:, None]
    opt = Adam(net.params, net.grads, lr=0.03)
    losses = []
    for _ in range(300):
        value, g = binary_cross_entropy_with_logits(net.forward(x), y)
        net.backward(g)
        opt.step()
        losses.append(value)
    assert losses[-1] < 0.5 * losses[0]
    accuracy = ((net.forward(x)[:, 0] > 0) == (y[:, 0] == 1)).mean()
    assert accuracy > 0.85


def test_public_api_exports_what_a_model_builder_needs():
    for name in (
        "Layer",
        "Sequential",
        "MaskedLinear",
        "OneToOne",
        "ReLU",
        "Tanh",
        "Sigmoid",
        "Softplus",
        "Adam",
        "mean_squared_error",
        "binary_cross_entropy_with_logits",
    ):
        assert name in sparsenet.__all__ and hasattr(sparsenet, name)
