"""A run's statistics, apart from writing them: each model's held-out predictions pooled over folds and
scored (``summarise``), mean and sd over network seeds (``aggregate``), paired differences on the same folds
(``paired``) and the comparisons a report makes (``comparisons``)."""

from __future__ import annotations

import numpy as np

from ..config.model_keys import kind_of, split_key
from . import metrics


def pooled(ds, records):
    """Observed and predicted of every labelled sample (each held out once), with its fold. ``records``: one
    model's fold records (``runs.fold_state.FoldRecord``: ``test``, ``predicted``, ``training``, …)."""
    n, k = ds.y.shape
    pred, fold = np.full((n, k), np.nan), np.zeros(n, dtype=np.int64)
    for f, rec in enumerate(records):
        test = np.asarray(rec.test, dtype=np.int64)
        pred[test] = rec.predicted
        fold[test] = f
    return ds.y, pred, fold


def summarise(ds, records) -> dict:
    y, pred, _ = pooled(ds, records)
    out = {"phenotypes": {}, "folds": len(records)}
    for j, col in enumerate(ds.target_columns):
        m = metrics.prediction_metrics(y[:, j], pred[:, j], ds.groups)
        per_fold = [metrics.pearson(ds.y[np.asarray(r.test, int), j], np.asarray(r.predicted)[:, j]) for r in records]
        m["reaction"] = ds.targets[j]
        m["pearson_r_per_fold"] = per_fold
        p = pred[:, j][np.isfinite(pred[:, j])]
        scale = float(np.nanmedian(np.abs(y[:, j]))) if np.isfinite(y[:, j]).any() else 1.0
        stuck = float(np.mean(np.abs(p) < 1e-3 * scale)) if p.size else 0.0
        if stuck >= 0.9:
            out.setdefault("warnings", []).append(
                f"{col}: {100 * stuck:.0f} % of predictions are ~0: fine-tuning collapsed (softplus output stuck "
                "at 0); try a smaller --finetune-lr"
            )
        out["phenotypes"][col] = m
    training = [r.training for r in records]
    stops = [str(t.stop) for t in training]
    out["finetune_stopped_by"] = {s: stops.count(s) for s in sorted(set(stops))}
    out["finetune_steps"] = [int(np.size(t.finetune_losses)) for t in training]
    if any(t.l2_chosen is not None for t in training):  # --l2 auto: the penalty each fold's inner CV chose
        out["l2_chosen_per_fold"] = [float(t.l2_chosen) for t in training]
        out["l2_path"] = [float(v) for v in training[0].l2_path]
        out["l2_inner_loss_per_fold"] = [[float(v) for v in t.l2_inner_loss] for t in training]
    if any(r.wiring_nodes is not None for r in records):  # --wiring ica: each fold's own wiring, its size
        out["own_wiring_per_fold"] = {
            "phenotype_nodes": [int(r.wiring_nodes) for r in records],
            "links": [int(r.wiring_links) for r in records],
        }
    out["pretrain_seconds"] = float(sum(t.pretrain_seconds for t in training))
    out["finetune_seconds"] = float(sum(t.finetune_seconds for t in training))
    rs = [r.reconstruction for r in records if r.reconstruction is not None]
    if rs:
        out["reconstruction_held_out"] = {
            **{
                f"{k}_mean": float(np.nanmean([r[k] for r in rs]))
                for k in ("pearson_r", "r2", "pca_pearson_r", "pca_r2")
            },
            "r2_per_fold": [float(r["r2"]) for r in rs],
            "pca_r2_per_fold": [float(r["pca_r2"]) for r in rs],
            "genes": "genes linked to at least one phenotype",
            "reference": "R² and r of deviations from the per-gene training mean; pca_*: PCA of the same width "
            "(one component per phenotype node) fitted on the same training pool",
        }
        out["pretrain_final_loss_mean"] = float(np.mean([t.pretrain_losses[-1] for t in training]))
    return out


# pooled r (what a claim here rests on), % within 20 %, RMSE; and how well each group's samples are ranked
METRICS = ("pearson_r", "within_20_percent", "rmse", "within_group_r", "within_group_spearman")


def aggregate(per_seed: list) -> dict:
    """Mean and sd over seeds of each phenotype's metrics (``per_seed``: summarise() of each seed)."""
    out = {}
    for col in per_seed[0]["phenotypes"]:
        vals = {
            m: [s["phenotypes"][col][m] for s in per_seed]
            for m in METRICS
            if all(m in s["phenotypes"][col] for s in per_seed)
        }  # summaries from before a metric existed
        out[col] = {
            m: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "per_seed": v}
            for m, v in vals.items()
        }
    return out


def paired(a: list, b: list) -> dict:
    """Paired differences a - b over seeds (same folds): each metric's mean, sd, and in how many seeds a was
    better. A gain is claimed only when a is better in every seed and the mean gain exceeds the sd of both."""
    out = {}
    for m in [m for m in METRICS if m in a and m in b]:
        d = np.asarray(a[m]["per_seed"], dtype=float) - np.asarray(b[m]["per_seed"], dtype=float)
        if not np.isfinite(d).all():  # a metric the data cannot give (no groups to rank within)
            continue
        better = -d if m == "rmse" else d
        spread = max(a[m]["sd"], b[m]["sd"], float(np.std(d, ddof=1)) if d.size > 1 else 0.0)
        out[m] = {
            "difference_mean": float(d.mean()),
            "difference_sd": float(np.std(d, ddof=1)) if d.size > 1 else 0.0,
            "better_in": f"{int((better > 0).sum())}/{d.size}",
            "verdict": "one seed: no verdict"
            if d.size < 2
            else "better"
            if (better > 0).all() and better.mean() > spread
            else "worse"
            if (better < 0).all() and -better.mean() > spread
            else "within noise",
        }
    return out


def comparisons(ds, aggregated: dict) -> list:
    """Per scheme and phenotype: C against B, and each network strategy against the best baseline by mean r."""
    rows = []
    for scheme in dict.fromkeys(split_key(k)[0] for k in aggregated):
        models = {split_key(k)[1]: v for k, v in aggregated.items() if split_key(k)[0] == scheme}
        nets = [m for m in models if kind_of(m) != "baseline"]
        bases = [m for m in models if kind_of(m) == "baseline" and m != "baseline:mean"]
        for col in ds.target_columns:
            pairs = [("C", "B")] if {"B", "C"} <= set(nets) else []
            if bases:
                best = max(bases, key=lambda m: models[m][col]["pearson_r"]["mean"])
                pairs += [(n, best) for n in nets]
            for a, b in pairs:
                rows.append(
                    {
                        "scheme": scheme,
                        "phenotype": col,
                        "model": a,
                        "against": b,
                        **paired(models[a][col], models[b][col]),
                    }
                )
    return rows
