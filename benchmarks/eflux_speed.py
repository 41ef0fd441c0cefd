"""E-Flux on PRECISE: how long all 278 samples take (activities through the GPR rules, then FBA and pFBA per
sample, GLPK through optlang) and what the predicted growth looks like against the measured one.

    python benchmarks/eflux_speed.py [--json FILE] [--plot FILE]

Levels are PRECISE's log2(TPM + 1) turned linear (2**x - 1); every reaction is scaled by its maximum over all
278 samples here (a timing and a first look, not a cross-validated score: ``train --baselines eflux`` scales on
each fold's training samples). Prints seconds per stage, failed solves by status, and r of the predicted
against the measured growth pooled and within each project (projects of 5 or more labelled samples).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    from sparsenet.data import precise
    from sparsenet.data.tables import read_expression
    from sparsenet.stats.metrics import pearson, within_group_r
    from sparsenet.fluxes import EFlux, reaction_activities, training_maxima
    from sparsenet.runs.flux_baselines import linear_levels
    from sparsenet.masks.model_io import load_model

    files = precise.precise_files(progress=lambda m: None)
    t0 = time.perf_counter()
    model = load_model("iJO1366")[0]
    genes = [g.id for g in model.genes]
    expr = read_expression(files["log_tpm.csv"], genes, "auto")
    levels = linear_levels(expr.take(np.arange(expr.n_samples)))
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    activities = reaction_activities(model, list(expr.gene_ids), levels)
    scaled = activities.values / training_maxima(activities, np.arange(len(levels)))
    t_act = time.perf_counter() - t0
    t0 = time.perf_counter()
    solver = EFlux(model, activities.reaction_ids)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = solver.solve(scaled)
    t_solve = time.perf_counter() - t0
    with open(files["sample_table.csv"], newline="") as fh:
        rows = {r["Sample ID"]: r for r in csv.DictReader(fh)}
    growth = np.array(
        [float(rows[s][precise.GROWTH_COLUMN] or "nan") if s in rows else np.nan for s in expr.sample_ids]
    )
    growth[growth == 0] = np.nan  # as train reads them: 0 is not measured
    project = [rows[s][precise.GROUP_COLUMN] if s in rows else "" for s in expr.sample_ids]
    labelled = np.isfinite(growth)
    ranked = within_group_r(growth[labelled], result.growth[labelled], np.asarray(project, dtype=object)[labelled])
    out = {
        "benchmark": "eflux_speed",
        "date": datetime.date.today().isoformat(),
        "command": " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "solver": str(solver.fba.solver.interface.__name__),
        "samples": len(levels),
        "reactions_constrained": len(activities.reaction_ids),
        "seconds": {"read": t_read, "activities": t_act, "build": t_build, "fba_and_pfba": t_solve},
        "failed": result.failed,
        "labelled": int(labelled.sum()),
        "pooled_r": pearson(growth[labelled], result.growth[labelled]),
        **ranked,
    }
    print(
        f"{len(levels)} samples, {len(activities.reaction_ids)} reactions bounded; read {t_read:.1f} s, "
        f"activities {t_act:.2f} s, problems built {t_build:.1f} s, FBA + pFBA {t_solve:.1f} s "
        f"({1000 * t_solve / len(levels):.0f} ms a sample); failed {result.failed or 'none'}"
    )
    print(
        f"E-Flux growth against measured ({int(labelled.sum())} labelled): pooled r {out['pooled_r']:.3f}; "
        f"within projects r {ranked['within_group_r']:.3f} (Spearman {ranked['within_group_spearman']:.3f}, "
        f"{ranked['groups_ranked']} projects); all scaled on every sample: a first look, not a CV score"
    )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        names = sorted({p for p, ok in zip(project, labelled, strict=True) if ok})
        colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(names), 2)))
        for name, colour in zip(names, colours, strict=False):
            at = labelled & (np.asarray(project) == name)
            ax.scatter(growth[at], result.growth[at], s=14, color=colour, label=name)
        ax.set_xlabel("measured growth rate (1/h)")
        ax.set_ylabel("E-Flux biomass flux (iJO1366)")
        ax.set_title(
            f"E-Flux on PRECISE: pooled r {out['pooled_r']:.2f}, within projects {ranked['within_group_r']:.2f}",
            fontsize=9,
        )
        ax.legend(fontsize=6, ncol=2, frameon=False)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
