"""Learning curves: accuracy against the number of labelled samples, pre-training's fair test.

On the usual held-out folds (unchanged), every model is fitted on subsets of each fold's training
samples of N labels, drawn (seeded, the same subsets for every model, so that models pair draw by
draw) two ways:

- ``projects``: whole projects in a random order until N samples are reached (the last project
  cut to fill N exactly): few labelled conditions, as a lab that measured a few experiments has;
- ``random``: N samples at random from every training project.

``all`` is every training sample (one draw). The unlabelled pool pre-training learns from stays
every profile outside the held-out fold, whatever N is: what a lab with a few measured phenotypes
and a compendium of profiles has. Each (N, draw) is scored as the CV is: its held-out predictions
pooled over folds.
"""

from __future__ import annotations

import zlib

import numpy as np

from . import metrics
from .summary import METRICS


def subsets(train_groups, labels, draws: int, kinds, seed: int, fold: int):
    """The subsets of one fold's training samples: [(label count, kind, draw, boolean mask)], the same for
    every model (seeded by seed, fold, count, kind and draw; the held-out samples are not among the rows)."""
    groups = np.asarray(train_groups, dtype=object)
    n = groups.size
    out = []
    for label in labels:
        if label == "all" or label >= n:
            out.append(("all" if label == "all" else label, "all", 0, np.ones(n, dtype=bool)))
            continue
        for kind in kinds:
            for d in range(draws):
                rng = np.random.default_rng([seed, fold, label, zlib.crc32(kind.encode()), d])
                chosen = np.zeros(n, dtype=bool)
                if kind == "random":
                    chosen[rng.choice(n, label, replace=False)] = True
                else:
                    for g in rng.permutation(sorted(set(groups.tolist()), key=str)):
                        rows = np.flatnonzero(groups == g)
                        take = min(rows.size, label - int(chosen.sum()))
                        chosen[rng.permutation(rows)[:take]] = True
                        if chosen.sum() >= label:
                            break
                out.append((label, kind, d, chosen))
    return out


def _nanmean(v) -> float:
    """The mean of the finite values (NaN, without a warning, when there are none: a metric the data cannot
    give, such as a within-group r without groups)."""
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _nansd(v) -> float:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1)) if v.size > 1 else (0.0 if v.size else float("nan"))


def curve_metrics(y, records, groups=None) -> dict:
    """{(label, kind, draw): [metrics per column]} of one model at one network seed: each subset's held-out
    predictions pooled over the folds (``FoldRecord.predicted_subsets``)."""
    keys = []
    for raw in records[0].subset_keys:
        label, kind, draw = (raw.decode() if isinstance(raw, bytes) else str(raw)).split("|")
        keys.append((label if label == "all" else int(label), kind, int(draw)))
    n, k = y.shape
    pred = np.full((len(keys), n, k), np.nan)
    for rec in records:
        pred[:, np.asarray(rec.test, dtype=np.int64)] = np.asarray(rec.predicted_subsets)
    return {
        key: [metrics.prediction_metrics(y[:, j], pred[i, :, j], groups) for j in range(k)]
        for i, key in enumerate(keys)
    }


def mean_sizes(records) -> dict:
    """{(label, kind): the mean number of labelled samples a subset had, over folds and draws}."""
    out = {}
    for rec in records:
        for raw, size in zip(rec.subset_keys, rec.subset_sizes, strict=True):
            label, kind, _ = (raw.decode() if isinstance(raw, bytes) else str(raw)).split("|")
            out.setdefault((label if label == "all" else int(label), kind), []).append(int(size))
    return {k: float(np.mean(v)) for k, v in out.items()}


def curve_summary(ds, results: dict, models, scheme: str) -> dict:
    """report.json's ``curve``: per model, label count and draw kind, each metric's mean and sd over draws,
    and each model against B paired draw by draw."""
    out = {"scheme": scheme, "models": {}, "paired_against_B": {}}
    per_model = {}
    for model in models:
        m = curve_metrics(ds.y, results[(scheme, f"curve:{model}", 0)], ds.groups)
        per_model[model] = m
        table = {}
        sizes = mean_sizes(results[(scheme, f"curve:{model}", 0)])
        for (label, kind, _draw), values in m.items():
            entry = table.setdefault(
                f"{label}/{kind}",
                {
                    "label": label,
                    "kind": kind,
                    "draws": 0,
                    "samples": sizes[(label, kind)],
                    **{c: {mm: [] for mm in METRICS} for c in ds.target_columns},
                },
            )
            entry["draws"] += 1
            for j, col in enumerate(ds.target_columns):
                for mm in METRICS:
                    entry[col][mm].append(values[j][mm])
        for entry in table.values():
            for col in ds.target_columns:
                for mm in METRICS:
                    v = np.asarray(entry[col][mm], float)
                    entry[col][mm] = {"mean": _nanmean(v), "sd": _nansd(v), "per_draw": v.tolist()}
        out["models"][model] = table
    if "B" in per_model:
        for model in per_model:
            if model == "B":
                continue
            paired = {}
            for key, values in per_model[model].items():
                label, kind, _ = key
                base = per_model["B"].get(key)
                if base is None:
                    continue
                entry = paired.setdefault(f"{label}/{kind}", {"label": label, "kind": kind, "differences": {}})
                for j, col in enumerate(ds.target_columns):
                    for mm in METRICS:
                        entry["differences"].setdefault(col, {}).setdefault(mm, []).append(values[j][mm] - base[j][mm])
            for entry in paired.values():
                for per in entry["differences"].values():
                    for mm, d in per.items():
                        d = np.asarray(d, float)
                        better = -d if mm == "rmse" else d
                        per[mm] = {
                            "mean": _nanmean(d),
                            "sd": _nansd(d),
                            "better_in": f"{int(np.sum(better > 0))}/{d.size}",
                            "beyond_spread": bool(d.size > 1 and np.all(better > 0) and _nanmean(better) > _nansd(d)),
                        }
            out["paired_against_B"][model] = paired
    return out
