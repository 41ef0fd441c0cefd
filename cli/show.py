"""What the study commands print: progress, the data summary and warnings, and each study's table."""

from __future__ import annotations

import math
import sys

import typer

from sparsenet.config.model_keys import kind_of, model_of, report_key
from sparsenet.studies.inputs import stop_at_warnings


def echo(msg):
    """A line on stderr (progress and notes; stdout holds the results)."""
    typer.echo(msg, err=True)


def echo_checks(summary: dict, strict: bool) -> None:
    """The data summary's warnings, one line each; with --strict the first one stops the command."""
    warnings = summary["checks"]["warnings"] if "checks" in summary else summary.get("warnings", [])
    if strict:
        stop_at_warnings(warnings)
    for w in warnings:
        echo(f"warning: {w}")


class Bars:
    """Rich progress bars on a terminal; one line per finished stage otherwise."""

    def __init__(self, n_fits: int = 0):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.tty = sys.stderr.isatty()
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TimeElapsedColumn(),
            transient=True,
            disable=not self.tty,
        )
        self.overall = self.bar.add_task("fits", total=n_fits, loss="")
        self.stage, self.label = None, None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *a):
        return self.bar.__exit__(*a)

    def __call__(self, stage):
        kind, label, done, total, loss = stage.kind, stage.label, stage.done, stage.total, stage.loss
        if kind == "plan":  # the study says how many fits it has
            self.bar.update(self.overall, total=total)
            return
        text = f"{kind} {label}"
        if self.label != text:
            if self.stage is not None:
                self.bar.remove_task(self.stage)
            self.stage, self.label = self.bar.add_task(text, total=total, loss=""), text
        self.bar.update(self.stage, completed=done, total=total, loss="" if loss is None else f"loss {loss:.4g}")
        if kind == "tasks":  # fits fanned out: done / total across workers
            self.bar.update(self.overall, completed=done, total=total)
            if not self.tty and (done == total or done % max(1, total // 10) == 0):
                echo(f"  {label}: {done}/{total} done")
            return
        if kind == "finetune" and done == total:
            self.bar.advance(self.overall)
            if not self.tty:
                echo(f"  {label}: " + ("fitted" if loss is None else f"fine-tuned (loss {loss:.4g})"))


def echo_data_summary(ds, cfg) -> None:
    """What the data gave, before any fit: genes, samples, targets, pre-training pool (C only)."""
    echo(ds.summary["alignment"])
    echo(ds.summary["gene_labels"])
    checks = ds.summary["checks"]
    orphans = checks["phenotype_samples_without_expression"]
    echo(
        f"{ds.labelled.size} samples with phenotypes "
        f"({', '.join(f'{c} -> {t}' if c != t else c for c, t in zip(ds.target_columns, ds.targets, strict=True))})"
        + (f"; {len(orphans)} phenotype rows without expression left out" if orphans else "")
        + f"; {ds.summary['missing_phenotype_cells'].split(' ')[0]} cells missing, "
        + f"zeros: {ds.summary['zero_observations']}"
    )
    if "C" in cfg.strategies:
        echo(
            f"{ds.pretrain_source.n_samples} expression profiles for pre-training (each fold without its held-out "
            "samples)"
        )


def files_written(files: dict) -> str:
    width = max(len(f) for f in files)
    return "\n".join(f"  {name:{width}}  {what}" for name, what in files.items())


def summary_table(report) -> str:
    """Networks and baselines side by side (mean ± sd over seeds when there are several), then the paired
    comparisons."""

    def f(v, fmt):
        return format(v, fmt) if isinstance(v, (int, float)) else "-"

    recon = any("reconstruction_held_out" in res for res in report["results"].values())
    ranked = any(
        isinstance(v, float) and math.isfinite(v)
        for res in report["results"].values()
        for m in res["over_seeds"].values()
        for v in [m.get("within_group_r", {}).get("mean")]
    )
    columns = [("pearson_r", ".3f"), ("within_20_percent", ".1f"), ("rmse", ".3f")]
    columns += [("within_group_r", ".3f")] if ranked else []
    lines = [
        f"{'CV':8} {'model':22} {'phenotype':24} {'r':>13} {'within 20%':>13} {'RMSE':>13}"
        + (f" {'r in groups':>13}" if ranked else "")
        + (f" {'recon R2':>8} {'PCA R2':>7}" if recon else "")
    ]
    for key, res in report["results"].items():
        scheme, model = key.split("/", 1)
        rec = res.get("reconstruction_held_out", {})
        for col, m in res["over_seeds"].items():
            cells = [
                f(m[k]["mean"], fmt) + (f"±{f(m[k]['sd'], fmt)}" if len(res["seeds"]) > 1 else "") for k, fmt in columns
            ]
            lines.append(
                f"{scheme:8} {model:22} {col[:24]:24} "
                + " ".join(f"{c:>13}" for c in cells)
                + (f" {f(rec.get('r2_mean'), '8.3f'):>8} {f(rec.get('pca_r2_mean'), '7.3f'):>7}" if recon else "")
            )
    if ranked:
        lines.append(
            "r in groups: the mean over held-out groups of 5 or more samples of r within each group (how well "
            "a project's own samples are ranked); claims here rest on pooled r"
        )
    comps = report.get("comparisons", [])
    if comps:
        n = len(next(iter(report["results"].values()))["seeds"])
        lines.append(
            f"paired over {n} seed{'s' if n > 1 else ''} on the same folds (difference in r; in % within 20 %):"
        )
        for c in comps:
            r, w = c["pearson_r"], c["within_20_percent"]
            lines.append(
                f"  {c['scheme']:8} {c['model']:>3} vs {c['against']:22} r {r['difference_mean']:+.3f}"
                f"±{r['difference_sd']:.3f} ({r['verdict']}, better in {r['better_in']}); within 20 % "
                f"{w['difference_mean']:+.1f}±{w['difference_sd']:.1f} ({w['verdict']})"
            )
    return "\n".join(lines)


_NULL_METRICS = (("pearson_r", "r"), ("within_20_percent", "% within 20 %"), ("rmse", "RMSE"))


def _null_rows(name: str, draws: str, metrics: dict, which=_NULL_METRICS) -> list[str]:
    """One row per metric: the real value, the null's mean ± sd, the real value's rank and its p."""
    rows = []
    for m, label in which:
        e = metrics[m]
        rank = "" if e["rank"] is None else f"{e['rank']:6d}"
        rows.append(
            f"{name:12} {draws:>5} {label:18} {e['real']:7.3f} {e['null_mean']:8.3f} ± {e['null_sd']:5.3f} "
            f"{rank:>6} {e['p']:6.3f}"
        )
    return rows


def control_table(report, col) -> str:
    from sparsenet.stats.nulls import verdict

    summary = report["control"]
    real = report["results"][report_key(summary["scheme"], summary["strategy"])]["over_seeds"][col]
    lines = [
        f"{col}, {summary['scheme']} CV, network seeds {summary['network_seeds']}: the real wiring "
        f"(r {real['pearson_r']['mean']:.3f}, {real['within_20_percent']['mean']:.1f} % within 20 %, "
        f"RMSE {real['rmse']['mean']:.3f}) against random wirings trained the same way",
        f"{'null model':12} {'draws':>5} {'metric':18} {'real':>7} {'null mean ± sd':>16} {'rank':>6} {'p':>6}",
    ]
    for kind, entry in summary["null_models"].items():
        lines += _null_rows(kind, str(entry["draws"]), entry["phenotypes"][col])
        lines.append(f"  {kind}: {verdict(entry, col)}")
    for key, res in report["results"].items():
        if kind_of(key) == "baseline":
            v = res["over_seeds"][col]
            lines.append(
                f"baseline {model_of(key).name:16} r {v['pearson_r']['mean']:.3f}, "
                f"{v['within_20_percent']['mean']:.1f} % within 20 %, RMSE {v['rmse']['mean']:.3f}"
            )
    return "\n".join(lines)


def flux_control_table(report, col) -> str:
    """Each flux predictor's real value against its gene-permutation null."""
    summary = report["flux_control"]
    lines = [
        f"{col}, {summary['scheme']} CV (seed {summary['seed']}): each flux predictor with the real gene labels "
        f"against {summary['draws']} permutations of them",
        f"{'predictor':12} {'draws':>5} {'metric':18} {'real':>7} {'null mean ± sd':>16} {'rank':>6} {'p':>6}",
    ]
    for name, entry in summary["predictors"].items():
        lines += _null_rows(
            name,
            str(summary["draws"]),
            entry["phenotypes"][col],
            _NULL_METRICS + (("within_group_r", "r within projects"),),
        )
    return "\n".join(lines)


def curve_table(summary, col) -> str:
    lines = [f"{col}, {summary['scheme']} CV: r (mean ± sd over draws) by labelled samples"]
    models = list(summary["models"])
    keys = list(next(iter(summary["models"].values())))
    lines.append(f"{'labels':14}" + "".join(f"{m[:22]:>24}" for m in models))
    for key in keys:
        cells = []
        for m in models:
            e = summary["models"][m].get(key)
            cells.append("-" if e is None else f"{e[col]['pearson_r']['mean']:.3f} ± {e[col]['pearson_r']['sd']:.3f}")
        lines.append(f"{key:14}" + "".join(f"{c:>24}" for c in cells))
    for model, table in summary["paired_against_B"].items():
        if kind_of(model) == "baseline":  # the table above has them; the question is pre-training's
            continue
        for key, entry in table.items():
            d = entry["differences"][col]["pearson_r"]
            lines.append(
                f"  {model} - B at {key}: r {d['mean']:+.3f} ± {d['sd']:.3f} (better in {d['better_in']}"
                f"{', beyond the spread' if d['beyond_spread'] else ''})"
            )
    return "\n".join(lines)


def robustness_table(result) -> str:
    """Each noisy run's r and % within 20 % beside the clean run's."""
    clean = result.clean
    lines = [f"{'noise in':10} {'p %':>5} {'r':>7} {'Δr':>7} {'within 20%':>10} {'Δ':>7}"]
    for r in [clean, *result.noisy]:
        lines.append(
            f"{r.where:10} {r.percent:5g} {r.pearson_r:7.3f} {r.pearson_r - clean.pearson_r:+7.3f} "
            f"{r.within_20_percent:9.1f}% {r.within_20_percent - clean.within_20_percent:+7.1f}"
        )
    return "\n".join(lines)
