"""DenseLinear: y = x W^T + b, fully connected (strategy A's layers), BLAS/cuBLAS matmuls."""

from __future__ import annotations

import numpy as np

from .. import backend
from .layer import Layer


class DenseLinear(Layer):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype=np.float32,
        seed: int | None = 0,
        device: str = "cpu",
    ):
        super().__init__()
        if int(in_features) <= 0 or int(out_features) <= 0:
            raise ValueError(f"DenseLinear: sizes must be positive, got {in_features} -> {out_features}")
        rng = np.random.default_rng(seed)
        limit = np.sqrt(6.0 / (in_features + out_features))
        self.params["weight"] = rng.uniform(-limit, limit, size=(out_features, in_features)).astype(dtype)
        if bias:
            self.params["bias"] = np.zeros(out_features, dtype=dtype)
        self._new_grads()
        if device != "cpu":
            self.to(device)

    @property
    def in_features(self) -> int:
        return self.params["weight"].shape[1]

    @property
    def out_features(self) -> int:
        return self.params["weight"].shape[0]

    def _forward(self, x):
        self._x = x
        out = x @ self.params["weight"].T
        if "bias" in self.params:
            out += self.params["bias"]
        return out

    def backward(self, grad_out, want_input_grad: bool = True):
        xp = backend.get_array_module(grad_out)
        if self.trainable:
            xp.matmul(grad_out.T, self._x, out=self.grads["weight"])
            if "bias" in self.grads:
                xp.sum(grad_out, axis=0, out=self.grads["bias"])
        return grad_out @ self.params["weight"] if want_input_grad else None
