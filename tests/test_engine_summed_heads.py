"""SummedHeads (a read-out after every level, summed): its gradient against float64 finite differences, the
gradient at every block's output, and the classifier's network with heads (fit, importance, refusals)."""

import numpy as np
import pytest

from sparsenet import DenseLinear, Dropout, MaskedLinear
from sparsenet.engine.summed_heads import SummedHeads
from sparsenet.training.pathway_network import PathwayTraining, build_network, fit_network, fit_stacked, node_importance
from conftest import random_mask


def heads_network(rng, dropout=0.0):
    m1, m2 = random_mask(rng, 9, 20, 0.3), random_mask(rng, 4, 9, 0.5)
    blocks = [
        [MaskedLinear(m1, activation="tanh", seed=1), Dropout(dropout, seed=1)],
        [MaskedLinear(m2, activation="tanh", seed=2), Dropout(dropout, seed=2)],
    ]
    return SummedHeads(blocks, [DenseLinear(9, 2, seed=3), DenseLinear(4, 2, seed=4)], dtype=np.float64)


def test_gradient_matches_float64_finite_differences(rng):
    net = heads_network(rng, dropout=0.3)
    x, target = rng.normal(size=(7, 20)), rng.normal(size=(7, 2))
    drops = [layer for layer in net.layers if isinstance(layer, Dropout)]

    def loss():
        for d in drops:
            d.step = 0  # the same dropout mask every evaluation
        out = net.forward(x)
        return 0.5 * float(((out - target) ** 2).sum()), out

    _, out = loss()
    block_grads = []
    dx = net.backward(out - target, want_input_grad=True, block_grads=block_grads)
    analytic = net.grads.copy()
    numeric = np.empty_like(analytic)
    for i in range(net.params.size):
        keep = net.params[i]
        net.params[i] = keep + 1e-6
        up = loss()[0]
        net.params[i] = keep - 1e-6
        down = loss()[0]
        net.params[i] = keep
        numeric[i] = (up - down) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)  # central differences: ~1e-9 error
    # the input gradient too, and one gradient per block output (their shapes)
    eps, fd = 1e-6, np.empty_like(x)
    for idx in np.ndindex(x.shape):
        keep = x[idx]
        x[idx] = keep + eps
        up = loss()[0]
        x[idx] = keep - eps
        down = loss()[0]
        x[idx] = keep
        fd[idx] = (up - down) / (2 * eps)
    np.testing.assert_allclose(dx, fd, rtol=1e-6, atol=1e-8)  # central differences: ~1e-9 truncation error
    assert [g.shape for g in block_grads] == [(7, 9), (7, 4)]


def test_the_classifier_network_with_heads_learns_and_explains(rng):
    masks = [random_mask(rng, 12, 40, 0.15), random_mask(rng, 3, 12, 0.5)]
    x = rng.normal(size=(200, 40))
    first = masks[0][0].indices
    y = (x[:, first].mean(axis=1) > 0).astype(int)
    training = PathwayTraining(heads=True, epochs=60)
    net = fit_network(masks, x, y, 2, training, seed=0)
    assert isinstance(net, SummedHeads) and len(net.heads) == 2
    from sparsenet.training.pathway_network import class_probabilities

    assert ((class_probabilities(net, x, 2)[:, 1] > 0.5) == y).mean() > 0.9
    imp = node_importance(net, x)
    assert [a.shape for a in imp] == [(12,), (3,)] and int(np.argmax(imp[0])) == 0
    with pytest.raises(ValueError, match="one by one"):
        fit_stacked([masks, masks], x, y, 2, training, seeds=[0, 1])


def test_importance_with_heads_is_activation_times_the_summed_gradient(rng):
    masks = [random_mask(rng, 5, 8, 0.5), random_mask(rng, 2, 5, 0.8)]
    net = build_network(masks, 2, PathwayTraining(heads=True, dtype="float64"), seed=1)
    x = rng.normal(size=(10, 8))
    imp = node_importance(net, x)
    l1, l2 = net.blocks[0][0], net.blocks[1][0]
    a1 = np.tanh(x @ dense(l1).T + l1.params["bias"])
    a2 = np.tanh(a1 @ dense(l2).T + l2.params["bias"])
    w1, w2 = net.heads[0].params["weight"][0], net.heads[1].params["weight"][0]
    g2 = np.tile(w2, (10, 1))
    g1 = w1 + (g2 * (1 - a2**2)) @ dense(l2)  # the level-1 head's weight plus what level 2 sends down
    np.testing.assert_allclose(imp[1], np.abs(a2 * g2).mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(imp[0], np.abs(a1 * g1).mean(axis=0), rtol=1e-10)


def dense(layer):
    out = np.zeros(layer.shape)
    rows = np.repeat(np.arange(layer.shape[0]), np.diff(layer.indptr))
    out[rows, layer.indices] = layer.params["weight"]
    return out
