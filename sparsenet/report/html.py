"""report.html: one self-contained page per run folder (train, control, curve, robustness, control --predictor
flux), written from the folder's report file and results files by one template, so every number on the page
is the report's. Figures are PNGs inlined as data URIs, styles inline, no script; the page's Content Security
Policy lets it fetch nothing, so it opens from a mail attachment with no network.

Sections in the order a reader asks: what was run, the data checks, then the run's own (accuracy against every
baseline, the wiring's recorded control, training curves, the genes; or the null distributions, the learning
curve, the noise runs), and the files written. A run folder written before this page existed gets the sections
its files allow and one line for each that they do not.
"""

from __future__ import annotations

import base64
import csv
import datetime
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..config.model_keys import kind_of, model_words, report_key, split_key
from ..stats.summary import METRICS
from ..version import __version__

WORDS = {
    "pearson_r": "r",
    "within_20_percent": "% within 20 %",
    "rmse": "RMSE",
    "within_group_r": "r within groups",
    "within_group_spearman": "Spearman within groups",
}
DIGITS = {"pearson_r": 3, "within_20_percent": 1, "rmse": 3, "within_group_r": 3, "within_group_spearman": 3}
LOSSES = {
    "squared": "squared error (+ L2 penalty)",
    "relative": "Σ|(y − ŷ)/y| (the paper's relative error)",
    "sse": "sum of squared errors",
}
TOP_GENES = 25
SHOWN = ("pearson_r", "within_20_percent", "rmse", "within_group_r")  # the accuracy table's columns
CONSTANT = ("baseline:mean",)  # models that predict one number per fold: their correlations are shown as —
CORRELATIONS = ("pearson_r", "within_group_r", "within_group_spearman")


def number(value, metric: str) -> str:
    """How the page shows one value of ``metric`` (what the browser test reads back)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{DIGITS.get(metric, 3)}f}"


# ---------------------------------------------------------------- blocks
def text(t: str, style: str = "") -> dict:
    return {"kind": "text", "text": t, "style": style}


def heading(t: str) -> dict:
    return {"kind": "heading", "text": t}


def bullets(items) -> dict:
    return {"kind": "list", "items": list(items)}


def details(summary: str, items) -> dict:
    """A list folded away under one line that says how long it is (the page stays short; nothing is lost)."""
    return {"kind": "details", "summary": summary, "items": list(items)}


def link(t: str, label: str, target: str, style: str = "") -> dict:
    return {"kind": "link", "text": t, "label": label, "target": target, "style": style}


LONG = 8  # a list longer than this is folded (details) with its count in the line that opens it


def cell(t, metric: str = "", note: str = "") -> dict:
    return {"text": "" if t is None else str(t), "metric": metric, "note": note}


def row(cells, style: str = "", **data) -> dict:
    return {"cells": [c if isinstance(c, dict) else cell(c) for c in cells], "style": style, "data": data}


def table(head, rows, numeric=(), name: str = "", caption: str = "") -> dict:
    return {
        "kind": "table",
        "head": list(head),
        "rows": list(rows),
        "numeric": set(numeric),
        "name": name,
        "caption": caption,
    }


def figure(png: bytes, alt: str, caption: str) -> dict:
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's size: the page lays out before it decodes
    scale = min(1.0, 1000 / width)
    return {
        "kind": "figure",
        "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        "alt": alt,
        "caption": caption,
        "width": int(width * scale),
        "height": int(height * scale),
    }


def png_figure(folder: Path, name: str, alt: str, caption: str) -> dict:
    path = folder / name
    if not path.exists():
        return text(f"{name}: not in this run folder (written by runs of an older sparsenet, or removed)", "missing")
    return figure(path.read_bytes(), alt, caption)


def section(id_: str, title: str, blocks) -> dict:
    return {"id": id_, "title": title, "blocks": [b for b in blocks if b]}


# ---------------------------------------------------------------- reading a run folder
@dataclass(frozen=True)
class Run:
    folder: Path
    kind: str  # train, control, curve, robustness, flux
    report: dict
    report_file: str


def read_run(folder) -> Run:
    """The run folder's report and what kind of run wrote it; one line naming the file when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such run folder")
    for name in ("report.json", "robustness.json", "classification.json"):
        path = folder / name
        if path.exists():
            try:
                report = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                raise ValueError(
                    f"{path}: not valid JSON ({e.msg}, line {e.lineno}); the run did not finish writing "
                    "it: run it again with --resume"
                ) from None
            break
    else:
        raise ValueError(
            f"{folder}: no report.json, robustness.json or classification.json; give the folder of a "
            "finished sparsenet train, control, curve, robustness or classify run"
        )
    return run_of(folder, report, name)


def run_of(folder, report: dict, name: str = "report.json") -> Run:
    """A run from its report as written to ``folder``/``name`` (in memory: the run that just wrote it)."""
    if name == "classification.json":
        kind = "classify"
    elif name == "robustness.json":
        kind = "robustness"
    elif "flux_control" in report:
        kind = "flux"
    elif "control" in report:
        kind = "control"
    elif "curve" in report:
        kind = "curve"
    else:
        kind = "train"
    return Run(Path(folder), kind, report, name)


def _settings(run: Run) -> dict:
    s = run.report.get("settings", {})
    return s.get("run", s) if isinstance(s, dict) else {}


# ---------------------------------------------------------------- sections every page has
def what_was_run(run: Run) -> dict:
    r, data = run.report, run.report.get("data", {})
    prov = r.get("provenance", {})
    s = _settings(run)
    rows = [
        row(["command", prov.get("command") or "not recorded (a run of an older sparsenet, or from Python)"]),
        row(["sparsenet", f"{prov.get('version', 'not recorded')}; page written by {__version__}"]),
        row(["run finished", prov.get("written", "not recorded")]),
        row(["wall time", f"{r.get('wall_seconds', float('nan')):.0f} s"]),
        row(["expression file", data.get("expression_file", "–")]),
        row(["phenotype file", data.get("phenotype_file", "–")]),
        row(
            [
                "samples",
                f"{data.get('expression_samples', '–')} expression profiles, "
                f"{data.get('labelled_samples', '–')} with phenotypes, "
                f"{data.get('pretrain_samples', '–')} in the pre-training pool",
            ]
        ),
        row(["genes", data.get("alignment", "–")]),
        row(["phenotypes", ", ".join(f"{k} → {v}" for k, v in data.get("phenotype_columns", {}).items()) or "–"]),
    ]
    masks = r.get("masks") or (r.get("settings", {}) or {}).get("masks") or {}
    if masks:
        rows.append(row(["masks", f"{masks.get('file', '–')} (fingerprint {masks.get('fingerprint', '–')})"]))
    if s.get("strategies") is not None:
        ft = s.get("finetune", {})
        rows.append(
            row(
                [
                    "network",
                    f"strategy {', '.join(s['strategies']) or 'none'}, {s.get('ensemble')} networks, "
                    f"inputs {s.get('inputs')}, loss {LOSSES.get(ft.get('loss'), ft.get('loss'))}, "
                    f"L2 {ft.get('l2')}, up to {ft.get('max_steps')} steps, device {s.get('device')}",
                ]
            )
        )
        rows.append(
            row(
                [
                    "cross-validation",
                    f"{', '.join(s.get('cv', []))}, {s.get('folds')} folds, grouped by "
                    f"{s.get('group_by') or '–'}, seed {s.get('seed')}, {s.get('seeds')} "
                    "network seed(s)",
                ]
            )
        )
        rows.append(row(["baselines", ", ".join(s.get("baselines", [])) or "none"]))
    return section("run", "What was run", [table([], rows, name="run")])


def data_checks(run: Run) -> dict:
    """The data checks: the warnings first, then what was dropped or mapped; a list longer than ``LONG`` folds
    under one line that counts it ("134 gene symbols read as model gene IDs"), so the page stays short."""
    data = run.report.get("data", {})
    checks = data.get("checks")
    if checks is None:
        return section("checks", "Data checks", [text("no data checks in this report (an older run)", "missing")])
    blocks = []
    warnings = checks.get("warnings", [])
    blocks.append(
        text(
            f"{len(warnings)} warning(s)" + (":" if warnings else "; nothing looked wrong."),
            "warn" if warnings else "ok",
        )
    )
    if warnings:
        blocks.append(bullets(warnings))
    short, folded = [], []

    def add(summary: str, items):
        items = list(items)
        if len(items) > LONG:
            folded.append(details(summary, items))
        elif items:
            short.append(f"{summary}: {', '.join(map(str, items))}")

    add(
        f"{len(checks.get('model_genes_missing', []))} model gene(s) missing from the data, filled as no change",
        checks.get("model_genes_missing", []),
    )
    labels = checks.get("gene_labels", {})
    unrec = labels.get("unrecognised", [])
    add(
        f"{len(unrec)} gene label(s) matched no model gene",
        [u["label"] + (f" (closest: {u['closest']})" if u.get("closest") else "") for u in unrec],
    )
    symbols = labels.get("symbols_mapped", {})
    add(f"{len(symbols)} gene symbol(s) read as model gene IDs", [f"{s} → {g}" for s, g in symbols.items()])
    rule = labels.get("duplicates_rule", "?")
    add(
        f"{len(labels.get('duplicates', {}))} gene(s) given more than once, combined by {rule}",
        [f"{g} ({_count_or_names(n)})" for g, n in labels.get("duplicates", {}).items()],
    )
    add(
        f"{len(labels.get('ambiguous_symbols', {}))} ambiguous symbol(s), left out",
        [f"{s} ({_count_or_names(g)})" for s, g in labels.get("ambiguous_symbols", {}).items()],
    )
    no_expr = checks.get("phenotype_samples_without_expression", [])
    closest = checks.get("phenotype_samples_closest_expression_id", {})
    add(
        f"{len(no_expr)} phenotype sample(s) without expression, left out",
        [s + (f" (closest: {closest[s]})" if closest.get(s) else "") for s in no_expr],
    )
    suspects = checks.get("suspect_gene_columns", [])
    add(
        f"{len(suspects)} suspect gene column(s)",
        [
            f"{c.get('column')} → {c.get('model_gene')}? ({c.get('why')})" if isinstance(c, dict) else str(c)
            for c in suspects
        ],
    )
    for key in ("missing_phenotype_cells", "zero_observations", "linked_genes_found"):
        value = data.get(key) if key in data else checks.get(key)
        if value:
            short.append(f"{key.replace('_', ' ')}: {value}")
    blocks.append(bullets(short) if short else None)
    blocks += folded
    if not short and not folded:
        blocks.append(text("no gene, label or sample was dropped or mapped."))
    return section("checks", "Data checks", blocks)


def _count_or_names(v) -> str:
    """A duplicate's or an ambiguity's record as words: '2 columns' or 'thrA, THRA' (never a Python list)."""
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v)


def files_written(run: Run) -> dict:
    files = run.report.get("files", {})
    rows = [row([name, what]) for name, what in files.items()]
    return section(
        "files",
        "Files written",
        [
            table(["file", "what it holds"], rows, name="files")
            if rows
            else text("the report lists no files", "missing")
        ],
    )


# ---------------------------------------------------------------- train
def accuracy(run: Run) -> dict:
    r = run.report
    results = r.get("results", {})
    blocks = []
    columns = list(next(iter(results.values()))["phenotypes"]) if results else []
    for col in columns:
        blocks.append(heading(col))
        rows = []
        for key, res in results.items():
            scheme, model = key.split("/", 1)
            over = res.get("over_seeds", {}).get(col, {})
            n_seeds = len(res.get("seeds", [0]))
            cells = [scheme, cell(model, note=model_words(model))]
            constant = model in CONSTANT  # r of one number per fold is undefined: shown as —
            for m in SHOWN:
                v = over.get(m, {})
                mean = v.get("mean") if isinstance(v, dict) else None
                shown = number(mean, m)
                if n_seeds > 1 and isinstance(v, dict) and v.get("sd") is not None:
                    shown += f" ± {number(v['sd'], m)}"
                cells.append(cell("—" if constant and m in CORRELATIONS else shown, m))
            per_fold = res["phenotypes"][col].get("pearson_r_per_fold", [])
            cells.append("—" if constant else ", ".join(number(x, "pearson_r") for x in per_fold))
            rows.append(row(cells, "" if kind_of(model) == "baseline" else "network", model=key, phenotype=col))
        n_seeds = max(len(res.get("seeds", [0])) for res in results.values())
        over = f" ± sd over {n_seeds} network seeds" if n_seeds > 1 else " (one network seed)"
        blocks.append(
            table(
                ["CV", "model", *(WORDS[m] for m in SHOWN), "r per fold (first seed)"],
                rows,
                numeric=range(2, 2 + len(SHOWN)),
                name=f"accuracy:{col}",
                caption="held-out, pooled over folds; "
                f"mean{over}; "
                "claims rest on pooled r; r within groups: mean over held-out groups of 5 or "
                "more samples (Spearman's too in report.json); —: the training mean predicts one "
                "number per fold, whose r is undefined (report.json keeps the pooled value)",
            )
        )
    comps = r.get("comparisons", [])
    if comps:
        rows = []
        for c in comps:
            d = c["pearson_r"]
            w = c["within_20_percent"]
            rows.append(
                row(
                    [
                        c["scheme"],
                        c["phenotype"],
                        f"{c['model']} − {c['against']}",
                        cell(f"{d['difference_mean']:+.3f} ± {d['difference_sd']:.3f}", "pearson_r_difference"),
                        d["better_in"],
                        d["verdict"],
                        cell(f"{w['difference_mean']:+.1f} ± {w['difference_sd']:.1f}", ""),
                        w["verdict"],
                    ]
                )
            )
        blocks.append(heading("Paired differences, same folds and seeds"))
        blocks.append(
            table(
                [
                    "CV",
                    "phenotype",
                    "difference",
                    "Δ r (mean ± sd)",
                    "better in",
                    "verdict on r",
                    "Δ % within 20 %",
                    "verdict",
                ],
                rows,
                numeric=(3, 6),
                name="paired",
            )
        )
    blocks += predicted_figure(run, columns)
    intervals = r.get("intervals")
    if intervals:
        for col, c in intervals.get("phenotypes", {}).items():
            blocks.append(
                text(
                    f"Prediction intervals ({col}): {100 * c['coverage']:.1f} % of held-out samples fall "
                    f"inside their {100 * c['level']:g} % interval with each project held out in turn; mean "
                    f"width {c['mean_width']:.3g}. {intervals.get('how', '')}",
                    "note",
                )
            )
            per = sorted((c.get("per_group") or {}).items(), key=lambda kv: kv[1]["inside"])
            if per:
                blocks.append(
                    table(
                        [
                            "project held out",
                            "samples",
                            f"inside the {100 * c['level']:g} % interval",
                            "interval width",
                        ],
                        [row([g, v["samples"], f"{100 * v['inside']:.0f} %", f"{v['width']:.3g}"]) for g, v in per],
                        numeric=(1, 2, 3),
                        name=f"coverage:{col}",
                        caption="coverage per project, worst first: q from the other projects' residuals",
                    )
                )
        blocks.append(
            text(
                "sparsenet predict flags a sample 'far from the training data (d > t)' when its "
                "root-mean-square distance d over the linked genes to the nearest training sample exceeds "
                "t, the 95th percentile of the training samples' distances to their nearest sample of "
                "another project; and a growth rate's lower bound is never below 0 (clipped, counted).",
                "note",
            )
        )
    return section("accuracy", "Accuracy", blocks)


def _read_results_csv(path: Path, col: str):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    observed = np.array([float(x[f"observed {col}"] or "nan") for x in rows])
    predicted = np.array([float(x[f"predicted {col}"] or "nan") for x in rows])
    groups = [x["group"] for x in rows] if rows and "group" in rows[0] else None
    return observed, predicted, groups


def predicted_figure(run: Run, columns) -> list:
    """Predicted against observed for every model, coloured by project, the ±20 % band, and the network's
    prediction intervals where the run has them; drawn from the results CSVs."""
    import tempfile

    from . import plots

    results = run.report.get("results", {})
    half = {
        col: c.get("half_width_all") for col, c in (run.report.get("intervals") or {}).get("phenotypes", {}).items()
    }
    panels, missing = [], []
    for key, res in results.items():
        scheme, model = key.split("/", 1)
        path = run.folder / f"results_{scheme}_{model.replace(':', '_')}.csv"
        if not path.exists():
            missing.append(path.name)
            continue
        for col in columns:
            y, p, groups = _read_results_csv(path, col)
            if not np.isfinite(y).any():
                continue
            interval = half.get(col) if kind_of(model) != "baseline" else None
            metrics = res["phenotypes"][col]
            if model in CONSTANT:
                metrics = {**metrics, "pearson_r": None}  # one number per fold: r undefined
            panels.append((f"{col}: {model_words(model)}, {scheme} CV", y, p, metrics, groups, interval))
    gone = (
        [
            text(
                f"predicted against observed: {', '.join(missing)} not in this run folder, "
                f"{'that model is' if len(missing) == 1 else 'those models are'} left out of the figure",
                "missing",
            )
        ]
        if missing
        else []
    )
    if not panels:
        return gone
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.png"
        plots.predicted_vs_observed(path, panels, ncols=min(3, len(panels)))
        png = path.read_bytes()
    alt = (
        f"Scatter plots of held-out predicted against observed values, one panel per model ({len(panels)}), points "
        "coloured by project, with the line y = x and the band within 20 % of it"
    )
    return [
        figure(
            png,
            alt,
            "Held-out predictions against observations, pooled over folds (first network seed), "
            "coloured by project; grey: within 20 %; bars on the network's points: its prediction "
            "interval, where the run has one",
        )
    ] + gone


def wiring(run: Run) -> dict:
    from .evidence import flux_key, flux_statement, load, wiring_statement

    r = run.report
    s = _settings(run)
    fingerprint = (r.get("masks") or {}).get("fingerprint")
    blocks = []
    if not fingerprint:
        return section("wiring", "Is the wiring shown to matter?", [text("the report names no masks", "missing")])
    networks = [x for x in s.get("strategies", []) if x in ("B", "C")]
    if networks:
        blocks.append(text(wiring_statement(fingerprint, wiring=s.get("wiring")), "note"))
        from .evidence import wiring_key

        recorded = load().get(wiring_key(fingerprint, s.get("wiring")), {})
        rows = []
        for label, entry in recorded.items():
            for kind, v in entry["null_models"].items():
                e = v["pearson_r"]
                rows.append(
                    row(
                        [
                            label,
                            kind,
                            cell(number(e["real"], "pearson_r")),
                            cell(f"{number(e['null_mean'], 'pearson_r')} ± {number(e['null_sd'], 'pearson_r')}"),
                            f"{e['rank']} of {e['draws'] + 1}",
                            f"{e['p']:.3f}",
                        ]
                    )
                )
        if rows:
            blocks.append(_recorded_figure(recorded))
            blocks.append(
                table(
                    [
                        "recorded control (data, split)",
                        "null model",
                        "real r",
                        "null r mean ± sd",
                        "rank",
                        "empirical p",
                    ],
                    rows,
                    numeric=(2, 3, 5),
                    name="recorded-controls",
                    caption="recorded controls of these masks: the same network trained on randomised "
                    "wirings, 50 draws each; p = (1 + draws at least as good) / (draws + 1)",
                )
            )
        else:
            blocks.append(text("no control recorded for these masks", "missing"))
    from ..config.choices import FLUX_BASELINES

    fluxes = [b for b in s.get("baselines", []) if b in FLUX_BASELINES]
    for name in fluxes:
        blocks.append(text(flux_statement(fingerprint, name), "note"))
    if fluxes and not load().get(flux_key(fingerprint)):
        blocks.append(text("no gene-permutation control recorded for the flux predictors of these masks", "missing"))
    if not blocks:
        blocks.append(text("no wired network in this run (strategy A or baselines only): nothing to test"))
    return section("wiring", "Is the wiring shown to matter?", blocks)


def _recorded_figure(recorded: dict) -> dict:
    import tempfile

    from . import plots

    rows = [
        (
            f"{label}: {kind}",
            v["pearson_r"]["real"],
            v["pearson_r"]["null_mean"],
            v["pearson_r"]["null_sd"],
            v["pearson_r"]["p"],
        )
        for label, entry in recorded.items()
        for kind, v in entry["null_models"].items()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        plots.recorded_controls(Path(tmp) / "c.png", rows)
        png = (Path(tmp) / "c.png").read_bytes()
    return figure(
        png,
        "Dot and bar chart: for each recorded control, the random wirings' r as a bar of mean plus "
        "or minus one and two standard deviations and the real wiring's r as a red dot",
        "The recorded controls of these masks: where the real wiring's r (red) falls among random wirings "
        "trained the same way (blue: their mean ± 1 and 2 sd; the record keeps no single draws).",
    )


def training_curves(run: Run) -> dict:
    ft = _settings(run).get("finetune", {})
    loss = LOSSES.get(ft.get("loss"), ft.get("loss", "?"))
    return section(
        "curves",
        "Training curves",
        [
            png_figure(
                run.folder,
                "training_curves.png",
                f"Line plots of the training loss against the step for every fold's fit (fine-tuning loss: {loss})",
                f"Every fit's loss step by step: pre-training (sum of squared reconstruction errors), where the run "
                f"pre-trained, and fine-tuning ({loss}).",
            )
        ],
    )


def genes(run: Run) -> dict:
    from ..runs.links import gene_table, run_link_table

    note = text(
        "A weight is what one fitted network leaned on, not by itself biology: correlated genes share or "
        "swap weight, and the wiring's genes are not shown to beat random ones unless the wiring section "
        "says so. Sign agreement over folds and the null percentile say how stable and how unusual a weight "
        "is.",
        "note",
    )
    try:
        table_ = gene_table(run_link_table(run.folder))
    except (ValueError, FileNotFoundError, KeyError, OSError) as e:
        return section("genes", "The genes", [text(f"no gene table: {e}", "missing")])
    weight_cols = [c for c in table_ if c.startswith("sum_abs_weight")]
    same_cols = [c for c in table_ if c.startswith("folds_same_sign")]
    null_cols = [c for c in table_ if c.startswith("null_percentile_strongest_link_")]
    head = ["gene", "name", "links", *weight_cols, *same_cols, *null_cols]
    rows = []
    for i in range(min(TOP_GENES, len(table_["gene"]))):
        cells = [table_["gene"][i], table_["gene_name"][i], int(table_["links"][i])]
        cells += [f"{float(table_[c][i]):.4g}" for c in weight_cols]
        cells += [number(float(table_[c][i]), "pearson_r") for c in same_cols]
        cells += [f"{float(table_[c][i]):.0f}" if np.isfinite(float(table_[c][i])) else "–" for c in null_cols]
        rows.append(row(cells))
    return section(
        "genes",
        "The genes",
        [
            text(
                f"The {len(rows)} genes with the largest summed |weight| over their links (mean over the folds' "
                f"networks), of {len(table_['gene'])}; `sparsenet links {run.folder}` writes them all."
            ),
            table(head, rows, numeric=range(2, len(head)), name="genes"),
            note,
        ],
    )


# ---------------------------------------------------------------- control, flux control, curve, robustness
def null_table(entry_by_name: dict, col: str, name: str, label: str) -> dict:
    rows = []
    for kind, entry in entry_by_name.items():
        for m in METRICS:
            e = entry["phenotypes"][col].get(m)
            if not e:
                continue
            rows.append(
                row(
                    [
                        kind,
                        WORDS[m],
                        cell(number(e["real"], m), m),
                        cell(f"{number(e['null_mean'], m)} ± {number(e['null_sd'], m)}"),
                        "–" if e["rank"] is None else f"{e['rank']} of {e['draws'] + 1}",
                        "–" if e["p"] is None else f"{e['p']:.3f}",
                    ],
                    model=kind,
                )
            )
    return table(
        [label, "metric", "real", "null mean ± sd", "rank", "empirical p"],
        rows,
        numeric=(2, 3, 5),
        name=name,
        caption="p = (1 + draws at least as good) / (draws + 1); rank 1: better than every draw",
    )


def control_sections(run: Run) -> list:
    from ..stats.nulls import verdict

    summary = run.report["control"]
    col = next(iter(next(iter(summary["null_models"].values()))["phenotypes"]))
    blocks = [
        text(
            f"{col}, {summary['scheme']} CV, network seeds {summary['network_seeds']}: the real wiring "
            f"({summary['strategy']}) against randomised wirings trained the same way."
        )
    ]
    blocks += [text(f"{kind}: {verdict(e, col)}", "note") for kind, e in summary["null_models"].items()]
    blocks.append(null_table(summary["null_models"], col, "control", "null model"))
    blocks.append(
        png_figure(
            run.folder,
            "control.png",
            "Histograms of each null model's r, % within 20 % and RMSE over its draws, the real "
            "wiring's value marked by a line",
            "Each null model's distribution over its draws; the "
            "line: the real wiring; the baselines on the same folds are named beside it.",
        )
    )
    return [section("control", "The wiring against its nulls", blocks), accuracy(run)]


def flux_sections(run: Run) -> list:
    summary = run.report["flux_control"]
    col = next(iter(next(iter(summary["predictors"].values()))["phenotypes"]))
    blocks = [
        text(
            f"{col}, {summary['scheme']} CV (seed {summary['seed']}): each flux predictor with the real gene "
            f"labels against {summary['draws']} permutations of them (the gene -> reaction mapping made "
            "random before the gene-protein-reaction rules read the data)."
        )
    ]
    blocks.append(null_table(summary["predictors"], col, "flux-control", "predictor"))
    blocks.append(
        png_figure(
            run.folder,
            "control.png",
            "Strip plots of each flux predictor's r, % within 20 % and "
            "RMSE over the permuted draws, the real labels' value marked by a line",
            "Each predictor's distribution over the permutations; the line: the real gene labels.",
        )
    )
    return [section("control", "The flux predictors against their null", blocks)]


def curve_sections(run: Run) -> list:
    summary = run.report["curve"]
    col = next(iter(run.report.get("data", {}).get("phenotype_columns", {})), None)
    blocks = [
        png_figure(
            run.folder,
            "curve.png",
            "Line plots of r, % within 20 % and RMSE against the number of "
            "labelled training samples, one line per model with a band of one sd over draws",
            "Each metric against the labelled samples per fit; bands: one sd over draws",
        )
    ]
    rows = []
    for model, by_count in summary.get("models", {}).items():
        for key, v in by_count.items():
            phen = v.get(col) if col and isinstance(v, dict) and col in v else v
            r = phen.get("pearson_r", {}) if isinstance(phen, dict) else {}
            if isinstance(r, dict) and "mean" in r:
                rows.append(
                    row(
                        [
                            model,
                            key,
                            cell(f"{number(r['mean'], 'pearson_r')} ± {number(r.get('sd'), 'pearson_r')}", "pearson_r"),
                        ],
                        model=model,
                    )
                )
    if rows:
        blocks.append(table(["model", "labelled samples (drawn by)", "r mean ± sd"], rows, numeric=(2,), name="curve"))
    return [section("curve", "Learning curve", blocks)]


def robustness_sections(run: Run) -> list:
    r = run.report
    rows = [
        row(
            [
                "clean",
                "0",
                cell(number(r["clean"]["pearson_r"], "pearson_r"), "pearson_r"),
                cell(number(r["clean"]["within_20_percent"], "within_20_percent"), "within_20_percent"),
                cell(number(r["clean"]["rmse"], "rmse"), "rmse"),
            ],
            model="clean",
        )
    ]
    for n in r.get("noisy", []):
        rows.append(
            row(
                [
                    n["where"],
                    f"{n['percent']:g}",
                    cell(number(n["pearson_r"], "pearson_r"), "pearson_r"),
                    cell(number(n["within_20_percent"], "within_20_percent"), "within_20_percent"),
                    cell(number(n["rmse"], "rmse"), "rmse"),
                ],
                model=f"{n['where']}-{n['percent']:g}",
            )
        )
    return [
        section(
            "robustness",
            "Accuracy under noise",
            [
                table(
                    ["noise in", "p %", "r", "% within 20 %", "RMSE"],
                    rows,
                    numeric=(1, 2, 3, 4),
                    name="robustness",
                    caption=f"{r.get('phenotype', '')}: p % noise on p % of samples",
                ),
                png_figure(
                    run.folder,
                    "robustness.png",
                    "Line plots of r, % within 20 % and RMSE against the noise level",
                    "Each metric against the noise level; dashed: the clean run",
                ),
            ],
        )
    ]


# ---------------------------------------------------------------- the page
TITLES = {
    "train": "sparsenet train",
    "control": "sparsenet control",
    "curve": "sparsenet curve",
    "classify": "sparsenet classify",
    "robustness": "sparsenet robustness",
    "flux": "sparsenet control --predictor flux",
}


def answer(run: Run) -> dict:
    """The answer first (as MultiQC's general statistics open its report): per phenotype the network beside the
    best baseline on the same folds and their paired difference; whether the wiring is shown to matter, and on
    whose control; the intervals' coverage and their worst project; how many data warnings."""
    from .evidence import load, wiring_key, wiring_statement

    r = run.report
    results = r.get("results", {})
    rows = []
    comps = [c for c in r.get("comparisons", []) if kind_of(c["against"]) == "baseline"]
    columns = list(next(iter(results.values()))["phenotypes"]) if results else []
    for col in columns:
        mine = [c for c in comps if c["phenotype"] == col]
        nets = [k for k in results if kind_of(k) != "baseline"]
        if not nets:
            continue
        key = report_key(mine[0]["scheme"], mine[0]["model"]) if mine else nets[0]
        over = results[key]["over_seeds"][col]
        words = ", ".join(
            f"{WORDS[m]} {number(over[m]['mean'], m)}" for m in ("pearson_r", "within_20_percent", "rmse")
        )
        verdict = "no baseline on these folds"
        if mine:
            c = mine[0]
            base = results[report_key(c["scheme"], c["against"])]["over_seeds"][col]
            d = c["pearson_r"]
            verdict = (
                f"best baseline {model_words(c['against'])}: r {number(base['pearson_r']['mean'], 'pearson_r')}"
                f", % within 20 % {number(base['within_20_percent']['mean'], 'within_20_percent')}; "
                f"paired Δr {d['difference_mean']:+.3f} ± {d['difference_sd']:.3f} ({d['verdict']})"
            )
        scheme, model = split_key(key)
        rows.append(row([col, cell(f"{model_words(model)}, {scheme} CV: {words}"), cell(verdict)]))
    blocks = [
        table(["phenotype", "network (held-out)", "against the best baseline"], rows, name="answer")
        if rows
        else text("no network in this run", "missing")
    ]
    fingerprint = (r.get("masks") or {}).get("fingerprint")
    s = _settings(run)
    if fingerprint and any(x in ("B", "C") for x in s.get("strategies", [])):
        said = wiring_statement(fingerprint, wiring=s.get("wiring"))
        labels = list(load().get(wiring_key(fingerprint, s.get("wiring")), {}))
        where = (
            f" [recorded control(s) of these masks: {'; '.join(labels)}; none was run in this run]" if labels else ""
        )
        blocks.append(text(said + where, "note"))
    for col, c in ((r.get("intervals") or {}).get("phenotypes") or {}).items():
        worst = min(c.get("per_group", {}).items(), key=lambda kv: kv[1]["inside"], default=None)
        blocks.append(
            text(
                f"intervals ({col}): {100 * c['coverage']:.0f} % of held-out samples inside their "
                f"{100 * c['level']:g} % interval"
                + (
                    f"; worst project {worst[0]}: {100 * worst[1]['inside']:.0f} % of {worst[1]['samples']}"
                    if worst
                    else ""
                )
            )
        )
    n = len(((r.get("data") or {}).get("checks") or {}).get("warnings", []))
    blocks.append(
        link(f"{n} data warning(s)." if n else "no data warnings.", "Data checks", "checks", "warn" if n else "ok")
    )
    return section("answer", "The answer", blocks)


def page_sections(run: Run) -> list:
    if run.kind == "classify":
        return classify_sections(run) + [files_written(run)]
    head = [what_was_run(run), data_checks(run)]
    if run.kind == "train":  # the answer and the accuracy first; what was run and its data checks after
        return [answer(run), accuracy(run), wiring(run), *head, training_curves(run), genes(run), files_written(run)]
    if run.kind == "control":
        body = control_sections(run)
    elif run.kind == "flux":
        body = flux_sections(run)
    elif run.kind == "curve":
        body = curve_sections(run)
    else:
        body = robustness_sections(run)
    return head + body + [files_written(run)]


def render(run: Run, sections: list | None = None) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sparsenet.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    if run.kind == "classify":
        res = run.report["result"]
        lead = (
            f"{res['samples']} samples of {run.report.get('data', '?')} in classes "
            f"{', '.join(map(str, res['classes']))}; {run.report_file} in {run.folder.name}"
        )
    else:
        data = run.report.get("data", {})
        lead = (
            f"{data.get('labelled_samples', '?')} labelled samples of {data.get('expression_file', '?')}; "
            f"{run.report_file} in {run.folder.name}"
        )
    return env.get_template("report.html.j2").render(
        title=f"{TITLES[run.kind]}: {run.folder.name}",
        lead=lead,
        sections=sections or page_sections(run),
        version=__version__,
        written=f"{datetime.datetime.now():%Y-%m-%d %H:%M}",
        folder=str(run.folder),
    )


@dataclass(frozen=True)
class Page:
    """The page written, and a line for each section or figure the run folder's files did not allow."""

    path: Path
    missing: list


def write_html(folder, report: dict | None = None, name: str = "report.json") -> Page:
    """Write ``folder``/report.html from the run's report (``report``: the one just written as ``name``, taken
    from memory; else read from the folder, as ``sparsenet report`` does) and the folder's results files."""
    run = read_run(folder) if report is None else run_of(folder, report, name)
    sections = page_sections(run)
    path = run.folder / "report.html"
    write_text(path, render(run, sections))
    missing = [
        f"{s['title']}: {b['text']}"
        for s in sections
        for b in s["blocks"]
        if b.get("kind") == "text" and b.get("style") == "missing"
    ]
    return Page(path, missing)


# ---------------------------------------------------------------- classify
CLASS_WORDS = {"roc_auc": "ROC AUC", "balanced_accuracy": "balanced accuracy", "log_loss": "log loss", "brier": "Brier"}


def classify_sections(run: Run) -> list:
    """A classify run: what was run, accuracy beside the baselines, ROC and calibration, the wiring's control,
    the pathways."""
    from . import plots

    r = run.report
    res, prov = r["result"], r.get("provenance", {})
    st = res.get("settings", {})
    tr = st.get("training", {})
    h = r.get("hierarchy", {})
    rows = [
        row(["command", prov.get("command") or "not recorded (run from Python)"]),
        row(["sparsenet", f"{prov.get('version', 'not recorded')}; page written by {__version__}"]),
        row(
            [
                "data",
                f"{r.get('data')}: {res['samples']} samples, classes "
                + ", ".join(f"{c} ({n})" for c, n in zip(res["classes"], res["class_counts"], strict=True)),
            ]
        ),
        row(
            [
                "wiring",
                f"{h.get('source') or h.get('annotations_file', '–')}: {h.get('levels', '?')} levels over "
                f"{h.get('features_linked', '?')} of {h.get('features', '?')} features",
            ]
        ),
        row(
            [
                "network",
                f"{tr.get('activation')} levels, dropout {tr.get('dropout')}, {tr.get('epochs')} epochs of "
                f"batches of {tr.get('batch_size')}, learning rate {tr.get('learning_rate')}, weight decay "
                f"{tr.get('weight_decay')}, "
                f"{'a read-out after every level, summed' if tr.get('heads') else 'one read-out'}, "
                f"{st.get('ensemble')} network(s) per fold",
            ]
        ),
        row(["folds", f"stratified {st.get('folds')}-fold x {st.get('repeats')}, seed {st.get('seed')}"]),
    ]
    notes = [text(n, "note") for n in r.get("notes", [])]
    ran = section("run", "What was run", [table([], rows, name="run"), *notes])
    head = ["model", *CLASS_WORDS.values()]
    acc_rows = [
        row(
            [name, *(cell(f"{m[k]['mean']:.3f} ± {m[k]['sd']:.3f}", k) for k in CLASS_WORDS)],
            "network" if name == "network" else "",
        )
        for name, m in res["models"].items()
    ]
    secs = res["network_seconds_per_fit"]
    blocks = [
        table(
            head,
            acc_rows,
            numeric=range(1, 5),
            name="accuracy:classes",
            caption="held-out, mean ± sd over folds; the same folds for every model",
        ),
        text(f"network: {secs['median']:.3f} s a fit (median of {secs['fits']})"),
    ]
    others = [m["roc_auc"]["mean"] for n, m in res["models"].items() if n not in ("network", "majority")]
    if others and min(others + [res["models"]["network"]["roc_auc"]["mean"]]) > 0.97:
        blocks.append(
            text("Every model scores ROC AUC above 0.97: a task at the ceiling cannot tell wirings apart.", "warn")
        )
    wiring = r.get("wiring")
    if wiring:  # this run's control, a recorded one (said as such), or none
        blocks.append(text(wiring["text"], "" if wiring["source"] == "this run" else "note"))
    accuracy_section = section("accuracy", "Accuracy beside the baselines", blocks)
    first = [i for i, _ in enumerate(res["folds"])][: st.get("folds", len(res["folds"]))]
    codes = np.asarray(res.get("codes", []))
    figures = []
    if codes.size:
        test = np.concatenate([res["folds"][i][1] for i in first])
        proba = np.concatenate([res["held_out_probabilities"][i] for i in first])
        png = run.folder / "roc_calibration.png"
        plots.roc_and_calibration(png, codes[test], proba, res["classes"])
        figures.append(
            figure(
                png.read_bytes(),
                "ROC curve and calibration of the held-out predictions",
                "the network's held-out predictions of the first repeat, each sample once",
            )
        )
    else:
        figures.append(text("the held-out classes are not in this record (written by an older sparsenet)", "missing"))
    out = [ran, accuracy_section, section("roc", "ROC curve and calibration", figures)]
    control = r.get("control")
    if control:
        ctl_rows = [
            row(
                [
                    kind,
                    *(cell(f"{e[m]['real']:.3f}", m) for m in ("roc_auc",)),
                    f"{e['roc_auc']['null_mean']:.3f} ± {e['roc_auc']['null_sd']:.3f}",
                    f"{e['roc_auc']['rank']} of {e['roc_auc']['draws'] + 1}",
                    f"{e['roc_auc']['p']:.3f}",
                    f"{e['log_loss']['p']:.3f}",
                ]
            )
            for kind, e in control["null_models"].items()
        ]
        png = run.folder / "classify_control.png"
        plots.class_control(
            png,
            control,
            {n: m["roc_auc"]["mean"] for n, m in res["models"].items() if n not in ("network", "majority")},
        )
        out.append(
            section(
                "wiring",
                "Does the wiring matter?",
                [
                    text(
                        f"{control['draws']} random wirings per null model, trained as the real one on the same folds; "
                        "p = (1 + draws at least as good) / (draws + 1)"
                    ),
                    table(
                        ["null model", "real ROC AUC", "null ROC AUC", "rank", "p (AUC)", "p (log loss)"],
                        ctl_rows,
                        numeric=range(1, 6),
                        name="control:classes",
                    ),
                    figure(
                        png.read_bytes(),
                        "each null model's draws of ROC AUC and the real wiring",
                        "points: random wirings; red: the real wiring; grey: the baselines on the same folds",
                    ),
                ],
            )
        )
    curve = r.get("curve")
    if curve:
        png = run.folder / "classify_curve.png"
        plots.class_curve(png, curve)
        rows = [
            row(
                [
                    n,
                    f"{curve['models']['network'][n]['samples']:.0f}",
                    *(
                        f"{curve['models'][m][n]['roc_auc_mean']:.3f} ± {curve['models'][m][n]['roc_auc_sd'] or 0:.3f}"
                        if curve["models"][m][n]["roc_auc_mean"] is not None
                        else "–"
                        for m in ("network", "logistic_all")
                    ),
                ]
            )
            for n in curve["labels"]
        ]
        out.append(
            section(
                "curve",
                "Accuracy against labelled samples",
                [
                    text(
                        f"each fold's training samples cut to N (stratified, {curve['draws']} draws; 'all': the "
                        "whole fold), the network and logistic regression on all features fitted on them and scored "
                        "on the whole held-out fold: does the wiring pay where labels are few?"
                    ),
                    table(
                        ["N", "samples (mean)", "network ROC AUC", "logistic ROC AUC"],
                        rows,
                        numeric=(1, 2, 3),
                        name="curve:classes",
                    ),
                    figure(
                        png.read_bytes(),
                        "Line chart of held-out ROC AUC against the number of labelled training samples "
                        "for the network and logistic regression, bands of one sd",
                        "held-out ROC AUC against labelled training samples (log scale)",
                    ),
                ],
            )
        )
    nodes = r.get("top_nodes") or []
    if nodes:
        kinds = [k for k in nodes[0] if k.startswith("percentile_")]
        node_rows = [
            row([n["level"], n["node"], n["name"], f"{n['importance']:.4f}", *(f"{n[k]:.0f}" for k in kinds)])
            for n in nodes
        ]
        out.append(
            section(
                "pathways",
                "Which pathways",
                [
                    text(
                        "importance: mean |activation x gradient| over held-out samples and folds; percentile: "
                        "among the same node's importance in each null model's draws (no correction for the many "
                        "nodes: a ranking, not a list of discoveries)"
                    ),
                    table(
                        ["level", "node", "name", "importance", *(k.removeprefix("percentile_") for k in kinds)],
                        node_rows,
                        numeric=range(3, 4 + len(kinds)),
                        name="pathways",
                    ),
                ],
            )
        )
    return out
