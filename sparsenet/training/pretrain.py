"""Pre-training: the mirrored autoencoder on expression, sum of squared reconstruction error, Adam.

Genes that reach no phenotype are left out of the loss: the phenotype bottleneck cannot carry
them, so their error would only add a constant the network cannot reduce.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..data.stream import batches, n_steps
from ..engine import Adam, sum_squared_error
from ..engine.layer import cpu_feature_major


@dataclass
class PretrainSettings:
    samples: int = 1_000_000
    batch: int = 5000
    lr: float = 0.1  # Adam step for the SSE of 5,000-sample batches (chosen on reconstruction, not on phenotypes)
    checkpoint_every: int = 50




def pretrain(net, source, rows, settings: PretrainSettings, linked: np.ndarray, seed: int,
             state: dict | None = None, on_step=None, on_checkpoint=None):
    """Run (or resume, from ``state``) pre-training; returns the per-sample loss of every step."""
    xp = backend.xp_for(net.device)
    opt = Adam(net.params, net.grads, lr=settings.lr)
    losses, start = [], 0
    if state is not None:
        opt.load_state_dict(state["adam"])
        losses, start = list(state["losses"]), int(state["step"])
    weight = xp.asarray(linked, dtype=net.params.dtype)  # 0: left out of the loss
    total = n_steps(settings.samples, settings.batch)
    for step, batch in batches(source, rows, settings.batch, settings.samples, seed, start_step=start):
        x = xp.asarray(cpu_feature_major(batch))
        value, grad = sum_squared_error(net.forward(x), x, weight)
        net.backward(grad)
        opt.step()
        losses.append(value / batch.shape[0])
        if on_step:
            on_step(step + 1, total, losses[-1])
        if on_checkpoint and (step + 1) % settings.checkpoint_every == 0 and step + 1 < total:
            on_checkpoint({"step": step + 1, "adam": opt.state_dict(), "losses": np.asarray(losses)})
    return np.asarray(losses)
