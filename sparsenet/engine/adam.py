"""Adam over one flat parameter buffer and its flat gradient buffer.

Textbook update (Kingma & Ba, Algorithm 1): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). With ``weight_decay`` w > 0 the decay is
decoupled from the gradient, as AdamW (Loshchilov & Hutter): p *= 1 - lr w before the update,
over every parameter in the buffer (biases included). On the GPU one fused kernel updates
every parameter of the network in one launch.

For a stack of networks (``training.stacked_finetune``): ``penalty`` (one coefficient per parameter) adds
the L2 gradient ``penalty * (p - anchor)`` inside the update (``anchor``: default 0; pre-trained
weights to pull toward them), and ``step(active=...)`` moves only the parameters whose mask entry
is set (members that have stopped keep parameters and moments).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from . import kernels


class Adam:
    def __init__(
        self,
        params,
        grads,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        penalty=None,
        anchor=None,
    ):
        if params.shape != grads.shape or params.ndim != 1:
            raise ValueError("Adam: params and grads must be flat buffers of the same length")
        if not lr > 0:
            raise ValueError(f"Adam: learning rate must be positive, got {lr}")
        if not weight_decay >= 0:
            raise ValueError(f"Adam: weight_decay must be >= 0, got {weight_decay}")
        xp = backend.get_array_module(params)
        self.params, self.grads = params, grads
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        if penalty is not None:
            if self.weight_decay:
                raise ValueError("Adam: give weight_decay (decoupled) or penalty (coupled L2), not both")
            penalty = xp.asarray(penalty, dtype=params.dtype)
            if penalty.shape != params.shape:
                raise ValueError(f"Adam: penalty needs one coefficient per parameter ({params.size})")
        self.penalty = penalty
        if anchor is not None:
            anchor = xp.asarray(anchor, dtype=params.dtype)
            if anchor.shape != params.shape or penalty is None:
                raise ValueError("Adam: anchor needs a penalty and one value per parameter")
        self.anchor = anchor
        self.m = xp.zeros_like(params)
        self.v = xp.zeros_like(params)
        self.t = 0

    def step(self, active=None):
        """One update; ``active`` (bool or uint8 per parameter): only those move (default: all)."""
        self.t += 1
        xp = backend.get_array_module(self.params)
        bias1 = 1.0 - self.beta1**self.t
        bias2 = 1.0 - self.beta2**self.t
        ops = kernels.for_module(xp)
        if self.penalty is None and active is None:
            ops.adam_update(
                self.params,
                self.grads,
                self.m,
                self.v,
                self.lr,
                self.beta1,
                self.beta2,
                self.eps,
                bias1,
                bias2,
                1.0 - self.lr * self.weight_decay,
            )
            return
        if self.weight_decay:
            raise ValueError("Adam: step(active=...) does not take weight_decay")
        empty = xp.zeros(0, dtype=self.params.dtype)
        ops.adam_update_members(
            self.params,
            self.grads,
            self.m,
            self.v,
            empty if self.penalty is None else self.penalty,
            empty if self.anchor is None else self.anchor,
            xp.zeros(0, dtype=xp.uint8) if active is None else active.astype(xp.uint8, copy=False),
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            bias1,
            bias2,
        )

    def state_dict(self) -> dict:
        return {"m": backend.to_numpy(self.m).copy(), "v": backend.to_numpy(self.v).copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state: dict):
        xp = backend.get_array_module(self.params)
        self.m[...] = xp.asarray(state["m"])
        self.v[...] = xp.asarray(state["v"])
        self.t = int(state["t"])
