"""Dropout: during training each input is kept with probability 1 - p and scaled by 1 / (1 - p)
("inverted" dropout, so nothing changes at prediction); at prediction (``training = False``) it is the
identity. Its backward multiplies the gradient by the same kept-and-scaled mask.

Which entries drop comes from a counter-based hash of (seed, step, sample, feature) — no random state
on either device — in one kernel that also applies the mask: ``cpu_kernels.dropout_forward`` (Numba)
and ``cuda/dropout.cu`` compute the same bits, so the CPU and the GPU drop exactly the same entries.
A layer's step counter advances at each training forward: two steps draw different masks, the same
seed and step the same one.
"""

from __future__ import annotations

from .. import backend
from .layer import Layer, check_input, rows_view
from . import kernels

_GOLDEN = 0x9E3779B9


def _mix32(x: int) -> int:
    """lowbias32 on a Python int (the kernels' hash), for the per-step key."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


class Dropout(Layer):
    """``Dropout(p, seed=0)``: elementwise, any width. ``training`` (default True) switches it on; a
    network sets it off for prediction (``training.pathway_network.set_training``)."""

    in_features = None
    out_features = None

    def __init__(self, p: float = 0.5, seed: int = 0):
        super().__init__()
        if not 0 <= float(p) < 1:
            raise ValueError(f"Dropout: p is the share of inputs dropped, in [0, 1), got {p}")
        self.p = float(p)
        self.seed = int(seed)
        self.step = 0
        self.training = True
        self._keep = None

    def forward(self, x):
        return self._forward(check_input(x, None, "Dropout", None))

    def key(self, step: int) -> int:
        return _mix32(_mix32(self.seed) ^ _mix32((step * _GOLDEN + 1) & 0xFFFFFFFF))

    def _forward(self, x):
        if not self.training or self.p == 0:
            self._keep = None
            return x
        xp = backend.get_array_module(x)
        z, transposed = rows_view(x)  # feature-major as the engine stores it: (features, batch) rows
        zT = z if transposed else xp.ascontiguousarray(z.T)
        out, keep = xp.empty_like(zT), xp.empty_like(zT)
        threshold = min(int(round(self.p * 2.0**32)), 0xFFFFFFFF)
        kernels.for_module(xp).dropout_forward(zT, out, keep, self.key(self.step), threshold, 1.0 / (1.0 - self.p))
        self.step += 1
        self._keep = keep.T
        return out.T

    def backward(self, grad_out, want_input_grad: bool = True):
        if not want_input_grad:
            return None
        return grad_out if self._keep is None else grad_out * self._keep
