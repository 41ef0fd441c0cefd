"""Does the network gain from the flux features? A two-stage hybrid on PRECISE growth rate.

    python benchmarks/hybrid_readout.py [--cv grouped|lopo] [--seed 1] [--network-seeds 1,2,3] [--json FILE]

On each outer fold (the folds ``sparsenet train`` uses with the same --cv/--seed): the default network
(``SparseNetRegressor``, what ``train`` fits, every unlabelled profile for the input standardisation) is fitted on
the training samples; the same network is fitted on each of 5 inner grouped folds of them, and its inner
held-out residuals are what a ridge on the fold's pFBA fluxes (E-Flux scaled on the fold's training samples,
``flux_features``: clipped to the training range) learns to correct. Hybrid = the network's prediction + that
correction. Everything is fitted inside the fold. E-Flux is solved once per fold and shared by the network seeds;
the network and the hybrid are compared paired, seed by seed, on the same folds (r, % within 20 %, RMSE).
This is the two-stage form of "a read-out that also sees the flux features" (the network's read-out is linear,
so a joint read-out adds the same linear term; here it is fitted on held-out residuals, not jointly).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cv", default="grouped", choices=("grouped", "lopo"))
    ap.add_argument("--seed", type=int, default=1, help="the partition's seed (grouped 10-fold)")
    ap.add_argument("--network-seeds", default="1,2,3")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from sklearn.model_selection import GroupKFold

    from sparsenet import SparseNetRegressor, studies
    from sparsenet.runs import baselines
    from sparsenet.stats import metrics
    from sparsenet.config.run_config import build_config
    from sparsenet.runs.flux_baselines import flux_features, fold_fluxes
    from sparsenet.studies.flux_control import _problem

    cfg = build_config(
        "default", device="cpu", cv=args.cv, folds=10, seed=args.seed, baselines="none", final_model=False
    )
    data = studies.load_data(studies.DataOptions(), cfg)
    ds = data.dataset
    problem = _problem(data, args.cv, 10, args.seed, ("flux_ridge",))
    X = ds.inputs.take(ds.labelled)
    unlabelled = ds.inputs.take(np.setdiff1d(np.arange(ds.inputs.n_samples), ds.labelled))
    y, groups = problem.y[:, 0], np.asarray(problem.groups, dtype=object)
    seeds = [int(s) for s in args.network_seeds.split(",")]
    pred = {s: {"network": np.full(len(y), np.nan), "hybrid": np.full(len(y), np.nan)} for s in seeds}
    t0 = time.perf_counter()
    for f, test in enumerate(problem.folds):
        train = np.setdiff1d(np.arange(len(y)), test)
        rows = np.concatenate([train, test])
        fluxes = fold_fluxes(problem.model, list(problem.gene_ids), problem.log_levels[rows], np.arange(len(train)))
        f_train, f_test = flux_features(fluxes, np.arange(len(train)), np.arange(len(train), len(rows)))
        inner = list(GroupKFold(5).split(train, groups=groups[train]))
        for s in seeds:

            def net(s=s):
                return SparseNetRegressor(unlabelled=unlabelled, random_state=s)

            outer = net().fit(X[train], y[train]).predict(X[test])
            oof = np.empty(len(train))
            for fit_rows, held in inner:
                oof[held] = net().fit(X[train][fit_rows], y[train][fit_rows]).predict(X[train][held])
            correction = baselines.fit_predict("ridge", f_train, (y[train] - oof)[:, None], groups[train], f_test, s)[
                :, 0
            ]
            pred[s]["network"][test], pred[s]["hybrid"][test] = outer, outer + correction
        print(f"fold {f + 1}/{len(problem.folds)} done, {time.perf_counter() - t0:.0f} s", flush=True)
    scores = {s: {k: metrics.prediction_metrics(y, p, list(groups)) for k, p in pred[s].items()} for s in seeds}
    out = {
        "what": __doc__.splitlines()[0],
        "cv": args.cv,
        "seed": args.seed,
        "network_seeds": seeds,
        "date": datetime.date.today().isoformat(),
        "machine": platform.platform(),
        "seconds": time.perf_counter() - t0,
        "per_seed": {str(s): scores[s] for s in seeds},
        "paired": {},
    }
    for m in ("pearson_r", "within_20_percent", "rmse", "within_group_r"):
        d = np.array([scores[s]["hybrid"][m] - scores[s]["network"][m] for s in seeds])
        better = d < 0 if m == "rmse" else d > 0
        out["paired"][m] = {
            "network": float(np.mean([scores[s]["network"][m] for s in seeds])),
            "hybrid": float(np.mean([scores[s]["hybrid"][m] for s in seeds])),
            "difference_mean": float(d.mean()),
            "difference_sd": float(d.std(ddof=1)) if len(d) > 1 else 0.0,
            "hybrid_better_in": int(better.sum()),
            "seeds": len(d),
        }
        e = out["paired"][m]
        print(
            f"{m:18} network {e['network']:.3f}  hybrid {e['hybrid']:.3f}  hybrid - network "
            f"{e['difference_mean']:+.3f} ± {e['difference_sd']:.3f} (hybrid better in {e['hybrid_better_in']} of "
            f"{e['seeds']})"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
