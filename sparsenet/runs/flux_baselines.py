"""Flux-based baselines on a fold, fitted on its training samples only: E-Flux's biomass flux calibrated to the
phenotype by a straight line (``eflux``), and ridge and a random forest on each sample's pFBA fluxes
(``flux_ridge``, ``flux_forest``). E-Flux scales each reaction on the fold's training samples; the held-out
samples are solved with that scaling and never shape it."""

from __future__ import annotations

import numpy as np

from ..config.choices import FLUX_BASELINES
from ..fluxes.eflux import EFluxSettings, FluxResult, eflux
from . import baselines

EFLUX_DEFAULTS = EFluxSettings()  # frozen: one shared default

WORDS = {
    "eflux": "E-Flux biomass flux, calibrated",
    "flux_ridge": "ridge on pFBA fluxes",
    "flux_forest": "random forest on pFBA fluxes",
}


def linear_levels(log_levels) -> np.ndarray:
    """log2(level + 1) values (PRECISE's log TPM) as linear levels, 0 or more."""
    return np.maximum(np.power(2.0, np.asarray(log_levels, dtype=np.float64)) - 1.0, 0.0)


def fold_fluxes(
    model, gene_ids, log_levels, train, settings: EFluxSettings = EFLUX_DEFAULTS, gene_order=None
) -> FluxResult:
    """E-Flux of every row of ``log_levels`` (samples x ``gene_ids``; NaN: a gene the data lack), each reaction
    scaled by its maximum over the rows ``train`` (None: every row). ``gene_order`` (a permutation of the measured
    genes) relabels the data's genes before the rules read them: the null in which the gene -> reaction mapping
    is random."""
    levels = np.asarray(log_levels, dtype=np.float64)
    measured = np.isfinite(levels).all(axis=0)
    genes = [g for g, ok in zip(gene_ids, measured, strict=True) if ok]
    if gene_order is not None:
        genes = [genes[i] for i in gene_order]
    return eflux(model, genes, linear_levels(levels[:, measured]), train, settings)


class FoldFluxes:
    """E-Flux (with pFBA) of each fold's training then held-out samples, each reaction scaled on the training
    samples only, with the masks' metabolic model (read once): made once per fold, for every flux baseline and
    network seed of a run. ``levels(rows)`` gives the log levels of rows of the data set's inputs."""

    def __init__(self, masks, levels):
        self.masks, self.levels = masks, levels
        self._model, self._by_fold = None, {}

    def of_fold(self, train_rows, test_rows) -> FluxResult:
        """The fluxes of ``train_rows`` then ``test_rows`` (rows of the inputs), scaled on ``train_rows``."""
        from ..masks.model_io import load_model

        key = tuple(int(i) for i in test_rows)
        if key not in self._by_fold:
            source = self.masks.attrs.get("model_file")
            if not source:
                raise ValueError(
                    "flux baselines need the masks' metabolic model: these masks name none (masks built "
                    "by sparsenet masks build record it)"
                )
            if self._model is None:
                self._model = load_model(source)[0]
            rows = np.concatenate([train_rows, test_rows])
            self._by_fold[key] = fold_fluxes(
                self._model, self.masks.gene_ids, self.levels(rows), np.arange(len(train_rows))
            )
        return self._by_fold[key]


def fit_predict(name: str, fluxes: FluxResult, train, test, y_train, groups_train, seed: int) -> np.ndarray:
    """Predictions (test samples x phenotype columns) of the flux baseline ``name`` from a fold's E-Flux result
    (rows ``train`` and ``test`` of it), each column fitted where it is observed."""
    train, test = np.asarray(train), np.asarray(test)
    y_train = np.asarray(y_train, dtype=np.float64)
    if name == "eflux":
        growth = fluxes.growth
        pred = np.full((test.size, y_train.shape[1]), np.nan)
        for j in range(y_train.shape[1]):
            ok = np.isfinite(y_train[:, j]) & np.isfinite(growth[train])
            if ok.sum() < 2 or np.ptp(growth[train][ok]) == 0:
                pred[:, j] = np.nanmean(y_train[:, j])  # nothing to calibrate on: the training mean
                continue
            slope, intercept = np.polyfit(growth[train][ok], y_train[ok, j], 1)
            at = np.where(np.isfinite(growth[test]), growth[test], np.nanmean(growth[train][ok]))
            pred[:, j] = intercept + slope * at
        return pred
    if name not in ("flux_ridge", "flux_forest"):
        raise ValueError(f"flux baseline must be one of {', '.join(FLUX_BASELINES)}, got {name!r}")
    x_train, x_test = flux_features(fluxes, train, test, name)
    return baselines.fit_predict(
        "ridge" if name == "flux_ridge" else "random_forest", x_train, y_train, groups_train, x_test, seed
    )


def flux_features(fluxes: FluxResult, train, test, who: str = "flux features") -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) samples' pFBA fluxes as features: a failed solve's fluxes are the training mean,
    fluxes fixed in every training sample are left out, and a held-out flux beyond the training range is clipped
    to it."""
    if fluxes.fluxes is None:
        raise ValueError(f"{who}: needs pFBA fluxes (EFluxSettings(pfba=True))")
    train, test = np.asarray(train), np.asarray(test)
    features = fluxes.fluxes
    mean = np.nanmean(features[train], axis=0)
    features = np.where(np.isfinite(features), features, np.nan_to_num(mean))  # a failed solve: the training mean
    varies = np.ptp(features[train], axis=0) > 1e-9  # fluxes fixed in every training sample say nothing
    x_train, x_test = features[train][:, varies], features[test][:, varies]
    # a held-out flux beyond the training range is clipped to it: a reaction that LP round-off left varying by
    # 1e-9 in training and that carries flux in a held-out sample would otherwise be 1e10 training sds out,
    # and ridge's prediction with it (a forest is unchanged: its thresholds lie inside the training range)
    return x_train, np.clip(x_test, x_train.min(axis=0), x_train.max(axis=0))
