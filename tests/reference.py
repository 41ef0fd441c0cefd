"""Float64 dense NumPy references for the engine's layers (what the kernels must equal)."""

import numpy as np


def dense_weight(layer):
    """The MaskedLinear weight as a dense float64 (out x in) matrix."""
    return layer.weight_matrix().toarray().astype(np.float64)


def softplus(z):
    return np.logaddexp(0.0, z)


def logistic(z):
    return np.exp(-np.logaddexp(0.0, -z))  # 1 / (1 + e^-z) without cancellation


ACTIVATIONS = {  # name -> (value, slope) in float64
    None: (lambda z: z, lambda z: np.ones_like(z)),
    "softplus": (softplus, logistic),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (logistic, lambda z: logistic(z) * logistic(-z)),
}


def nonzero_positions(layer):
    """(rows, cols) of the mask's nonzeros in the CSR order of the flat weight vector."""
    m = layer.mask()
    return np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), m.indices


def masked_forward(layer, x):
    z = x.astype(np.float64) @ dense_weight(layer).T
    if "bias" in layer.params:
        z = z + np.asarray(layer.params["bias"], dtype=np.float64)
    return z, ACTIVATIONS[layer.activation][0](z)


def masked_backward(layer, x, z, g):
    """(dx, dW at the nonzeros in CSR order, db) for upstream gradient g."""
    dz = g * ACTIVATIONS[layer.activation][1](z)
    rows, cols = nonzero_positions(layer)
    dW = (dz.T @ x.astype(np.float64))[rows, cols]
    return dz @ dense_weight(layer), dW, dz.sum(axis=0)
