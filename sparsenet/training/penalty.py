"""The L2 penalty chosen per fit by inner cross-validation of the training samples (``--l2 auto``).

Along a path from strong to weak (as glmnet and scikit-learn's ``*CV`` estimators do), every inner
fold's network is fine-tuned at each penalty, starting from its solution at the previous, stronger
one (warm starts); the inner folds of one penalty are members of one stack. Each penalty is scored
by the fine-tuning loss on the inner held-out samples, averaged over inner folds, and the penalty
of least held-out loss is chosen. Only the fit's training samples take part: the outer held-out
samples never do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .finetune import held_out_loss, predict
from .stacked_finetune import finetune_stack

L2_PATH = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)  # strong -> weak; the default's fixed 0.03 among them


@dataclass
class Choice:
    """One wiring's penalty from inner cross-validation."""

    l2: float  # the chosen penalty
    path: list  # the penalties tried, strong -> weak
    inner_loss: list  # mean inner held-out loss at each
    steps: list  # fine-tuning steps at each, summed over inner folds


def choose_l2(factories, x, y, folds, settings, pretrained: bool, path=L2_PATH, sample_weight=None) -> list:
    """Each wiring's penalty of least mean inner held-out loss along ``path``.

    ``factories``: one per wiring, each returning a fresh (encoder, output columns) ready to fine-tune (the
    same start for every inner fold); ``folds``: the inner held-out rows of (x, y). Every wiring's inner
    folds are members of one stack at each penalty. Returns one :class:`Choice` per wiring."""
    n, n_folds = len(x), len(folds)
    members = [make() for make in factories for _ in folds]  # wiring-major
    encoders, columns = [e for e, _ in members], [c for _, c in members]
    train = np.ones((len(members), n), dtype=bool)
    for i in range(len(members)):
        train[i, np.asarray(folds[i % n_folds])] = False
    curves, steps = np.zeros((len(factories), len(path))), np.zeros((len(factories), len(path)), dtype=np.int64)
    for j, l2 in enumerate(path):
        results = finetune_stack(
            encoders,
            columns,
            x,
            y,
            replace(settings, l2=float(l2)),
            pretrained,
            train=train,
            sample_weight=sample_weight,
        )
        for i, (e, c) in enumerate(zip(encoders, columns, strict=True)):
            test, keep = folds[i % n_folds], train[i]
            scale = np.abs(np.nanmean(y[keep], axis=0)) + 1e-12
            curves[i // n_folds, j] += held_out_loss(predict(e, x[test], c), y[test], scale, settings.loss) / n_folds
            steps[i // n_folds, j] += len(results[i][0])
    return [
        Choice(float(path[int(np.nanargmin(curve))]), list(path), curve.tolist(), s.tolist())
        for curve, s in zip(curves, steps, strict=True)
    ]
