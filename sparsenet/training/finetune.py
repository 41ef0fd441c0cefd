"""Fine-tuning's settings and helpers: genes -> proteins -> phenotypes, loss = sum |(y - yhat) / y| (or
squared) at the observed phenotypes' indices in the phenotype layer, Adam, full batch. The loop itself is
``training.stacked_finetune``'s (one network is a stack of one: ``stacked_finetune.finetune``).

By default (``tune='auto'``) a pre-trained gene->protein layer is kept and only the
protein->phenotype weights and biases are tuned, as the paper's appendix says; without
pre-training (strategies A and B) there is nothing to keep and every layer is tuned.
Training stops when the loss changed by less than ``tol`` (relative) over the last
``window`` steps, or at ``max_steps``; the report says which.

``l2`` adds the penalty l2 * |p|^2 / 2 over every tuned parameter (weights, biases, the
gene->protein input scale; not the frozen ones) to the mean loss per observation. Adam alone
does not regularise: with ~6,000 parameters and ~160 samples it fits the training projects
and whatever its random start was, where the penalty pulls every unneeded link to zero
(ridge regression is the one-layer case). The losses returned (and the stopping rule) are the
data loss alone, without the penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..engine import Sequential
from .network import freeze_gene_protein

TUNE = ("auto", "phenotype", "all", "readout")


@dataclass(frozen=True)
class FinetuneSettings:
    lr: float | None = None  # None: default_lr(strategy)
    max_steps: int = 3000
    tol: float = 1e-4
    window: int = 100
    tune: str = "auto"
    loss: str = "relative"  # the paper's sum |(y - yhat) / y|, or "squared": sum ((y - yhat) / mean y)^2
    early_stopping: str = "none"  # "inner": the step count chosen by inner cross-validation (choose_steps)
    inner_folds: int = 5
    l2: float = 0.0  # penalty l2 * |p|^2 / 2 on every tuned parameter, added to the mean loss per observation
    init_scale: float = 1.0  # multiplies the initial weights of the layers fine-tuning starts afresh
    anchor: str = "zero"  # the penalty pulls toward 0, or toward the "pretrained" weights (strategy C)
    optimizer: str = "adam"  # or "lbfgs": L-BFGS on the penalised objective (stacks only: training.stacked_finetune)
    lbfgs_tol: float = 1e-7  # L-BFGS stops when its objective fell less than this (relative) over ...
    lbfgs_window: int = 5  # ... this many iterations


LOSSES = ("relative", "squared")
OPTIMIZERS = ("adam", "lbfgs")
ANCHORS = ("zero", "pretrained")
EARLY_STOPPING = ("none", "inner")


def default_lr(strategy: str) -> float:
    """0.01 for the masked networks (0.001 left C far from converged after 3,000 steps); 0.001 for
    the dense network, whose 2 M weights drive its softplus to 0 (a dead network) at 0.01."""
    return 1e-3 if strategy == "A" else 1e-2


def freeze_for_tuning(encoder, tune: str, pretrained: bool) -> None:
    """Hold fixed what fine-tuning keeps: the gene -> protein layer after pre-training ('auto') or always
    ('phenotype'); the whole phenotype layer ('readout': only a read-out on top of the pre-trained nodes is
    tuned). ``freeze_gene_protein(encoder, False)`` releases it all."""
    if tune == "readout":
        if len(encoder.layers) < 2:
            raise ValueError("--tune readout needs a read-out head (--head readout)")
        for layer in encoder.layers[:-1]:
            layer.trainable = False
        return
    freeze_gene_protein(encoder, tune == "phenotype" or (tune == "auto" and pretrained))


def tuned_parameters(encoder: Sequential):
    """(parameter, gradient) array pairs of every parameter fine-tuning moves: trainable layers, not frozen."""
    return [
        (layer.params[name], layer.grads[name])
        for layer in encoder.layers
        if layer.trainable
        for name in layer.params
        if name not in layer.frozen
    ]


def scale_fresh_weights(encoder: Sequential, factor: float, first_fresh: int = 0) -> None:
    """Multiply the initial weights of the layers fine-tuning starts afresh (``encoder.layers[first_fresh:]``:
    all without pre-training, the read-out after it) by ``factor``. A small start keeps random projections of
    standardised inputs from dominating the first predictions."""
    if factor == 1.0:
        return
    for layer in encoder.layers[first_fresh:]:
        if "weight" in layer.params:
            layer.params["weight"][...] *= factor


def held_out_loss(prediction, y, scale, loss: str) -> float:
    """The fine-tuning loss per observation on held-out samples (squared: relative to ``scale``, the mean
    |y| of the samples the network trained on, as fine-tuning scales it)."""
    y = np.asarray(y, float)
    known = np.isfinite(y)
    if not known.any():
        return float("nan")
    if loss == "relative":
        return float(np.mean(np.abs((y[known] - prediction[known]) / (y[known] + 1e-6))))
    return float(np.mean((((prediction - np.nan_to_num(y)) / scale) ** 2)[known]))


def step_grid(max_steps: int) -> np.ndarray:
    """The step counts early stopping chooses from: 8 log-spaced from 25 (or fewer) to ``max_steps``."""
    return np.unique(np.geomspace(min(25, max_steps), max_steps, 8).round().astype(int))


def predict(encoder: Sequential, x: np.ndarray, indices) -> np.ndarray:
    """Predictions (samples x targets) of an encoder, or an ensemble's mean."""
    out = backend.to_numpy(encoder.forward(backend.xp_for(encoder.device).asarray(x, dtype=np.float32)))
    return np.asarray(out)[:, np.asarray(indices)].astype(np.float64)


def member_predictions(encoder, x: np.ndarray, indices) -> np.ndarray:
    """Each network's predictions (networks x samples x targets): an ensemble's members, or the one encoder."""
    return np.stack([predict(m, x, indices) for m in getattr(encoder, "members", [encoder])])
