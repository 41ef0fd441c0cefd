"""The run folder: result CSVs (observed then predicted, folds stacked), report.json, plots, links. The numbers
themselves come from :mod:`sparsenet.stats.summary`; this module only writes them."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from .. import atomic
from ..runs.links import links_csv
from ..config.model_keys import kind_of, model_words, report_key
from ..stats.summary import aggregate, comparisons, pooled, summarise
from . import plots


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


def provenance(command: str | None = None) -> dict:
    """What a report keeps of how it was made: the command line that ran it (``command``: the caller's; None
    from Python), the version, the time."""
    import datetime

    from ..version import __version__

    return {
        "command": command,
        "version": __version__,
        "written": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def write_report(out: Path, report: dict, name: str = "report.json") -> None:
    """The run's report file (``name``) and report.html from the same numbers (the report as written: NaN as
    null, rounded; not read back); the file names the page among the files written."""
    from .html import write_html

    report.setdefault("files", {})["report.html"] = (
        "this run on one page (open it in a browser; self-contained, rewrite it with sparsenet report)"
    )
    written = _clean(report)
    atomic.write_json(Path(out) / name, written)
    write_html(out, written, name)


def write_json(path, data):
    """report.json: NaN/inf become null, floats rounded to 6 places."""
    atomic.write_json(path, _clean(data))


def results_csv(ds, records) -> str:
    y, pred, fold = pooled(ds, records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["sample_id", "fold"]
        + (["group"] if ds.groups else [])
        + [f"observed {c}" for c in ds.target_columns]
        + [f"predicted {c}" for c in ds.target_columns]
    )
    ids = ds.labelled_ids
    for i in range(len(ids)):
        w.writerow(
            [ids[i], int(fold[i]) + 1]
            + ([ds.groups[i]] if ds.groups else [])
            + ["" if not np.isfinite(v) else f"{v:.6g}" for v in y[i]]
            + [f"{v:.6g}" for v in pred[i]]
        )
    return buf.getvalue()


def write_run(
    out: Path, ds, cfg, results, final, seconds, extra=None, page: bool = True, command: str | None = None
) -> dict:
    """results: {(scheme, model, repeat): fold records}; model is a strategy or ``baseline:NAME``.
    ``report['files']`` says what each written file holds. ``page``: also report.html (False: the caller writes
    both once it has added to the report); ``command``: the command line, for the provenance."""
    out = Path(out)
    report = {
        "settings": cfg.to_dict(),
        "data": ds.summary,
        "wall_seconds": seconds,
        "results": {},
        "provenance": provenance(command),
    }
    files = {"report.json": "every metric per phenotype, fold and seed, the settings and the data checks"}
    panels, curves_pre, curves_ft = [], [], []
    groups = {}
    for (scheme, model, repeat), records in results.items():
        if kind_of(model) not in ("null", "curve"):  # summarised by stats.nulls and .curves
            groups.setdefault((scheme, model), []).append((repeat, records))
    for (scheme, model), runs in groups.items():
        key = report_key(scheme, model)
        summaries = [summarise(ds, records) for _, records in runs]
        res = dict(summaries[0])
        res["seeds"] = [cfg.seed + repeat for repeat, _ in runs]
        res["over_seeds"] = aggregate(summaries)
        if len(summaries) > 1:
            res["per_seed"] = summaries
        report["results"][key] = res
        records = runs[0][1]
        name = f"results_{scheme}_{model.replace(':', '_')}.csv"
        atomic.write_text(out / name, results_csv(ds, records))
        files[name] = f"each sample's held-out prediction, {model_words(model)}, {scheme} CV (seed {cfg.seed})"
        y, pred, _ = pooled(ds, records)
        for j, col in enumerate(ds.target_columns):
            panels.append(
                (f"{col}: {model_words(model)}, {scheme} CV", y[:, j], pred[:, j], res["phenotypes"][col], ds.groups)
            )
        if kind_of(model) == "baseline":  # no training curves, no reconstruction
            continue
        for f, r in enumerate(records):
            if np.size(r.training.pretrain_losses):
                curves_pre.append((f"{scheme} {model} fold {f + 1}", np.asarray(r.training.pretrain_losses)))
            curves_ft.append((f"{scheme} {model} fold {f + 1}", np.asarray(r.training.finetune_losses)))
        if "reconstruction_held_out" in res:
            obs = np.concatenate([np.asarray(r.recon_sample)[0] for r in records])
            rec = np.concatenate([np.asarray(r.recon_sample)[1] for r in records])
            s = res["reconstruction_held_out"]
            plots.reconstruction(
                out / f"reconstruction_{scheme}.png",
                obs,
                rec,
                f"held-out reconstruction ({scheme} CV), linked genes\nR² = {s['r2_mean']:.2f} "
                f"(PCA of the same width: {s['pca_r2_mean']:.2f}), mean over folds",
            )
            files[f"reconstruction_{scheme}.png"] = "the pre-trained autoencoder's held-out reconstruction"
    report["comparisons"] = comparisons(ds, {k: v["over_seeds"] for k, v in report["results"].items()})
    if panels:
        plots.predicted_vs_observed(
            out / "predicted_vs_observed.png", panels, ncols=len(groups) // len(cfg.cv) * len(ds.target_columns)
        )  # a row per scheme
        files["predicted_vs_observed.png"] = "held-out predictions against observations, every model"
    if plots.training_curves(out / "training_curves.png", curves_pre, curves_ft, cfg.finetune.loss):
        files["training_curves.png"] = "the loss of every fit, step by step"
    if final is not None:
        report["final_model"] = {"file": str(out / "model.h5"), **final.progress}
        files["model.h5"] = "the final model, trained on every labelled sample: sparsenet predict uses it"
        if final.strategy != "A":
            atomic.write_text(out / "links.csv", links_csv(final))
            files["links.csv"] = "the final model's weight of every gene -> phenotype link (and on each target)"
    report.update(extra or {})
    report["files"] = files
    if page:
        write_report(out, report)
    else:  # the caller adds to the report, then writes it and its page once (write_report)
        write_json(out / "report.json", report)
    return report
