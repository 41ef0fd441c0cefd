"""OneToOne: y = d * x (+ b), a diagonal linear layer (gene -> protein), O(batch x n)."""

from __future__ import annotations

import numpy as np

from .. import backend
from .layer import Layer
from . import kernels


class OneToOne(Layer):
    """Each output i is ``d[i] * x[:, i]`` (+ ``b[i]``): the one-to-one gene->protein map.

    Costs O(batch x n), unlike a dense n x n layer. ``init`` is the starting value of ``d``
    (1.0: proteins start as their genes' expression).
    """

    def __init__(self, n: int, bias: bool = False, init: float = 1.0, dtype=np.float32, device: str = "cpu"):
        super().__init__()
        if int(n) <= 0:
            raise ValueError(f"OneToOne: n must be positive, got {n}")
        self.n = int(n)
        self.params["weight"] = np.full(self.n, init, dtype=dtype)
        if bias:
            self.params["bias"] = np.zeros(self.n, dtype=dtype)
        self._new_grads()
        self._empty = np.zeros(0, dtype=dtype)
        if device != "cpu":
            self.to(device)

    @property
    def in_features(self) -> int:
        return self.n

    @property
    def out_features(self) -> int:
        return self.n

    def _move_buffers(self, xp):
        self._empty = xp.zeros(0, dtype=self.dtype)

    def _forward(self, x):
        xp = backend.get_array_module(x)
        xT = x.T
        self._xT = xT
        if xp is np:
            outT = np.empty_like(xT)
            kernels.for_module(xp).diagonal_forward(
                self.params["weight"], self.params.get("bias", self._empty), xT, outT
            )
            return outT.T
        outT = self.params["weight"][:, None] * xT
        if "bias" in self.params:
            outT += self.params["bias"][:, None]
        return outT.T

    def backward(self, grad_out, want_input_grad: bool = True):
        xp = backend.get_array_module(grad_out)
        gT = backend.feature_major(grad_out).T
        d = self.params["weight"]
        want_params = self.trainable
        if xp is np:
            dxT = np.empty_like(gT) if want_input_grad else self._empty.reshape(0, 0)
            dd = self.grads["weight"]
            db = self.grads.get("bias", np.empty(self.n, dtype=self.dtype))
            kernels.for_module(xp).diagonal_backward(d, self._xT, gT, dxT, dd, db, want_input_grad, want_params)
            return dxT.T if want_input_grad else None
        if want_params:
            xp.sum(gT * self._xT, axis=1, out=self.grads["weight"])
            if "bias" in self.grads:
                xp.sum(gT, axis=1, out=self.grads["bias"])
        return (d[:, None] * gT).T if want_input_grad else None
