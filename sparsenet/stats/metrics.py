"""Prediction and reconstruction metrics."""

from __future__ import annotations

import numpy as np


def pearson(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def within(observed, predicted, fraction: float = 0.2) -> float:
    """% of predictions within ``fraction`` of the observation (observations of 0 excluded)."""
    y, p = np.asarray(observed, float), np.asarray(predicted, float)
    ok = np.isfinite(y) & np.isfinite(p) & (y != 0)
    if not ok.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(p[ok] - y[ok]) <= fraction * np.abs(y[ok])))


def rmse(observed, predicted) -> float:
    y, p = np.asarray(observed, float), np.asarray(predicted, float)
    ok = np.isfinite(y) & np.isfinite(p)
    return float(np.sqrt(np.mean((p[ok] - y[ok]) ** 2))) if ok.any() else float("nan")


MIN_GROUP = 5  # samples a group needs for its within-group r to count


def within_group_r(observed, predicted, groups, min_size: int = MIN_GROUP) -> dict:
    """How well predictions rank the samples inside each group (a project: one lab's strains and conditions),
    which pooled r cannot see: the mean over groups with at least ``min_size`` observed samples of Pearson's r
    and of Spearman's (r of ranks) between observed and predicted, and how many groups counted."""
    from scipy.stats import rankdata

    y, p = np.asarray(observed, float), np.asarray(predicted, float)
    g = np.asarray(groups, dtype=object)
    pearsons, spearmans = [], []
    for group in dict.fromkeys(g.tolist()):
        ok = (g == group) & np.isfinite(y) & np.isfinite(p)
        if ok.sum() >= min_size:
            pearsons.append(pearson(y[ok], p[ok]))
            spearmans.append(pearson(rankdata(y[ok]), rankdata(p[ok])))

    def mean(values):
        values = [v for v in values if np.isfinite(v)]  # a group whose predictions are all equal has no r
        return float(np.mean(values)) if values else float("nan")

    return {"within_group_r": mean(pearsons), "within_group_spearman": mean(spearmans), "groups_ranked": len(pearsons)}


def prediction_metrics(observed, predicted, groups=None) -> dict:
    """n, pooled Pearson r, % within 20 %, RMSE and, with ``groups``, the mean within-group r and Spearman's
    (``within_group_r``; NaN without groups or without a group of ``MIN_GROUP`` samples)."""
    y = np.asarray(observed, float)
    n = int(np.isfinite(y).sum())
    ranked = (
        within_group_r(y, predicted, groups)
        if groups is not None
        else {"within_group_r": float("nan"), "within_group_spearman": float("nan"), "groups_ranked": 0}
    )
    return {
        "n": n,
        "pearson_r": pearson(y, predicted),
        "within_20_percent": within(y, predicted),
        "rmse": rmse(y, predicted),
        **ranked,
    }


def reconstruction_metrics(observed, reconstructed, training_mean) -> dict:
    """Held-out reconstruction against the per-gene training mean (what "no model" predicts):
    R^2 = 1 - SSE / sum (x - training mean)^2, and Pearson r of the deviations from that mean,
    over all entries (samples x genes)."""
    x, r = np.asarray(observed, float), np.asarray(reconstructed, float)
    mu = np.asarray(training_mean, float)
    sst = float(((x - mu) ** 2).sum())
    return {
        "pearson_r": pearson((x - mu).ravel(), (r - mu).ravel()),
        "r2": 1.0 - float(((x - r) ** 2).sum()) / sst if sst > 0 else float("nan"),
    }


def pca_reconstruction(train, observed, width: int) -> np.ndarray:
    """``observed`` projected onto the first ``width`` principal components of ``train`` (centred on its
    mean): the linear autoencoder of the same width, the reference a network's reconstruction is held to."""
    train = np.asarray(train, float)
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    v = vt[:width]
    return (np.asarray(observed, float) - mean) @ v.T @ v + mean
