"""Elementwise activation layers: softplus, ReLU, tanh, sigmoid (the same kernels MaskedLinear fuses).

Each keeps its slope (the derivative at its input) for backward, which is ``grad * slope``.
Numerically safe: softplus as ``max(x, 0) + log1p(e^-|x|)``, the sigmoid from ``e^-|x|`` (neither
overflows for any x).
"""

from __future__ import annotations

from .. import backend
from .layer import Layer, check_input, rows_view
from . import kernels

CODES = {None: 0, "softplus": 1, "relu": 2, "tanh": 3, "sigmoid": 4}  # as in cpu_kernels / activation.cuh


def activation_code(name) -> int:
    if name not in CODES:
        raise ValueError(f"activation must be one of None, {', '.join(repr(k) for k in CODES if k)}, got {name!r}")
    return CODES[name]


class Activation(Layer):
    """Elementwise, any number of features; keeps the layout of its input."""

    kind = None  # "softplus", "relu", "tanh" or "sigmoid"

    def __init__(self):
        super().__init__()
        self._act = activation_code(self.kind)

    in_features = None  # any
    out_features = None

    def forward(self, x):
        return self._forward(check_input(x, None, type(self).__name__, None))

    def _forward(self, x):
        xp = backend.get_array_module(x)
        z, transposed = rows_view(x)
        y = xp.empty_like(z)
        slope = xp.empty_like(z)
        kernels.for_module(xp).activation_forward(self._act, z, y, slope)
        self._slope = slope.T if transposed else slope
        return y.T if transposed else y

    def backward(self, grad_out, want_input_grad: bool = True):
        xp = backend.get_array_module(grad_out)
        s, transposed = rows_view(self._slope)
        g = backend.feature_major(grad_out).T if transposed else xp.ascontiguousarray(grad_out)
        out = xp.empty_like(g)
        kernels.for_module(xp).multiply(g, s, out)
        return out.T if transposed else out


class Softplus(Activation):
    """log(1 + e^x); slope: the logistic function."""

    kind = "softplus"


class ReLU(Activation):
    """max(x, 0); slope 1 where x > 0, else 0."""

    kind = "relu"


class Tanh(Activation):
    """tanh(x); slope 1 - tanh(x)^2."""

    kind = "tanh"


class Sigmoid(Activation):
    """1 / (1 + e^-x); slope s (1 - s)."""

    kind = "sigmoid"
