"""Fine-tuning: genes -> proteins -> phenotypes, loss = sum |(y - yhat) / y| at the observed
phenotypes' indices in the phenotype layer, Adam, full batch.

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

from dataclasses import dataclass, replace

import numpy as np

from .. import backend
from ..engine import Adam, DenseLinear, Sequential, sum_abs_relative_error, sum_squared_error
from .network import freeze_gene_protein

TUNE = ("auto", "phenotype", "all", "readout")


@dataclass
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
    optimizer: str = "adam"  # or "lbfgs": L-BFGS on the penalised objective (stacks only: training.stack)
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


def _loss(xp, out, indices, yd, settings, scale):
    """The fine-tuning loss of ``out[:, indices]`` against ``yd`` (NaN = not observed) and its gradient."""
    if settings.loss == "relative":
        return sum_abs_relative_error(out[:, indices], yd)
    known = ~xp.isnan(yd)  # squared error relative to each target's mean, missing targets dropped
    value, g = sum_squared_error(xp.where(known, out[:, indices], 0) / scale, xp.where(known, yd, 0) / scale)
    return value, g / scale


def finetune(encoder: Sequential, x: np.ndarray, y: np.ndarray, indices, settings: FinetuneSettings,
             pretrained: bool, validation=None):
    """Tune ``encoder`` on (x, y); y is samples x len(indices), NaN = not observed.

    ``validation = (x_val, y_val, steps)``: also the per-sample loss on (x_val, y_val) after each of
    ``steps`` (sorted), and no stop by tolerance. Returns (per-sample losses, stop reason: 'tolerance'
    or 'step limit'), and with ``validation`` the validation losses as a third value.
    """
    if settings.tune not in TUNE:
        raise ValueError(f"tune must be one of {', '.join(TUNE)}, got {settings.tune!r}")
    if settings.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {settings.loss!r}")
    freeze_for_tuning(encoder, settings.tune, pretrained)
    xp = backend.xp_for(encoder.device)
    xd = xp.asarray(x, dtype=np.float32)
    yd = xp.asarray(y, dtype=np.float32)
    indices = xp.asarray(np.asarray(indices, dtype=np.int64))
    if not settings.lr:
        raise ValueError("finetune: settings.lr is not set (see default_lr)")
    opt = Adam(encoder.params, encoder.grads, lr=settings.lr)
    n = max(1, int(np.sum(~np.isnan(y))))
    penalised = tuned_parameters(encoder) if settings.l2 else []
    kept = encoder.layers[:-1] if isinstance(encoder.layers[-1], DenseLinear) else encoder.layers  # not a read-out
    pretrained_layers = {id(v) for layer in kept for v in layer.params.values()} \
        if settings.anchor == "pretrained" else set()
    anchors = [param.copy() if id(param) in pretrained_layers else None for param, _ in penalised]
    scale = xp.asarray(np.nan_to_num(np.abs(np.nanmean(np.asarray(y, float), axis=0)), nan=1.0) + 1e-12,
                       dtype=np.float32)
    if validation is not None:
        xv, yv = xp.asarray(validation[0], dtype=np.float32), xp.asarray(validation[1], dtype=np.float32)
        at, n_val, val_losses = set(validation[2]), max(1, int(np.sum(~np.isnan(validation[1])))), []
    losses, reason = [], "step limit"
    try:
        for step in range(settings.max_steps):
            out = encoder.forward(xd, check=False)  # validated when loaded
            value, g = _loss(xp, out, indices, yd, settings, scale)
            value = float(value)  # the stopping rule reads it every step (small batches: cheap)
            grad = xp.zeros(out.shape, dtype=out.dtype)
            grad[:, indices] = g
            encoder.backward(backend.feature_major(grad))
            for (param, param_grad), anchor in zip(penalised, anchors):  # the loss gradient: of the sum over n
                param_grad += (settings.l2 * n) * (param if anchor is None else param - anchor)
            opt.step()
            losses.append(value / n)
            if validation is not None:
                if step + 1 in at:
                    val_losses.append(float(_loss(xp, encoder.forward(xv, check=False), indices, yv, settings,
                                                  scale)[0]) / n_val)
            elif step >= settings.window:
                before = losses[-1 - settings.window]
                if abs(before - losses[-1]) <= settings.tol * max(abs(before), 1e-12):
                    reason = "tolerance"
                    break
    finally:
        freeze_gene_protein(encoder, False)
    if validation is not None:
        return np.asarray(losses), reason, np.asarray(val_losses)
    return np.asarray(losses), reason


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
    return [(layer.params[name], layer.grads[name]) for layer in encoder.layers if layer.trainable
            for name in layer.params if name not in layer.frozen]


def scale_fresh_weights(encoder: Sequential, factor: float, first_fresh: int = 0) -> None:
    """Multiply the initial weights of the layers fine-tuning starts afresh (``encoder.layers[first_fresh:]``:
    all without pre-training, the read-out after it) by ``factor``. A small start keeps random projections of
    standardised inputs from dominating the first predictions."""
    if factor == 1.0:
        return
    for layer in encoder.layers[first_fresh:]:
        if "weight" in layer.params:
            layer.params["weight"][...] *= factor


def step_grid(max_steps: int) -> np.ndarray:
    """The step counts early stopping chooses from: 8 log-spaced from 25 (or fewer) to ``max_steps``."""
    return np.unique(np.geomspace(min(25, max_steps), max_steps, 8).round().astype(int))


def choose_steps(encoder: Sequential, x, y, indices, settings: FinetuneSettings, pretrained: bool, folds):
    """Early stopping on inner folds of the training samples only: fine-tune from the encoder's current
    parameters on each inner training part, score the inner held-out part after each of ``step_grid``
    steps, and return (the step count of least mean held-out loss, the grid, the mean held-out losses).
    The encoder's parameters are left as they were."""
    start = encoder.params.copy()
    grid = step_grid(settings.max_steps)
    inner = replace(settings, max_steps=int(grid[-1]))
    curves = []
    try:
        for test in folds:
            train = np.setdiff1d(np.arange(len(x)), test)
            encoder.params[...] = start
            curves.append(finetune(encoder, x[train], y[train], indices, inner, pretrained,
                                   (x[test], y[test], grid))[2])
    finally:
        encoder.params[...] = start
    mean = np.mean(curves, axis=0)
    return int(grid[int(np.argmin(mean))]), grid, mean


def predict(encoder: Sequential, x: np.ndarray, indices) -> np.ndarray:
    """Predictions (samples x targets) of an encoder, or an ensemble's mean."""
    out = backend.to_numpy(encoder.forward(backend.xp_for(encoder.device).asarray(x, dtype=np.float32)))
    return np.asarray(out)[:, np.asarray(indices)].astype(np.float64)


def member_predictions(encoder, x: np.ndarray, indices) -> np.ndarray:
    """Each network's predictions (networks x samples x targets): an ensemble's members, or the one encoder."""
    return np.stack([predict(m, x, indices) for m in getattr(encoder, "members", [encoder])])
