"""The paper's robustness experiment (Fig. 1F): p % multiplicative Gaussian noise on p % of the
samples, in the pre-training pool or the fine-tuning pairs; seeded per sample, so a sample is
equally noisy whichever fold reads it."""

from __future__ import annotations

import numpy as np


class NoisyInput:
    """A pre-training source with p % noise on a fixed p % of its rows: v * (1 + p/100 * N(0,1))."""

    def __init__(self, source, percent: float, seed: int):
        self.source, self.p = source, percent / 100.0
        rng = np.random.default_rng([seed, 7])
        n = source.n_samples
        self.noisy = np.zeros(n, dtype=bool)
        self.noisy[rng.choice(n, int(round(self.p * n)), replace=False)] = True
        self.seed = seed

    sample_ids = property(lambda self: self.source.sample_ids)
    n_samples = property(lambda self: self.source.n_samples)

    def take(self, rows):
        x = self.source.take(rows)
        for i, r in enumerate(np.asarray(rows)):
            if self.noisy[r]:
                eps = np.random.default_rng([self.seed, 8, int(r)]).standard_normal(x.shape[1])
                x[i] *= (1 + self.p * eps).astype(x.dtype)
        return x


def noisy_pairs(x, y, percent, seed):
    """p % noise on p % of the fine-tuning pairs (expression and phenotypes alike)."""
    p = percent / 100.0
    rng = np.random.default_rng([seed, 9])
    chosen = rng.choice(x.shape[0], int(round(p * x.shape[0])), replace=False)
    x, y = x.copy(), y.copy()
    x[chosen] *= (1 + p * rng.standard_normal((chosen.size, x.shape[1]))).astype(x.dtype)
    y[chosen] *= 1 + p * rng.standard_normal((chosen.size, y.shape[1]))
    return x, y
