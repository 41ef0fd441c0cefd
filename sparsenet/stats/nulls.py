"""Null-wiring controls: does the wiring matter?

The real wiring and N randomised copies of it per null model (``masks.randomise``: genes, edges,
density), every one trained with the real wiring's settings on the same folds and network seeds,
each draw's held-out predictions pooled over folds as the real wiring's are. Per phenotype and
metric: the real wiring's value (mean over network seeds), the null's distribution over draws
(each draw's value is its mean over the same seeds), the real wiring's rank among them, and the
empirical p-value (1 + #draws at least as good) / (N + 1) (Davison & Hinkley 1997; "at least as
good": r and % within 20 % at least as high, RMSE at least as low). Beside them the baselines on
the same folds.
"""

from __future__ import annotations

import numpy as np

from . import metrics
from .summary import METRICS, summarise

HIGHER_IS_BETTER = {
    "pearson_r": True,
    "within_20_percent": True,
    "rmse": False,
    "within_group_r": True,
    "within_group_spearman": True,
    "roc_auc": True,
    "balanced_accuracy": True,
    "log_loss": False,
    "brier": False,
}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SIGNIFICANT = 0.05


def draw_metrics(ds, records) -> dict:
    """{column: {metric: values per draw}} of one null model at one network seed: each draw's held-out
    predictions pooled over the folds (``FoldRecord.predicted_draws``)."""
    n_draws = np.asarray(records[0].predicted_draws).shape[0]
    n, k = ds.y.shape
    pred = np.full((n_draws, n, k), np.nan)
    for rec in records:
        pred[:, np.asarray(rec.test, dtype=np.int64)] = np.asarray(rec.predicted_draws)
    out = {}
    for j, col in enumerate(ds.target_columns):
        per = [metrics.prediction_metrics(ds.y[:, j], pred[d, :, j], ds.groups) for d in range(n_draws)]
        out[col] = {m: np.array([p[m] for p in per]) for m in METRICS}
    return out


def compare(real: float, null: np.ndarray, metric: str) -> dict:
    """The real wiring's value against its null distribution."""
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    if not null.size:  # a metric the data cannot give (a within-group r without groups)
        return {
            "real": real,
            "null_mean": float("nan"),
            "null_sd": float("nan"),
            "null_quantiles": {},
            "rank": None,
            "draws": 0,
            "draws_at_least_as_good": 0,
            "p": float("nan"),
        }
    better = HIGHER_IS_BETTER[metric]
    at_least = int(np.sum(null >= real) if better else np.sum(null <= real))
    return {
        "real": real,
        "null_mean": float(np.mean(null)),
        "null_sd": float(np.std(null, ddof=1)) if null.size > 1 else 0.0,
        "null_quantiles": {f"{q:g}": float(np.quantile(null, q)) for q in QUANTILES},
        "rank": 1 + at_least if np.isfinite(real) else None,  # 1: better than every draw
        "draws": int(null.size),
        "draws_at_least_as_good": at_least,
        "p": (1 + at_least) / (null.size + 1),
    }


def control_summary(ds, results: dict, strategy: str, scheme: str, kinds, seeds: list) -> dict:
    """report.json's ``control``: per null model, phenotype and metric, the real wiring against its null."""
    real = [summarise(ds, results[(scheme, strategy, r)]) for r in range(len(seeds))]
    out = {"scheme": scheme, "strategy": strategy, "network_seeds": seeds, "null_models": {}}
    for kind in kinds:
        per_seed = [draw_metrics(ds, results[(scheme, f"null:{kind}", r)]) for r in range(len(seeds))]
        first = results[(scheme, f"null:{kind}", 0)][0]
        entry = {"draws": int(np.asarray(first.predicted_draws).shape[0]), "phenotypes": {}}
        for col in ds.target_columns:
            entry["phenotypes"][col] = {}
            for m in METRICS:
                real_value = float(np.mean([s["phenotypes"][col][m] for s in real]))
                null = np.mean([p[col][m] for p in per_seed], axis=0)  # each draw over the same seeds
                entry["phenotypes"][col][m] = {**compare(real_value, null, m), "null_values": null.tolist()}
        if first.l2_chosen_draws is not None:
            entry["l2_chosen_per_fold_and_draw"] = [
                np.asarray(r.l2_chosen_draws).tolist() for r in results[(scheme, f"null:{kind}", 0)]
            ]
        out["null_models"][kind] = entry
    return out


def verdict(entry: dict, col: str) -> str:
    """One sentence on one null model: whether the real wiring beats it in r at p < 0.05."""
    r = entry["phenotypes"][col]["pearson_r"]
    w = entry["phenotypes"][col]["within_20_percent"]
    if r["p"] < SIGNIFICANT:
        return (
            f"the real wiring beats its null in r (p = {r['p']:.3f}, rank {r['rank']} of {r['draws'] + 1}); "
            f"% within 20 %: p = {w['p']:.3f}"
        )
    return (
        f"not shown to matter: {r['draws_at_least_as_good']} of {r['draws']} random wirings scored at least the "
        f"real wiring's r (p = {r['p']:.3f}); % within 20 %: p = {w['p']:.3f}"
    )
