"""The network of a biologically informed classifier (P-NET, BINN): N masked layers over a pathway
hierarchy, each followed by dropout, and a dense read-out from the top level to the classes.

``[MaskedLinear(level 1 x features, tanh), Dropout(p), ..., MaskedLinear(level N x level N-1, tanh),
Dropout(p), DenseLinear(level N -> 1 logit, or k logits)]``: BINN's network without its batch
normalisation (inputs are standardised on the training samples instead). Two classes train one logit
through the binary cross-entropy, k classes k logits through the softmax cross-entropy; Adam on
mini-batches, AdamW's decoupled weight decay as the L2 penalty. Everything runs on the engine's
layers, so the same network trains on a GPU (``device="gpu"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..engine.summed_heads import SummedHeads
from ..engine.threads import threads_for
from ..engine import (
    Adam,
    DenseLinear,
    Dropout,
    MaskedLinear,
    Sequential,
    binary_cross_entropy_with_logits,
    softmax_cross_entropy,
)


@dataclass(frozen=True)
class PathwayTraining:
    """How one pathway network is trained: every value used, fixed before the fit."""

    activation: str = "tanh"
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-2
    weight_decay: float = 1e-3
    device: str = "cpu"
    dtype: str = "float32"
    heads: bool = False  # a read-out after every level, their logits summed (P-NET's and BINN's ensemble of heads)


def build_network(masks, n_classes: int, training: PathwayTraining, seed: int):
    """The untrained network over ``masks`` (level 1 x features first), seeded: a ``Sequential`` with one
    read-out on top, or with ``training.heads`` a ``SummedHeads`` with a read-out after every level."""
    blocks = []
    for k, m in enumerate(masks):
        block = [MaskedLinear(m, activation=training.activation, seed=seed * 1009 + k)]
        if training.dropout > 0:
            block.append(Dropout(training.dropout, seed=seed * 1009 + k))
        blocks.append(block)
    outputs = 1 if n_classes == 2 else n_classes
    if training.heads:
        heads = [DenseLinear(m.shape[0], outputs, seed=seed * 1009 + len(masks) + k) for k, m in enumerate(masks)]
        net = SummedHeads(blocks, heads, dtype=np.dtype(training.dtype))
        return net.to(training.device) if training.device != "cpu" else net
    layers = [layer for block in blocks for layer in block]
    layers.append(DenseLinear(masks[-1].shape[0], outputs, seed=seed * 1009 + len(masks)))
    net = Sequential(layers, dtype=np.dtype(training.dtype))
    return net.to(training.device) if training.device != "cpu" else net


def set_training(net: Sequential, on: bool) -> None:
    """Dropout on (training) or off (prediction)."""
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.training = on


def class_loss(logits, y, n_classes: int):
    """(value, gradient) of the cross-entropy of the network's logits against class indices ``y``."""
    if n_classes == 2:
        xp = backend.get_array_module(logits)
        return binary_cross_entropy_with_logits(logits, xp.asarray(y, dtype=logits.dtype).reshape(-1, 1))
    return softmax_cross_entropy(logits, y)


def fit_network(
    masks,
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    training: PathwayTraining,
    seed: int = 0,
    order_seed: int | None = None,
) -> Sequential:
    """Train one network on standardised inputs ``X`` (samples x features) and class indices ``y``:
    ``epochs`` passes over the samples in a random order (seeded by ``order_seed``, default ``seed``),
    ``batch_size`` at a time."""
    net = build_network(masks, n_classes, training, seed)
    _train(
        net,
        X,
        y,
        training,
        seed if order_seed is None else order_seed,
        lambda logits, target: class_loss(logits, target, n_classes),
    )
    return net


def _train(net, X, y, training, order_seed, loss):
    """Adam over ``net`` for ``training.epochs`` passes in batches; ``loss(logits, y_rows)`` -> (value, grad)."""
    xp = backend.xp_for(training.device)
    X = xp.asarray(np.asarray(X, dtype=training.dtype))
    y = xp.asarray(np.asarray(y, dtype=np.int64))
    opt = Adam(net.params, net.grads, lr=training.learning_rate, weight_decay=training.weight_decay)
    rng = np.random.default_rng([order_seed, 7])
    n = X.shape[0]
    set_training(net, True)
    with threads_for(net.params.size * min(n, training.batch_size), training.device):
        for _ in range(training.epochs):
            order = rng.permutation(n)
            for start in range(0, n, training.batch_size):
                rows = order[start : start + training.batch_size]
                if xp is not np:
                    rows = xp.asarray(rows)
                _, grad = loss(net.forward(X[rows], check=False), y[rows])
                net.backward(grad)
                opt.step()
    set_training(net, False)


def fit_stacked(
    members, X: np.ndarray, y: np.ndarray, n_classes: int, training: PathwayTraining, seeds, order_seed: int = 0
) -> list:
    """K networks on the same samples trained as one (``engine.stack``'s idea for N levels): level 1 of every
    member stacked on the shared input, the deeper levels and the read-outs block-diagonal, one Adam over one
    buffer. ``members``: each network's level masks (the same shapes; null draws of one wiring), ``seeds``
    their initial weights' seeds. Each member's gradient is its own loss's (the stacked loss is their sum), so
    it trains as ``fit_network(..., seed, order_seed)`` does, the one difference being which entries dropout
    drops. Returns K plain networks (``build_network``'s) holding the trained weights."""
    import scipy.sparse as sp

    from ..engine.stack import block_diagonal

    from dataclasses import replace

    if training.heads:
        raise ValueError("fit_stacked: networks with a head per level are fitted one by one (stack 1)")
    k = len(members)
    on_cpu = replace(training, device="cpu")  # the members' own networks, filled in after training
    singles = [build_network(levels, n_classes, on_cpu, seed) for levels, seed in zip(members, seeds, strict=True)]
    outputs = singles[0].layers[-1].out_features
    n_levels = len(members[0])
    stacked_levels = [sp.vstack([m[0] for m in members], format="csr")] + [
        sp.block_diag([m[level] for m in members], format="csr") for level in range(1, n_levels)
    ]
    readout, _, _ = block_diagonal([(outputs, members[0][-1].shape[0])] * k)
    layers = []
    for level, mask in enumerate(stacked_levels):
        layer = MaskedLinear(mask, activation=training.activation)
        parts = [[x for x in single.layers if isinstance(x, MaskedLinear)][level] for single in singles]
        _set_stacked(layer, parts)
        layers.append(layer)
        if training.dropout > 0:
            layers.append(Dropout(training.dropout, seed=int(seeds[0]) * 1009 + level))
    head = MaskedLinear(readout)
    _set_stacked(head, [s.layers[-1] for s in singles])  # each read-out's rows: its block's CSR order
    layers.append(head)
    net = Sequential(layers, dtype=np.dtype(training.dtype))
    if training.device != "cpu":
        net = net.to(training.device)

    def loss(logits, target):
        xp = backend.get_array_module(logits)
        if n_classes == 2:
            value, grad = binary_cross_entropy_with_logits(
                logits, xp.repeat(xp.asarray(target, dtype=logits.dtype).reshape(-1, 1), k, axis=1)
            )
            return value, grad * k  # each member's own mean over its samples, as alone
        grads = [softmax_cross_entropy(logits[:, j * outputs : (j + 1) * outputs], target)[1] for j in range(k)]
        return None, xp.concatenate(grads, axis=1)

    _train(net, X, y, training, order_seed, loss)
    stacked = [layer for layer in net.layers if isinstance(layer, MaskedLinear)]
    parts = [[x for x in single.layers if isinstance(x, (MaskedLinear, DenseLinear))] for single in singles]
    for level, layer in enumerate(stacked):
        w, b = backend.to_numpy(layer.params["weight"]), backend.to_numpy(layer.params["bias"])
        w_at = np.cumsum([0] + [p[level].params["weight"].size for p in parts])
        b_at = np.cumsum([0] + [p[level].params["bias"].size for p in parts])
        for j, p in enumerate(parts):
            p[level].params["weight"][...] = w[w_at[j] : w_at[j + 1]].reshape(p[level].params["weight"].shape)
            p[level].params["bias"][...] = b[b_at[j] : b_at[j + 1]]
    return singles


def _set_stacked(layer, parts):
    """The stacked layer's weights and biases from its members' (their nonzeros in member order are the
    stacked CSR order: row-stacked, or block-diagonal with offset columns; a dense read-out's row-major)."""
    layer.params["weight"][...] = np.concatenate([backend.to_numpy(p.params["weight"]).ravel() for p in parts])
    layer.params["bias"][...] = np.concatenate([backend.to_numpy(p.params["bias"]) for p in parts])


def class_probabilities(net: Sequential, X: np.ndarray, n_classes: int) -> np.ndarray:
    """(samples x classes) probabilities, dropout off."""
    set_training(net, False)
    z = backend.to_numpy(net.forward(np.asarray(X, dtype=net.params.dtype))).astype(np.float64)
    if n_classes == 2:
        p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.column_stack([1 - p1, p1])
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def node_importance(net: Sequential, X: np.ndarray) -> list:
    """Each level's node importance for ``X``: the mean over samples (and class logits) of
    |activation x d logit / d activation|, dropout off — gradient x input at the nodes, the first-order
    term of DeepLIFT and SHAP's DeepExplainer that P-NET and BINN use (they add a reference input; with
    inputs standardised on the training samples that reference is 0 here)."""
    set_training(net, False)
    out, acts = _levels_forward(net, np.asarray(X, dtype=net.params.dtype))
    xp = backend.get_array_module(out)
    totals = [np.zeros(a.shape[1]) for a in acts]
    for c in range(out.shape[1]):
        g = xp.zeros(out.shape, dtype=out.dtype)
        g[:, c] = 1
        for level, grad in enumerate(_levels_backward(net, g)):
            totals[level] += np.abs(acts[level] * backend.to_numpy(grad)).mean(axis=0)
    return [t / out.shape[1] for t in totals]


def _levels_forward(net, x) -> tuple:
    """(the network's output, each level's activations on the host)."""
    if isinstance(net, SummedHeads):
        out = net.forward(x)
        return out, [backend.to_numpy(a).copy() for a in net.block_outputs]
    acts = []
    for k, layer in enumerate(net.layers):
        x = layer.forward(x) if k == 0 else layer._forward(x)
        if isinstance(layer, MaskedLinear):
            acts.append(backend.to_numpy(x).copy())
    return x, acts


def _levels_backward(net, g) -> list:
    """The gradient of ``g``'s output direction at each level's output, level 1 first."""
    if isinstance(net, SummedHeads):
        grads = []
        net.backward(g, block_grads=grads)
        return grads
    grads = []
    for i in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[i]
        if isinstance(layer, MaskedLinear):
            grads.append(g)
        g = layer.backward(g, want_input_grad=i > 0)
    return grads[::-1]
