"""Fine-tuning: genes -> proteins -> phenotypes, loss = sum |(y - yhat) / y| at the observed
phenotypes' indices in the phenotype layer, Adam, full batch.

By default (``tune='auto'``) a pre-trained gene->protein layer is kept and only the
protein->phenotype weights and biases are tuned, as the paper's appendix says; without
pre-training (strategies A and B) there is nothing to keep and every layer is tuned.
Training stops when the loss changed by less than ``tol`` (relative) over the last
``window`` steps, or at ``max_steps``; the report says which.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..engine import Adam, Sequential, sum_abs_relative_error, sum_squared_error
from .network import freeze_gene_protein

TUNE = ("auto", "phenotype", "all")


@dataclass
class FinetuneSettings:
    lr: float | None = None  # None: default_lr(strategy)
    max_steps: int = 3000
    tol: float = 1e-4
    window: int = 100
    tune: str = "auto"
    loss: str = "relative"  # the paper's sum |(y - yhat) / y|, or "squared": sum ((y - yhat) / mean y)^2


LOSSES = ("relative", "squared")


def default_lr(strategy: str) -> float:
    """0.01 for the masked networks (0.001 left C far from converged after 3,000 steps); 0.001 for
    the dense network, whose 2 M weights drive its softplus to 0 (a dead network) at 0.01."""
    return 1e-3 if strategy == "A" else 1e-2


def finetune(encoder: Sequential, x: np.ndarray, y: np.ndarray, indices, settings: FinetuneSettings,
             pretrained: bool):
    """Tune ``encoder`` on (x, y); y is samples x len(indices), NaN = not observed.

    Returns (per-sample losses, stop reason: 'tolerance' or 'step limit').
    """
    if settings.tune not in TUNE:
        raise ValueError(f"tune must be one of {', '.join(TUNE)}, got {settings.tune!r}")
    if settings.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {settings.loss!r}")
    keep_first = settings.tune == "phenotype" or (settings.tune == "auto" and pretrained)
    freeze_gene_protein(encoder, keep_first)
    xp = backend.xp_for(encoder.device)
    xd = xp.asarray(x, dtype=np.float32)
    yd = xp.asarray(y, dtype=np.float32)
    indices = xp.asarray(np.asarray(indices, dtype=np.int64))
    if not settings.lr:
        raise ValueError("finetune: settings.lr is not set (see default_lr)")
    opt = Adam(encoder.params, encoder.grads, lr=settings.lr)
    n = max(1, int(np.sum(~np.isnan(y))))
    scale = xp.asarray(np.nan_to_num(np.abs(np.nanmean(np.asarray(y, float), axis=0)), nan=1.0) + 1e-12,
                       dtype=np.float32)
    losses, reason = [], "step limit"
    try:
        for step in range(settings.max_steps):
            out = encoder.forward(xd, check=False)  # validated when loaded
            if settings.loss == "relative":
                value, g = sum_abs_relative_error(out[:, indices], yd)
            else:  # squared error relative to each target's mean, missing targets dropped
                known = ~xp.isnan(yd)
                pred = xp.where(known, out[:, indices], 0) / scale
                value, g = sum_squared_error(pred, xp.where(known, yd, 0) / scale)
                g = g / scale
            grad = xp.zeros(out.shape, dtype=out.dtype)
            grad[:, indices] = g
            encoder.backward(backend.feature_major(grad))
            opt.step()
            losses.append(value / n)
            if step >= settings.window:
                before = losses[-1 - settings.window]
                if abs(before - losses[-1]) <= settings.tol * max(abs(before), 1e-12):
                    reason = "tolerance"
                    break
    finally:
        freeze_gene_protein(encoder, False)
    return np.asarray(losses), reason


def predict(encoder: Sequential, x: np.ndarray, indices) -> np.ndarray:
    out = backend.to_numpy(encoder.forward(backend.xp_for(encoder.device).asarray(x, dtype=np.float32)))
    return np.asarray(out)[:, np.asarray(indices)].astype(np.float64)
