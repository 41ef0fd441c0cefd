"""The label-free E-Flux growth ranking (``sparsenet rank``) against its null, on PRECISE, recorded.

Every labelled PRECISE sample (growth rate measured, > 0) is ranked by E-Flux's biomass flux (no pFBA; every
reaction scaled over these samples; no growth rate used), with iJO1366's real gene -> reaction mapping and with
50 gene-permuted ones (draw d permutes the measured genes' labels with seed [0, d], as the flux control). Each
is scored against the measured growth rates: mean within-project Pearson r and Spearman (projects of >= 5
samples), projects with a positive r, pooled r. The empirical p counts a draw at least as good (ties count).
Writes benchmarks/results/cpu_eflux_ranking_null.json and records the result in data/controls.json under the
iJO1366 masks' flux key as the predictor ``eflux_rank``, where ``sparsenet rank`` reads it.

    python benchmarks/eflux_ranking_null.py [--draws 50]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from sparsenet.data import precise
from sparsenet.data.tables import read_rows
from sparsenet.masks.model_io import load_model
from sparsenet.masks.store import read_masks, shipped_mask_path
from sparsenet.report.evidence import _join, _kept, _read, _write, flux_key
from sparsenet.stats.metrics import pearson, within_group_r
from sparsenet.stats.nulls import compare
from sparsenet.studies.flux_control import permutation
from sparsenet.studies.growth_ranking import eflux_growth, expression_levels
from sparsenet.training.checkpoint import mask_fingerprint

ROOT = Path(__file__).resolve().parents[1]
LABEL = "PRECISE, labelled samples ranked within project, no labels used"


def scores(growth, y, groups) -> dict:
    w = within_group_r(y, growth, groups)
    per = []
    g = np.asarray(groups, dtype=object)
    for name in dict.fromkeys(groups):
        ok = (g == name) & np.isfinite(growth)
        if ok.sum() >= 5:
            per.append(pearson(y[ok], growth[ok]))
    ok = np.isfinite(growth)
    return {
        "within_group_r": w["within_group_r"],
        "within_group_spearman": w["within_group_spearman"],
        "projects_positive": int(np.sum(np.asarray(per) > 0)),
        "projects_ranked": w["groups_ranked"],
        "pearson_r": pearson(y[ok], growth[ok]),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=50)
    args = parser.parse_args()
    files = precise.precise_files()
    masks = read_masks(shipped_mask_path("iJO1366"))
    sample_ids, all_levels, _ = expression_levels(files["log_tpm.csv"], masks)  # as sparsenet rank reads it
    rows = read_rows(files["sample_table.csv"])
    head = rows[0]
    gi, yi = head.index("project"), head.index(precise.GROWTH_COLUMN)
    table = {r[0]: r for r in rows[1:]}
    labelled = [i for i, s in enumerate(sample_ids) if s in table and table[s][yi].strip() and float(table[s][yi]) > 0]
    y = np.array([float(table[sample_ids[i]][yi]) for i in labelled])
    groups = [table[sample_ids[i]][gi] for i in labelled]
    levels = all_levels[labelled]
    model = load_model(masks.attrs["model_file"])[0]
    measured = int(np.isfinite(levels).all(axis=0).sum())
    t0 = time.perf_counter()
    draws = []
    for d in range(args.draws + 1):
        growth, status, _ = eflux_growth(model, masks.gene_ids, levels, permutation(measured, 0, d))
        draws.append({"scores": scores(growth, y, groups), "not_optimal": int(sum(s != "optimal" for s in status))})
        if d % 10 == 0:
            print(f"draw {d}: {draws[-1]['scores']}, {time.perf_counter() - t0:.0f} s", flush=True)
    real = draws[0]["scores"]
    metrics = {
        m: {
            **compare(real[m], np.array([x["scores"][m] for x in draws[1:]]), m),
            "null_values": [x["scores"][m] for x in draws[1:]],
        }
        for m in ("within_group_r", "within_group_spearman", "pearson_r")
    }
    out = {
        "what": __doc__.split("\n\n")[0],
        "samples": len(labelled),
        "projects": len(set(groups)),
        "genes_measured": measured,
        "draws": args.draws,
        "seconds": time.perf_counter() - t0,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "real": real,
        "projects_positive": real["projects_positive"],
        "projects_ranked": real["projects_ranked"],
        "not_optimal_real": draws[0]["not_optimal"],
        "metrics": metrics,
        "network_within_project_r": "~0.58 (sparsenet train, default, grouped 10-fold: README's evidence)",
    }
    path = ROOT / "benchmarks" / "results" / "cpu_eflux_ranking_null.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    ledger = ROOT / "data" / "controls.json"
    evidence = _read(ledger)
    entry = {
        "data": LABEL,
        "scheme": "none (no labels, no folds)",
        "seed": 0,
        "null_model": "genes",
        "masks_file": "iJO1366_masks.h5",
        "predictors": {"eflux_rank": _kept(metrics)},
    }
    _join(
        evidence.setdefault(flux_key(mask_fingerprint(masks)), {}),
        LABEL,
        entry,
        ("scheme", "seed", "null_model"),
        "predictors",
    )
    _write(ledger, evidence)
    for m, v in metrics.items():
        print(f"{m}: real {v['real']:+.3f}, null {v['null_mean']:+.3f} ± {v['null_sd']:.3f}, p = {v['p']:.3f}")
    print(f"wrote {path} and recorded it in {ledger}")


if __name__ == "__main__":
    main()
