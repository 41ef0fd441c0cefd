"""The run folder: result CSVs (observed then predicted, folds stacked), report.json, plots, links."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from .. import atomic
from . import metrics, plots


def _clean(v):
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else round(float(v), 6)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    return v


def write_json(path, data):
    """report.json: NaN/inf become null, floats rounded to 6 places."""
    atomic.write_json(path, _clean(data))


def pooled(ds, records):
    """Observed and predicted of every labelled sample (each held out once), with its fold."""
    n, k = ds.y.shape
    pred, fold = np.full((n, k), np.nan), np.zeros(n, dtype=np.int64)
    for f, rec in enumerate(records):
        test = np.asarray(rec["test"], dtype=np.int64)
        pred[test] = rec["predicted"]
        fold[test] = f
    return ds.y, pred, fold


def summarise(ds, records, strategy) -> dict:
    y, pred, _ = pooled(ds, records)
    out = {"phenotypes": {}, "folds": len(records)}
    for j, col in enumerate(ds.target_columns):
        m = metrics.prediction_metrics(y[:, j], pred[:, j])
        per_fold = [metrics.pearson(ds.y[np.asarray(r["test"], int), j], np.asarray(r["predicted"])[:, j])
                    for r in records]
        m["reaction"] = ds.targets[j]
        m["pearson_r_per_fold"] = per_fold
        p = pred[:, j][np.isfinite(pred[:, j])]
        scale = float(np.nanmedian(np.abs(y[:, j]))) if np.isfinite(y[:, j]).any() else 1.0
        stuck = float(np.mean(np.abs(p) < 1e-3 * scale)) if p.size else 0.0
        if stuck >= 0.9:
            out.setdefault("warnings", []).append(
                f"{col}: {100 * stuck:.0f} % of predictions are ~0: fine-tuning collapsed (softplus output stuck "
                "at 0); try a smaller --finetune-lr")
        out["phenotypes"][col] = m
    stops = [str(r["stop"]) for r in records]
    out["finetune_stopped_by"] = {s: stops.count(s) for s in sorted(set(stops))}
    out["finetune_steps"] = [int(np.size(r["finetune_losses"])) for r in records]
    out["pretrain_seconds"] = float(sum(r["pretrain_seconds"] for r in records))
    out["finetune_seconds"] = float(sum(r["finetune_seconds"] for r in records))
    if strategy == "C":
        rs = [r["reconstruction"] for r in records if "reconstruction" in r]
        out["reconstruction_held_out"] = {
            "pearson_r_mean": float(np.nanmean([r["pearson_r"] for r in rs])),
            "r2_mean": float(np.nanmean([r["r2"] for r in rs])),
            "pearson_r_per_fold": [float(r["pearson_r"]) for r in rs],
            "r2_per_fold": [float(r["r2"]) for r in rs],
            "genes": "genes linked to at least one phenotype"}
        out["pretrain_final_loss_mean"] = float(np.mean([r["pretrain_losses"][-1] for r in records]))
    return out


def results_csv(ds, records) -> str:
    y, pred, fold = pooled(ds, records)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["sample_id", "fold"] + (["group"] if ds.groups else []) + [f"observed {c}" for c in ds.target_columns]
               + [f"predicted {c}" for c in ds.target_columns])
    ids = ds.labelled_ids
    for i in range(len(ids)):
        w.writerow([ids[i], int(fold[i]) + 1] + ([ds.groups[i]] if ds.groups else [])
                   + ["" if not np.isfinite(v) else f"{v:.6g}" for v in y[i]] + [f"{v:.6g}" for v in pred[i]])
    return buf.getvalue()


def links_csv(ck) -> str:
    """Every biological link's learned weight: gene -> protein -> phenotype reaction."""
    from ..training.network import is_identity

    if ck.strategy == "A":
        raise ValueError("strategy A is fully connected: its weights are not biological links")
    m = ck.masks
    pp = m.protein_phenotype.tocsr()
    if "0.scale" in ck.params:  # one-to-one gene->protein folded into the phenotype layer as its input scale
        gp, first = np.asarray(ck.params["0.scale"], float), "0"
    else:
        gp, first = np.asarray(ck.params["0.weight"], float), "1"
    w = np.asarray(ck.params[f"{first}.weight"], float)
    b = np.asarray(ck.params.get(f"{first}.bias", np.zeros(pp.shape[0])), float)
    gp_csr = m.gene_protein.tocsr()
    identity = is_identity(gp_csr)
    gene_of = {}
    for p in range(gp_csr.shape[0]):
        for kk in range(gp_csr.indptr[p], gp_csr.indptr[p + 1]):
            gene_of.setdefault(p, []).append((int(gp_csr.indices[kk]), gp[p] if identity else gp[kk]))
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(["gene", "protein", "phenotype_reaction", "gene_protein_weight", "protein_phenotype_weight",
                 "phenotype_bias"])
    for r in range(pp.shape[0]):
        for kk in range(pp.indptr[r], pp.indptr[r + 1]):
            p = int(pp.indices[kk])
            for g, gw in gene_of.get(p, []):
                wr.writerow([m.gene_ids[g], m.protein_ids[p], m.phenotype_ids[r], f"{gw:.6g}", f"{w[kk]:.6g}",
                             f"{b[r]:.6g}"])
    return buf.getvalue()


def write_run(out: Path, ds, cfg, results, final, seconds, extra=None) -> dict:
    out = Path(out)
    report = {"settings": cfg.to_dict(), "data": ds.summary, "wall_seconds": seconds, "results": {}}
    panels, curves_pre, curves_ft = [], [], []
    for (scheme, strategy), records in results.items():
        key = f"{scheme}/{strategy}"
        report["results"][key] = summarise(ds, records, strategy)
        atomic.write_text(out / f"results_{scheme}_{strategy}.csv", results_csv(ds, records))
        y, pred, _ = pooled(ds, records)
        for j, col in enumerate(ds.target_columns):
            panels.append((f"{col}: {scheme} CV, strategy {strategy}", y[:, j], pred[:, j],
                           report["results"][key]["phenotypes"][col]))
        for f, r in enumerate(records):
            if np.size(r["pretrain_losses"]):
                curves_pre.append((f"{scheme} {strategy} fold {f + 1}", np.asarray(r["pretrain_losses"])))
            curves_ft.append((f"{scheme} {strategy} fold {f + 1}", np.asarray(r["finetune_losses"])))
        if strategy == "C":
            obs = np.concatenate([np.asarray(r["recon_sample"])[0] for r in records])
            rec = np.concatenate([np.asarray(r["recon_sample"])[1] for r in records])
            s = report["results"][key]["reconstruction_held_out"]
            plots.reconstruction(out / f"reconstruction_{scheme}.png", obs, rec,
                                 f"held-out reconstruction ({scheme} CV)\nr = {s['pearson_r_mean']:.2f}, "
                                 f"R² = {s['r2_mean']:.2f} (mean over folds)")
    if panels:
        plots.predicted_vs_observed(out / "predicted_vs_observed.png", panels,
                                    ncols=len(cfg.strategies) * len(ds.target_columns))  # a row per CV scheme
    plots.training_curves(out / "training_curves.png", curves_pre, curves_ft)
    if final is not None:
        report["final_model"] = {"file": str(out / "model.h5"), **final.progress}
        if final.strategy != "A":
            atomic.write_text(out / "links.csv", links_csv(final))
    report.update(extra or {})
    write_json(out / "report.json", report)
    return report
