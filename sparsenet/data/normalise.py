"""The paper's input scaling: log2 fold change, clipped to [-10, 10], divided by 10.

Values are either log2 fold changes already, or log2-scale levels (e.g. PRECISE's
log2(TPM + 1)) turned into fold changes against the mean of named reference samples.
Model genes missing from the data are filled as "no change" (0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tables import Alignment, DataError, Expression

CLIP, SCALE = 10.0, 10.0


@dataclass
class Normalisation:
    reference: list = field(default_factory=list)  # sample IDs; empty: the values are log2 fold changes
    reference_profile: np.ndarray | None = None  # mean log2 level of the references, per model gene
    clip: float = CLIP
    scale: float = SCALE
    transform: str = "none"  # done to the values as read before all this ('log2p1': log2(x + 1) of linear levels)

    def settings(self) -> dict:
        return {
            "values": "log2 level vs reference" if self.reference else "log2 fold change",
            "reference": list(self.reference),
            "clip": self.clip,
            "scale": self.scale,
            "transform": self.transform,
        }


def fit_reference(expr: Expression, alignment: Alignment, reference: list) -> Normalisation:
    """Normalisation against the mean of the ``reference`` samples of ``expr`` (empty: none)."""
    if not reference:
        return Normalisation(transform=expr.transform)
    where = {s: i for i, s in enumerate(expr.sample_ids)}
    absent = [r for r in reference if r not in where]
    if absent:
        raise DataError(
            f"{expr.path}: reference sample {absent[0]!r} is not in the data "
            f"(samples look like {expr.sample_ids[0]!r}); fix --reference"
        )
    levels = expr.take([where[r] for r in reference]).mean(axis=0)
    profile = np.where(alignment.columns >= 0, levels[np.maximum(alignment.columns, 0)], 0.0)
    return Normalisation(list(reference), profile, transform=expr.transform)


class ModelInput:
    """Normalised expression in model gene order: ``take(rows)`` -> float32 (samples, model genes)."""

    def __init__(self, expr: Expression, alignment: Alignment, normalisation: Normalisation):
        self.expr, self.alignment, self.normalisation = expr, alignment, normalisation
        self.present = alignment.columns >= 0
        self.source = alignment.columns[self.present]

    @property
    def sample_ids(self):
        return self.expr.sample_ids

    @property
    def n_samples(self) -> int:
        return self.expr.n_samples

    def take(self, rows) -> np.ndarray:
        raw = self.expr.take(rows)
        if not np.isfinite(raw).all():
            bad = np.argwhere(~np.isfinite(raw))[0]
            raise DataError(
                f"{self.expr.path}: NaN or infinite value in sample "
                f"{self.expr.sample_ids[np.asarray(rows)[bad[0]]]!r}; impute or drop it first"
            )
        out = np.zeros((raw.shape[0], len(self.alignment.columns)), dtype=np.float64)
        out[:, self.present] = raw[:, self.source]
        n = self.normalisation
        if n.reference_profile is not None:
            out[:, self.present] -= n.reference_profile[self.present]
        return (np.clip(out, -n.clip, n.clip) / n.scale).astype(np.float32)

    def all(self) -> np.ndarray:
        return self.take(np.arange(self.n_samples))

    def levels(self, rows) -> np.ndarray:
        """The values as read (levels, before fold changes), float64 (samples, model genes); NaN for a gene the
        data lack. Only data with reference samples hold levels (without them the values are fold changes)."""
        if self.normalisation.reference_profile is None:
            raise DataError(
                f"{self.expr.path}: its values are log2 fold changes (no --reference), but the model as "
                "a model needs expression levels: give --reference with the control samples' IDs"
            )
        out = np.full((len(rows), len(self.alignment.columns)), np.nan)
        out[:, self.present] = self.expr.take(rows)[:, self.source]
        return out
