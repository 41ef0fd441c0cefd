"""Per-gene input standardisation, fitted on a fold's training samples only.

``raw`` feeds the paper's inputs (log2 fold change / 10) as they are; ``centre`` subtracts each
gene's training mean; ``standardise`` also divides by its training standard deviation (genes that
do not vary in training keep a scale of 1). Held-out samples never enter a fitted statistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..allowed import one_of

INPUTS = ("raw", "centre", "standardise")
MIN_SD = 1e-3  # below this (log2 FC / 10 units) a gene is taken as constant


@dataclass
class InputTransform:
    how: str
    mean: np.ndarray  # per gene, over the training rows (kept for every ``how``: reconstruction metrics)
    sd: np.ndarray

    def apply(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.how == "raw":
            return x
        centred = x - self.mean.astype(np.float32)
        return centred if self.how == "centre" else centred / self.sd.astype(np.float32)

    def invert(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if self.how == "raw":
            return z
        return (z if self.how == "centre" else z * self.sd) + self.mean


def fit_input_transform(source, rows, how: str, chunk: int = 10_000, weights=None) -> InputTransform:
    """Mean and standard deviation per gene over ``source.take(rows)``, read ``chunk`` rows at a time;
    ``weights`` (one per row) weigh the rows (integer weights: as if repeated)."""
    one_of("inputs", how, INPUTS)
    rows = np.asarray(rows, dtype=np.int64)
    w_all = np.ones(rows.size) if weights is None else np.asarray(weights, dtype=np.float64)
    total = s1 = s2 = 0.0
    for a in range(0, rows.size, chunk):
        x = source.take(rows[a : a + chunk]).astype(np.float64)
        if weights is None:
            total, s1, s2 = total + x.shape[0], s1 + x.sum(axis=0), s2 + (x * x).sum(axis=0)
        else:
            w = w_all[a : a + chunk, None]
            total, s1, s2 = total + w.sum(), s1 + (w * x).sum(axis=0), s2 + (w * x * x).sum(axis=0)
    mean = s1 / total
    sd = np.sqrt(np.maximum(s2 / total - mean * mean, 0.0))
    return InputTransform(how, mean, np.where(sd < MIN_SD, 1.0, sd))


class ArraySource:
    """An in-memory samples x genes array as a source of rows (what ``take`` the loaders' sources have)."""

    def __init__(self, x):
        self.x = np.asarray(x)

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]

    def take(self, rows):
        return self.x[np.asarray(rows, dtype=np.int64)]


class TransformedSource:
    """A pre-training source seen through an input transform."""

    def __init__(self, source, transform: InputTransform):
        self.source, self.transform = source, transform

    sample_ids = property(lambda self: self.source.sample_ids)
    n_samples = property(lambda self: self.source.n_samples)

    def take(self, rows):
        return self.transform.apply(self.source.take(rows))
