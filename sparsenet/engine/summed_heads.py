"""SummedHeads: a stack of blocks with an output head after each, the heads' outputs summed — P-NET's and
BINN's "ensemble of heads", where every level of a pathway hierarchy predicts the class and the network's
logit is their sum, so a shallow level's signal reaches the output without passing the levels above it.

``forward``: ``h = x``; for each block ``h = block(h)`` and ``out += head(h)``. ``backward`` walks the blocks
from the top: the gradient at block k's output is its head's input gradient plus what block k+1 sends down.
One flat parameter buffer over every block and head (``sequential.flatten``), so one Adam updates them all.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .layer import check_input
from .sequential import flatten


class SummedHeads:
    """``blocks``: lists of layers (e.g. ``[MaskedLinear, Dropout]``), each feeding the next; ``heads``: one
    layer per block, reading that block's output, all with the same number of outputs."""

    def __init__(self, blocks, heads, dtype=None):
        self.blocks = [list(b) for b in blocks]
        self.heads = list(heads)
        if not self.blocks or len(self.blocks) != len(self.heads):
            raise ValueError(
                f"SummedHeads: one head per block, got {len(self.blocks)} blocks and {len(self.heads)} heads"
            )
        if len({h.out_features for h in self.heads}) != 1:
            raise ValueError("SummedHeads: every head must give the same number of outputs")
        if dtype is not None:
            for layer in self.layers:
                layer.set_dtype(np.dtype(dtype))
        self._flatten()

    @property
    def layers(self) -> list:
        """Every layer: the blocks' in order, then the heads."""
        return [layer for block in self.blocks for layer in block] + self.heads

    def _flatten(self):
        self.params, self.grads, self.slices = flatten(self.layers, "SummedHeads")

    @property
    def in_features(self):
        return self.blocks[0][0].in_features

    @property
    def out_features(self):
        return self.heads[0].out_features

    def forward(self, x, check: bool = True):
        """The summed heads' output; each block's output is kept as ``block_outputs`` (what the heads read)."""
        if check:
            x = check_input(x, self.in_features, "network input", self.params.dtype)
        else:
            x = backend.feature_major(x.astype(self.params.dtype, copy=False))
        out, self.block_outputs = None, []
        for block, head in zip(self.blocks, self.heads, strict=True):
            for layer in block:
                x = layer._forward(x)
            self.block_outputs.append(x)
            y = head._forward(x)
            out = y if out is None else out + y
        return out

    __call__ = forward

    def backward(self, grad_out, want_input_grad: bool = False, block_grads: list | None = None):
        """Fill every gradient; ``block_grads`` (a list) receives the gradient at each block's output."""
        g_down = None
        collected = []
        for k in range(len(self.blocks) - 1, -1, -1):
            g = self.heads[k].backward(grad_out, want_input_grad=True)
            if g_down is not None:
                g = g + g_down
            collected.append(g)
            block = self.blocks[k]
            for i in range(len(block) - 1, -1, -1):
                g = block[i].backward(g, want_input_grad=(k > 0 or i > 0 or want_input_grad))
            g_down = g
        if block_grads is not None:
            block_grads.extend(reversed(collected))
        return g_down

    def to(self, device: str):
        for layer in self.layers:
            layer.to(device)
        self._flatten()
        return self
