"""Softplus: y = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|); backward = logistic."""
from __future__ import annotations

from .. import backend
from .layer import Layer, check_input, rows_view
from . import kernels


class Softplus(Layer):
    """Elementwise, any number of features; keeps the layout of its input."""

    def __init__(self):
        super().__init__()

    in_features = None  # any
    out_features = None

    def forward(self, x):
        return self._forward(check_input(x, None, "Softplus", None))

    def _forward(self, x):
        xp = backend.get_array_module(x)
        z, transposed = rows_view(x)
        y = xp.empty_like(z)
        slope = xp.empty_like(z)
        kernels.for_module(xp).softplus_forward(z, y, slope)
        self._slope = slope.T if transposed else slope
        return y.T if transposed else y

    def backward(self, grad_out, want_input_grad: bool = True):
        xp = backend.get_array_module(grad_out)
        s, transposed = rows_view(self._slope)
        g = (backend.feature_major(grad_out).T if transposed else xp.ascontiguousarray(grad_out))
        out = xp.empty_like(g)
        kernels.for_module(xp).multiply(g, s, out)
        return out.T if transposed else out
