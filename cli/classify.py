"""``sparsenet classify``: a pathway-wired classifier cross-validated beside its baselines, and (with
``--control N``) its wiring against N randomised wirings per null model. Parses and prints; the study is
``sparsenet.studies.classification``."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import UserError, check_output_folder, command_line, flag

EXAMPLES = ("binn",)


def classify(
    data: Path | None = typer.Argument(
        None, help="data table: features as rows with IDs in the first column (as BINN's), or see --samples-as-rows"
    ),
    design: Path | None = typer.Option(None, "--design", help="sample -> class table (CSV/TSV)"),
    hierarchy: Path | None = typer.Option(
        None, "--hierarchy", help="the network's wiring: a file from sparsenet masks hierarchy"
    ),
    example: str | None = typer.Option(
        None,
        "--example",
        help="binn: BINN's own example (554 plasma "
        "proteins x 197 samples, shipped) on the 4-level Reactome "
        "hierarchy of BINN's README",
    ),
    sample_column: str = typer.Option("sample", help="the design's sample-ID column"),
    label_column: str = typer.Option("group", help="the design's class column"),
    merge: str | None = typer.Option(
        None, "--merge", help="NEW=OLD1,OLD2[;NEW2=...]: labels read as one class (e.g. 'evolved=Endpoint,Midpoint')"
    ),
    group_by: str | None = typer.Option(
        None, "--group-by", help="a design column whose groups stay on one side of every split (stratified group folds)"
    ),
    samples_as_rows: bool = flag("--samples-as-rows", help="the data table has samples as rows"),
    missing: str = typer.Option("zero", help="missing values: zero (as BINN) or mean (the feature's mean)"),
    folds: int = typer.Option(5, min=2, help="folds of the stratified cross-validation"),
    repeats: int = typer.Option(3, min=1, help="repeats of it, each with a new shuffle"),
    seed: int = typer.Option(0, min=0, help="seed of the folds, networks and null draws"),
    ensemble: int = typer.Option(1, min=1, help="networks averaged per fold"),
    epochs: int = typer.Option(100, min=1, help="passes over the training samples"),
    batch: int = typer.Option(32, min=1, help="samples per Adam step"),
    lr: float = typer.Option(1e-2, min=0, help="Adam's learning rate"),
    dropout: float = typer.Option(0.2, min=0, max=0.99, help="share dropped after each level in training"),
    l2: float = typer.Option(1e-3, min=0, help="weight decay (AdamW's decoupled L2)"),
    heads: bool = flag(
        "--heads", help="a read-out after every level, their logits summed (P-NET's and BINN's ensemble of heads)"
    ),
    baselines: str = typer.Option(
        "logistic_all,logistic_wiring,forest,majority", help="baselines on the same folds ('none': no baseline)"
    ),
    control: int = typer.Option(0, "--control", min=0, help="draws per null model (>= 50 for a claim); 0: no control"),
    null_models: str = typer.Option("genes,edges,density", "--null-models", help="null models of the control"),
    stack: int = typer.Option(
        1,
        "--stack",
        min=1,
        help="train this many null draws at once as one stacked "
        "network (the same gradients and batch order; dropout drops other entries; "
        "most useful on a GPU)",
    ),
    curve: str | None = typer.Option(
        None,
        "--curve",
        help="a learning curve: label counts per fit, e.g. 20,40,80,all (each fold's training samples cut to N)",
    ),
    curve_draws: int = typer.Option(3, "--curve-draws", min=1, help="subsets drawn per count and fold"),
    device: str = typer.Option("cpu", help="cpu, gpu or auto"),
    final_model: bool = typer.Option(
        True,
        "--final-model/--no-final-model",
        help="also train the final model on every sample (classifier.h5, for sparsenet predict)",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="folder for classification.json and importance.csv"),
):
    """Cross-validate a pathway-wired classifier (BINN / P-NET shape) beside its baselines on the same folds,
    and hold its wiring against randomised wirings (--control)."""
    from sparsenet.allowed import one_of
    from sparsenet.backend import resolve_device
    from sparsenet.config.choices import parse_labels
    from sparsenet.data.labelled import binn_example, read_labelled
    from sparsenet.masks.hierarchy import read_hierarchy
    from sparsenet.studies import classification as study
    from sparsenet.training.pathway_network import PathwayTraining

    check_output_folder(out)
    chosen = tuple(b for b in baselines.split(",") if b and b != "none")
    settings = study.ClassificationSettings(  # refuses a value before any data is read
        folds,
        repeats,
        seed,
        ensemble,
        PathwayTraining("tanh", dropout, epochs, batch, lr, l2, resolve_device(device), heads=heads),
        chosen,
        stack,
    )
    kinds = tuple(k for k in null_models.split(",") if k)
    labels = tuple(parse_labels(curve)) if curve else None  # checked before any work
    if example is not None:
        one_of("--example", example, EXAMPLES)
        if data or design or hierarchy:
            raise UserError("--example brings its own data, design and hierarchy; drop DATA, --design and --hierarchy")
        from sparsenet.masks.reactome import reactome_hierarchy

        table = binn_example(missing)
        h = reactome_hierarchy(table.feature_ids, 4, progress=typer.echo)
    else:
        if data is None or design is None or hierarchy is None:
            raise UserError("give DATA, --design and --hierarchy (or --example binn)")
        table = read_labelled(
            data, design, sample_column, label_column, group_by, samples_as_rows, missing, _merge(merge)
        )
        h = read_hierarchy(hierarchy).restricted_to(table.feature_ids)
    for note in table.notes:
        typer.echo(f"note: {note}")
    typer.echo(
        f"{table.X.shape[0]} samples x {table.X.shape[1]} features; wiring "
        f"{' -> '.join(map(str, h.level_sizes()))}"
        f" nodes; {folds}-fold x {repeats} stratified{' by ' + group_by if group_by else ''}"
    )
    done = study.classify(
        table,
        h,
        settings,
        out,
        null_models=kinds,
        draws=control,
        final_model=final_model,
        curve=labels,
        curve_draws=curve_draws,
        data_label=str(data) if data else f"example {example}",
        command=command_line(),
        progress=typer.echo,
    )
    record = done.record
    typer.echo(summary_table(record["result"], record.get("control")))
    if "curve" in record:
        c = record["curve"]
        typer.echo("learning curve (held-out ROC AUC, mean over folds and draws):")
        for n in c["labels"]:
            cells = [
                f"{m} {c['models'][m][n]['roc_auc_mean']:.3f}"
                for m in c["models"]
                if c["models"][m][n]["roc_auc_mean"] is not None
            ]
            typer.echo(f"  N = {n:>4} ({c['models']['network'][n]['samples']:.0f} samples): {', '.join(cells)}")
    typer.echo(record["wiring"]["text"])
    typer.echo(
        f"wrote {', '.join(str(out / name) for name in record['files'] if (out / name).exists())} in "
        f"{done.seconds:.0f} s"
    )


def _merge(text):
    """--merge's 'NEW=OLD1,OLD2;NEW2=OLD3' as {NEW: [OLD1, OLD2], ...}."""
    if not text:
        return None
    out = {}
    for part in text.split(";"):
        new, _, olds = part.partition("=")
        labels = [o.strip() for o in olds.split(",") if o.strip()]
        if not new.strip() or not labels:
            raise UserError(f"--merge {text!r}: write NEW=OLD1,OLD2 (several joined by ';')")
        out[new.strip()] = labels
    return out


def summary_table(result, control=None) -> str:
    """The models' held-out scores (mean +- sd over folds), then each null model's verdict."""
    from sparsenet.studies.classification import BASELINE_WORDS

    lines = [f"{'model':16} {'ROC AUC':>15} {'bal. accuracy':>15} {'log loss':>15} {'Brier':>15}"]
    for name, m in result["models"].items():
        cells = [
            f"{m[k]['mean']:.3f} ± {m[k]['sd']:.3f}" for k in ("roc_auc", "balanced_accuracy", "log_loss", "brier")
        ]
        lines.append(f"{name:16} " + " ".join(f"{c:>15}" for c in cells))
    s = result["network_seconds_per_fit"]
    lines.append(f"network: {s['median']:.3f} s a fit (median of {s['fits']})")
    lines += [f"  {name}: {BASELINE_WORDS[name]}" for name in result["models"] if name in BASELINE_WORDS]
    if control:
        lines.append(f"wiring control, {control['draws']} draws per null model (mean ROC AUC over the same folds):")
        for kind, e in control["null_models"].items():
            a = e["roc_auc"]
            lines.append(
                f"  {kind:8} real {a['real']:.3f} vs null {a['null_mean']:.3f} ± {a['null_sd']:.3f}, rank "
                f"{a['rank']} of {a['draws'] + 1}, p = {a['p']:.3f}"
            )
        aucs = [m["roc_auc"]["mean"] for m in result["models"].values()]
        if min(a for n, a in zip(result["models"], aucs, strict=True) if n != "majority") > 0.97:
            lines.append("  every model scores ROC AUC > 0.97: a task at the ceiling cannot tell wirings apart")
    return "\n".join(lines)
