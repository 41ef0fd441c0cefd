"""DeepMetabolism commands: train, predict, links, robustness, data spline.

Every input is read and checked before any output exists; outputs are written atomically.
"""
from __future__ import annotations

import dataclasses
import datetime
import io
import csv
import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from .common import UserError, check_output_folder, flag
from sparsenet.atomic import write_json, write_text

# ---------------------------------------------------------------- shared options
EXPRESSION = typer.Option(None, "--expression", help="expression file: CSV/TSV (either orientation), HDF5 or .h5ad "
                          "(default: PRECISE log_tpm.csv from pymodulon 0.2.1, fetched once)", rich_help_panel='Your data')
PHENOTYPES = typer.Option(None, "--phenotypes", help="phenotype table by sample ID (default: PRECISE sample_table.csv)", rich_help_panel='Your data')
REFERENCE = typer.Option(None, "--reference", help="comma-separated reference sample IDs: the values are log2 levels "
                         "and become log2 fold changes against their mean (PRECISE default: control__wt_glc__1,2; "
                         "'none': values are already log2 fold changes)", rich_help_panel='Your data')
ORIENTATION = typer.Option("auto", "--orientation", help="auto, genes-by-samples or samples-by-genes (text tables)", rich_help_panel='Your data')
PHENOTYPE = typer.Option(None, "--phenotype", help="phenotype column to fine-tune on (repeatable; default: every "
                         "column that maps; PRECISE: 'Growth Rate (1/hr)')", rich_help_panel='Your data')
MAP = typer.Option(None, "--map", help="'COLUMN=REACTION_ID': map a phenotype column to a phenotype reaction (repeatable)", rich_help_panel='Your data')
SAMPLE_COLUMN = typer.Option(None, "--sample-column", help="sample ID column of the phenotype table (default: the first)", rich_help_panel='Your data')
KEEP_ZERO = flag("--keep-zero", help="keep observations of exactly 0 (default: treated as missing)", rich_help_panel='Your data')
PRETRAIN_DATA = typer.Option(None, "--pretrain-data", help="separate expression file for pre-training (HDF5 streams)", rich_help_panel='Your data')
MASKS = typer.Option(None, "--masks", help="masks file (default: the shipped iJO1366 masks)")
WIRING = typer.Option("masks", "--wiring", help="masks: the masks file's wiring; ica: each fit wired to the "
                      "independent components (iModulons) of its own pre-training pool over the masks' genes "
                      "(held-out profiles never seen)")
ICA_COMPONENTS = typer.Option(50, "--ica-components", help="components of --wiring ica (those with 3 or more genes "
                              "become nodes)")
NA_VALUES = typer.Option(None, "--na-values", help="comma-separated cell texts read as missing, 'empty' for an "
                         "empty cell (default: empty,NA,NaN,nan,n.d.)", rich_help_panel='Your data')
GENE_IDS = typer.Option("auto", "--gene-ids", help="how the expression file names genes: auto (a model gene ID, "
                        "else a gene symbol such as thrA, any letter case), id or symbol; the data summary says how "
                        "many mapped each way", rich_help_panel='Your data')
DUPLICATES = typer.Option("mean", "--duplicates", help="several rows of one gene: mean (averaged), first (the first "
                          "kept) or error; all are named in one warning", rich_help_panel='Your data')
STRICT = flag("--strict", help="stop at the first data warning (unmatched sample IDs, genes that "
                      "look misspelled, levels given as fold changes, few model genes) instead of going on", rich_help_panel='Your data')
from sparsenet.evaluation.config import PRESETS  # noqa: E402  (the help texts quote them)


def _presets_say(key, fmt="{}"):
    """'the preset's: VALUE; paper VALUE' for an option's help."""
    return f"the preset's: {fmt.format(PRESETS['default'][key])}; paper {fmt.format(PRESETS['paper'][key])}"


STRATEGY = typer.Option(None, "--strategy", help="A, B, C or a comma list (A,B,C or all): same data, same folds "
                        f"(default: {_presets_say('strategy')})")
CV = typer.Option("grouped", "--cv", help="grouped, kfold, lopo (leave one group out), a comma list, or both "
                  "(grouped,kfold)")
FOLDS = typer.Option(10, "--folds", min=2, help="number of folds")
GROUP_BY = typer.Option("project", "--group-by", help="phenotype-table column whose groups stay in one fold")
SEED = typer.Option(0, "--seed", help="same seed, same numbers (CPU)")
DEVICE = typer.Option("auto", "--device", help="cpu, gpu or auto")
PRETRAIN_SAMPLES = typer.Option(1_000_000, "--pretrain-samples", min=1, help="samples streamed in pre-training "
                                "(paper: 2,500,000)", rich_help_panel='Network settings over the preset')
BATCH = typer.Option(5000, "--batch", min=1, help="pre-training batch size (paper: 5,000)", rich_help_panel='Network settings over the preset')
PRETRAIN_LR = typer.Option(None, "--pretrain-lr", help="Adam learning rate, pre-training (default: the preset's)", rich_help_panel='Network settings over the preset')
PRESET = typer.Option("default", "--preset", help="'default': inputs standardised per gene on the training samples, "
                      "a linear decoder (it reconstructs), a read-out of every phenotype node, squared error with an "
                      "L2 penalty from a small start, 5 networks averaged; 'paper': the paper's "
                      "DeepMetabolism (raw inputs, softplus decoder, the target's own node)")
INPUTS = typer.Option(None, "--inputs", help="raw, centre or standardise per gene, fitted on each fold's training "
                      "samples (default: the preset's)", rich_help_panel='Network settings over the preset')
DECODER = typer.Option(None, "--decoder", help="softplus (paper) or linear (default: the preset's)", rich_help_panel='Network settings over the preset')
HEAD = typer.Option(None, "--head", help="node (paper: the target's phenotype node) or readout (a linear read-out "
                    "of every phenotype node) (default: the preset's)", rich_help_panel='Network settings over the preset')
LOSS = typer.Option(None, "--loss", help="fine-tuning loss: relative (paper: sum |(y - yhat)/y|) or squared "
                    "(sum ((y - yhat)/mean y)^2) (default: the preset's)", rich_help_panel='Network settings over the preset')
L2 = typer.Option(None, "--l2", help="penalty l2 * |p|^2 / 2 on every fine-tuned parameter, per observation, or "
                  "'auto': chosen per fit by inner grouped CV of its training samples along "
                  "1, 0.3, 0.1, 0.03, 0.01, 0.003 with warm starts "
                  f"(default: {_presets_say('l2', '{:g}')}; chosen on seed 0's folds)", rich_help_panel='Network settings over the preset')
INIT_SCALE = typer.Option(None, "--init-scale", min=0.0, help="factor on the initial weights of layers fine-tuning "
                          f"starts afresh (default: {_presets_say('init_scale', '{:g}')})", rich_help_panel='Network settings over the preset')
WORKERS = typer.Option(0, "--workers", min=0, help="fan the fits out over a local Dask cluster of N worker processes "
                       "(default 0: serial, in this process); same numbers either way", rich_help_panel='Many machines (Dask)')
SCHEDULER = typer.Option(None, "--scheduler", help="submit the fits to a running Dask scheduler (tcp://HOST:8786): a "
                         "cluster via dask-jobqueue, one worker per GPU via dask-cuda", rich_help_panel='Many machines (Dask)')
CACHE_DIR = typer.Option(None, "--cache-dir", help="folder of cached pre-trainings (default: the run's state folder); "
                         "on shared storage, workers on other machines reuse them", rich_help_panel='Many machines (Dask)')
SEEDS = typer.Option(1, "--seeds", min=1, help="repeat every fit over N network seeds on the same folds; report "
                     "mean ± sd and paired comparisons")
BASELINES = typer.Option("all", "--baselines", help="baselines fitted on the same folds: all, none, or a comma list "
                         "of mean, ridge, ridge_linked (ridge on the genes the masks link), knn, random_forest")
EARLY_STOPPING = typer.Option(None, "--early-stopping", help="'inner': fine-tuning steps chosen by inner "
                              "cross-validation on each fold's training samples; 'none': until --tol or --max-steps "
                              "(default: the preset's)", rich_help_panel='Network settings over the preset')
ENSEMBLE = typer.Option(None, "--ensemble", min=1, help="networks per fit, from different seeds (each with its own "
                        f"pre-training); predictions are their mean (default: {_presets_say('ensemble')})", rich_help_panel='Network settings over the preset')
FINETUNE_LR = typer.Option(None, "--finetune-lr", help="Adam learning rate, fine-tuning (default: 0.01 for the "
                           "masked strategies B and C, 0.001 for the dense A, which dies at 0.01)", rich_help_panel='Network settings over the preset')
MAX_STEPS = typer.Option(None, "--max-steps", min=1, help="fine-tuning step limit, stopping earlier by --tol "
                         f"(default: {_presets_say('max_steps', '{:,}')})", rich_help_panel='Network settings over the preset')
TOL = typer.Option(1e-4, "--tol", help="fine-tuning (Adam) stops when the loss moved less than this (relative) over "
                   "100 steps", rich_help_panel='Network settings over the preset')
ANCHOR = typer.Option(None, "--anchor", help="the L2 penalty pulls toward 'zero', or toward the 'pretrained' "
                      f"weights (strategy C) (default: {_presets_say('anchor')})", rich_help_panel="Network settings over the preset")
PRETRAIN_NOISE = typer.Option(None, "--pretrain-noise", help="denoising pre-training: this fraction of each "
                              f"profile's genes set to 0 in the input (default: {_presets_say('pretrain_noise')})",
                              rich_help_panel="Network settings over the preset")
OPTIMIZER = typer.Option(None, "--optimizer", help="fine-tuning optimizer: adam, or lbfgs (L-BFGS to the optimum of "
                         f"the penalised loss) (default: {_presets_say('optimizer')})", rich_help_panel='Network settings over the preset')
TUNE = typer.Option("auto", "--tune", help="fine-tune 'phenotype' layer only, 'all' layers, 'readout' only (on the "
                    "pre-trained phenotype nodes), or 'auto' (phenotype layer after pre-training, all without)", rich_help_panel='Network settings over the preset')


def _echo(msg):
    typer.echo(msg, err=True)


def _parse_list(value, allowed, what):
    items = [v.strip() for v in value.split(",") if v.strip()]
    if value.strip().lower() == "all":
        items = list(allowed)
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise UserError(f"--{what}: {bad[0] if bad else value!r} is not one of {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def _masks(path):
    from sparsenet.masks.store import read_masks, shipped_mask_path

    return read_masks(path or shipped_mask_path("iJO1366")), str(path or shipped_mask_path("iJO1366"))


def data_spec(expression, phenotypes, reference, orientation, phenotype, mapping, sample_column, keep_zero,
              group_by, pretrain_data, na_values, gene_ids="auto", duplicates="mean"):
    """The DataSpec of the data options (the PRECISE default where files are not given)."""
    from sparsenet.data import precise
    from sparsenet.data.spec import DataSpec

    if (expression is None) != (phenotypes is None):
        raise UserError("give both --expression and --phenotypes, or neither (the PRECISE default)")
    if expression is None:
        files = precise.precise_files(progress=_echo)
        expression, phenotypes = files["log_tpm.csv"], files["sample_table.csv"]
        reference = reference if reference is not None else ",".join(precise.REFERENCE_SAMPLES)
        phenotype = phenotype or [precise.GROWTH_COLUMN]
    refs = [] if reference in (None, "", "none") else [r.strip() for r in reference.split(",") if r.strip()]
    pairs = {}
    for m in mapping or []:
        if "=" not in m:
            raise UserError(f"--map {m!r}: write it as 'COLUMN=PHENOTYPE' (a phenotype ID or name of the masks)")
        k, v = m.split("=", 1)
        pairs[k.strip()] = v.strip()
    return DataSpec(expression, phenotypes, refs, orientation, phenotype or (), pairs, sample_column, group_by or None,
                    keep_zero, pretrain_data, _na_list(na_values), gene_ids, duplicates)


def _na_list(na_values):
    from sparsenet.data.tables import NA_VALUES

    if na_values is None:
        return NA_VALUES
    return tuple("" if v.strip().lower() == "empty" else v.strip() for v in na_values.split(","))


def echo_checks(summary: dict, strict: bool) -> None:
    """The data summary's warnings, one line each; with --strict the first one stops the command."""
    warnings = summary["checks"]["warnings"] if "checks" in summary else summary.get("warnings", [])
    if strict and warnings:
        raise UserError(f"{warnings[0]} (--strict: stopped; {len(warnings)} warning{'s' if len(warnings) > 1 else ''})")
    for w in warnings:
        _echo(f"warning: {w}")


class Bars:
    """Rich progress bars on a terminal; one line per finished stage otherwise."""

    def __init__(self, n_fits):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.tty = sys.stderr.isatty()
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), transient=True,
                            disable=not self.tty)
        self.overall = self.bar.add_task("fits", total=n_fits, loss="")
        self.stage, self.label = None, None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *a):
        return self.bar.__exit__(*a)

    def __call__(self, kind, label, done, total, loss):
        text = f"{kind} {label}"
        if self.label != text:
            if self.stage is not None:
                self.bar.remove_task(self.stage)
            self.stage, self.label = self.bar.add_task(text, total=total, loss=""), text
        self.bar.update(self.stage, completed=done, total=total, loss="" if loss is None else f"loss {loss:.4g}")
        if kind == "tasks":  # fits fanned out: done / total across workers
            self.bar.update(self.overall, completed=done, total=total)
            if not self.tty and (done == total or done % max(1, total // 10) == 0):
                _echo(f"  {label}: {done}/{total} done")
            return
        if kind == "finetune" and done == total:
            self.bar.advance(self.overall)
            if not self.tty:
                _echo(f"  {label}: " + ("fitted" if loss is None else f"fine-tuned (loss {loss:.4g})"))


def _prepare_out(out: Path, resume: bool, settings: dict):
    state = out / "state"
    cfg_file = state / "config.json"
    if resume:
        if not cfg_file.exists():
            raise UserError(f"{out}: no run to resume here (no state/config.json); drop --resume")
        old = json.loads(cfg_file.read_text())
        if old != json.loads(json.dumps(settings)):
            diff = [k for k in settings if old.get(k) != json.loads(json.dumps(settings[k]))]
            raise UserError(f"{out}: started with different settings ({', '.join(diff)}); resume with the same "
                            "options or choose a fresh --out")
        return
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: already exists and is not empty; pass --resume to continue that run or choose "
                        "another --out")
    state.mkdir(parents=True, exist_ok=True)
    write_json(cfg_file, settings)


def _run_config(preset="default", device="cpu", **options):
    """The run's RunConfig: the preset with the options given over it (checked once, in the library), on the
    resolved device; a penalty over unscaled inputs is pointed out in one line."""
    from sparsenet import backend
    from sparsenet.evaluation.config import build_config

    cfg = build_config(preset, device=backend.resolve_device(device), **options)
    if cfg.finetune.l2 != "auto" and cfg.finetune.l2 > 0 and cfg.inputs != "standardise":
        _echo(f"note: --l2 {cfg.finetune.l2:g} is sized for standardised inputs; with --inputs {cfg.inputs} "
              "(values ~0.1) it can hold every weight at zero (predictions = the training mean): consider --l2 0")
    return cfg


def _load_run(command, cfg, masks_file, spec, strict, out, resume, read_out=None):
    """The masks and data of a run (the data summary and warnings echoed before anything is fitted), its
    folder, and the settings it starts with (state/config.json: what --resume compares), without the run's
    own: (dataset, folder, settings)."""
    from sparsenet.data.dataset import load_dataset
    from sparsenet.evaluation.folds import check_trainable
    from sparsenet.training.checkpoint import mask_fingerprint

    masks, masks_path = _masks(masks_file)
    ds = load_dataset(masks, spec, read_out=cfg.architecture.head == "readout" if read_out is None else read_out)
    _echo_data_summary(ds, cfg)
    echo_checks(ds.summary, strict)
    check_trainable(ds, cfg.cv, cfg.folds, spec.group_by)
    if resume and out is None:
        raise UserError(f"--resume needs the --out folder of the {command} to continue")
    out = out or Path("runs") / f"{command}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    return ds, out, {"data": ds.summary, "masks": {"file": masks_path, "fingerprint": mask_fingerprint(masks)}}


def _echo_data_summary(ds, cfg) -> None:
    """What the data gave, before any fit: genes, samples, targets, pre-training pool (C only)."""
    _echo(ds.summary["alignment"])
    _echo(ds.summary["gene_labels"])
    checks = ds.summary["checks"]
    orphans = checks["phenotype_samples_without_expression"]
    _echo(f"{ds.labelled.size} samples with phenotypes ({', '.join(f'{c} -> {t}' if c != t else c for c, t in zip(ds.target_columns, ds.targets))})"
          + (f"; {len(orphans)} phenotype rows without expression left out" if orphans else "")
          + f"; {ds.summary['missing_phenotype_cells'].split(' ')[0]} cells missing, "
          + f"zeros: {ds.summary['zero_observations']}")
    if "C" in cfg.strategies:
        _echo(f"{ds.pretrain_source.n_samples} expression profiles for pre-training (each fold without its held-out "
              "samples)")


def _files_written(files: dict) -> str:
    width = max(len(f) for f in files)
    return "\n".join(f"  {name:{width}}  {what}" for name, what in files.items())


def _summary_table(report) -> str:
    """Networks and baselines side by side (mean ± sd over seeds when there are several), then the paired
    comparisons."""
    def f(v, fmt):
        return format(v, fmt) if isinstance(v, (int, float)) else "-"

    recon = any("reconstruction_held_out" in res for res in report["results"].values())
    lines = [f"{'CV':8} {'model':22} {'phenotype':24} {'r':>13} {'within 20%':>13} {'RMSE':>13}"
             + (f" {'recon R2':>8} {'PCA R2':>7}" if recon else "")]
    for key, res in report["results"].items():
        scheme, model = key.split("/", 1)
        rec = res.get("reconstruction_held_out", {})
        for col, m in res["over_seeds"].items():
            cells = [f(m[k]["mean"], fmt) + (f"±{f(m[k]['sd'], fmt)}" if len(res["seeds"]) > 1 else "")
                     for k, fmt in (("pearson_r", ".3f"), ("within_20_percent", ".1f"), ("rmse", ".3f"))]
            lines.append(f"{scheme:8} {model:22} {col[:24]:24} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13}"
                         + (f" {f(rec.get('r2_mean'), '8.3f'):>8} {f(rec.get('pca_r2_mean'), '7.3f'):>7}" if recon
                            else ""))
    comps = report.get("comparisons", [])
    if comps:
        n = len(next(iter(report["results"].values()))["seeds"])
        lines.append(f"paired over {n} seed{'s' if n > 1 else ''} on the same folds (difference in r; in % within 20 %):")
        for c in comps:
            r, w = c["pearson_r"], c["within_20_percent"]
            lines.append(f"  {c['scheme']:8} {c['model']:>3} vs {c['against']:22} r {r['difference_mean']:+.3f}"
                         f"±{r['difference_sd']:.3f} ({r['verdict']}, better in {r['better_in']}); within 20 % "
                         f"{w['difference_mean']:+.1f}±{w['difference_sd']:.1f} ({w['verdict']})")
    return "\n".join(lines)


# ---------------------------------------------------------------- train
def train(expression: Optional[Path] = EXPRESSION, phenotypes: Optional[Path] = PHENOTYPES,
          reference: Optional[str] = REFERENCE, orientation: str = ORIENTATION,
          phenotype: Optional[List[str]] = PHENOTYPE, mapping: Optional[List[str]] = MAP,
          sample_column: Optional[str] = SAMPLE_COLUMN, keep_zero: bool = KEEP_ZERO,
          pretrain_data: Optional[Path] = PRETRAIN_DATA, masks_file: Optional[Path] = MASKS,
          wiring: str = WIRING, ica_components: int = ICA_COMPONENTS, strategy: str = STRATEGY, cv: str = CV, folds: int = FOLDS, group_by: str = GROUP_BY, seed: int = SEED,
          device: str = DEVICE, pretrain_samples: int = PRETRAIN_SAMPLES, batch: int = BATCH,
          pretrain_lr: float = PRETRAIN_LR, finetune_lr: Optional[float] = FINETUNE_LR, max_steps: Optional[int] = MAX_STEPS,
          tol: float = TOL, tune: str = TUNE, preset: str = PRESET, inputs: Optional[str] = INPUTS,
          decoder: Optional[str] = DECODER, head: Optional[str] = HEAD, loss: Optional[str] = LOSS, seeds: int = SEEDS,
          baselines: str = BASELINES, early_stopping: Optional[str] = EARLY_STOPPING, ensemble: Optional[int] = ENSEMBLE,
          l2: Optional[str] = L2, init_scale: Optional[float] = INIT_SCALE, optimizer: Optional[str] = OPTIMIZER,
          anchor: Optional[str] = ANCHOR, pretrain_noise: Optional[float] = PRETRAIN_NOISE, workers: int = WORKERS,
          scheduler: Optional[str] = SCHEDULER, cache_dir: Optional[Path] = CACHE_DIR,
          na_values: Optional[str] = NA_VALUES, gene_ids: str = GENE_IDS,
          duplicates: str = DUPLICATES, strict: bool = STRICT,
          out: Optional[Path] = typer.Option(None, "--out", help="run folder (default: runs/train-DATE-TIME)"),
          resume: bool = flag("--resume", help="continue the run in --out where it stopped")):
    """Cross-validate DeepMetabolism (default preset: strategy B, iJO1366 masks, PRECISE growth rate, grouped CV by
    project) beside baselines on the same folds, train the final model, and write report, results, plots, model
    and link weights."""
    from sparsenet.evaluation.crossval import Runner
    from sparsenet.evaluation.plan import Executor, Plan
    from sparsenet.evaluation.report import write_run

    t0 = time.perf_counter()
    if workers and scheduler:
        raise UserError("give --workers (a local cluster) or --scheduler (a running one), not both")
    cfg = _run_config(preset, device, strategy=strategy, cv=cv, folds=folds, group_by=group_by, seed=seed,
                      pretrain_samples=pretrain_samples, batch=batch, pretrain_lr=pretrain_lr, finetune_lr=finetune_lr,
                      max_steps=max_steps, tol=tol, tune=tune, inputs=inputs, decoder=decoder, head=head, loss=loss,
                      seeds=seeds, baselines=baselines, early_stopping=early_stopping, ensemble=ensemble, l2=l2,
                      init_scale=init_scale, optimizer=optimizer, anchor=anchor, pretrain_noise=pretrain_noise,
                      wiring=wiring, ica_components=ica_components)
    needs_groups = bool({"grouped", "lopo"} & set(cfg.cv))
    spec = data_spec(expression, phenotypes, reference, orientation, phenotype, mapping, sample_column, keep_zero,
                     group_by if needs_groups else None, pretrain_data, na_values, gene_ids, duplicates)
    ds, out, settings = _load_run("train", cfg, masks_file, spec, strict, out, resume)
    settings["run"] = cfg.to_dict()
    with Executor(workers, scheduler) as executor:  # connects first: a bad address writes nothing
        _prepare_out(out, resume, settings)
        _echo(f"device {cfg.device}; fits: {executor.description}")
        runner = Runner(ds, cfg, out, None, pretrain_dir=cache_dir)
        plan = Plan([runner])
        with Bars(plan.n_tasks) as bars:
            runner.progress = bars
            results, final, seconds = runner.run(executor)
    from sparsenet.evaluation.intervals import attach_to_model

    intervals = attach_to_model(out / "model.h5", ds, results, cfg) if final is not None else None
    report = write_run(out, ds, cfg, results, final, time.perf_counter() - t0,
                       {"masks": settings["masks"], "command_seconds": time.perf_counter() - t0,
                        **({"intervals": intervals} if intervals else {})})
    typer.echo(_summary_table(report))
    if intervals:
        for col, c in intervals["phenotypes"].items():
            typer.echo(f"intervals ({col}): {100 * c['coverage']:.1f} % of held-out samples inside their "
                       f"{100 * c['level']:g} % interval, each project held out in turn ({intervals['scheme']} CV "
                       f"residuals); mean width {c['mean_width']:.3g} (RMSE {c['rmse']:.3g})")
    for key, res in report["results"].items():
        for w in res.get("warnings", []):
            typer.echo(f"warning ({key}): {w}")
    if any(s in ("B", "C") for s in cfg.strategies):
        from sparsenet.evaluation.evidence import wiring_statement

        typer.echo(wiring_statement(settings["masks"]["fingerprint"], wiring=cfg.wiring))
    typer.echo(f"wall time {time.perf_counter() - t0:.0f} s. Written to {out}:")
    typer.echo(_files_written(report["files"]))


# ---------------------------------------------------------------- control
def control(expression: Optional[Path] = EXPRESSION, phenotypes: Optional[Path] = PHENOTYPES,
            reference: Optional[str] = REFERENCE, orientation: str = ORIENTATION,
            phenotype: Optional[List[str]] = PHENOTYPE, mapping: Optional[List[str]] = MAP,
            sample_column: Optional[str] = SAMPLE_COLUMN, keep_zero: bool = KEEP_ZERO,
            masks_file: Optional[Path] = MASKS, wiring: str = WIRING, ica_components: int = ICA_COMPONENTS,
            null: str = typer.Option("genes,edges", "--null", help="null models, a comma list: genes (gene labels "
                                     "permuted, topology kept), edges (links rewired, every degree kept), density "
                                     "(random links, their number kept), or all"),
            draws: int = typer.Option(50, "--draws", min=1, help="randomised wirings per null model"),
            strategy: str = typer.Option(None, "--strategy", help="B or C (default: the preset's)"),
            cv: str = typer.Option("grouped", "--cv", help="grouped, kfold or lopo (one scheme)"), folds: int = FOLDS,
            group_by: str = GROUP_BY, seed: int = typer.Option(0, "--seed", help="the folds' seed, the first network "
                                                                   "seed and the null draws' seed"),
            seeds: int = SEEDS, device: str = DEVICE, preset: str = PRESET, inputs: Optional[str] = INPUTS,
            head: Optional[str] = HEAD, loss: Optional[str] = LOSS, l2: Optional[str] = L2,
            init_scale: Optional[float] = INIT_SCALE, max_steps: Optional[int] = MAX_STEPS, tol: float = TOL,
            ensemble: Optional[int] = ENSEMBLE, optimizer: Optional[str] = OPTIMIZER,
            finetune_lr: Optional[float] = FINETUNE_LR, tune: str = TUNE, decoder: Optional[str] = DECODER,
            pretrain_samples: int = PRETRAIN_SAMPLES, batch: int = BATCH, pretrain_lr: float = PRETRAIN_LR,
            baselines: str = typer.Option("random_forest,ridge_linked", "--baselines", help="baselines on the same "
                                          "folds, beside the null (a comma list, all or none)"),
            workers: int = WORKERS, scheduler: Optional[str] = SCHEDULER, cache_dir: Optional[Path] = CACHE_DIR,
            na_values: Optional[str] = NA_VALUES, gene_ids: str = GENE_IDS,
            duplicates: str = DUPLICATES, strict: bool = STRICT,
            out: Optional[Path] = typer.Option(None, "--out", help="folder (default: runs/control-DATE-TIME)"),
            resume: bool = flag("--resume", help="continue the control in --out where it stopped")):
    """Does the wiring matter? Train the same network on N randomised copies of the masks per null model,
    with the real wiring's settings on the same folds and network seeds, and report where the real wiring
    falls in each null distribution (rank, empirical p), beside the baselines on the same folds."""
    from sparsenet.atomic import write_atomically
    from sparsenet.evaluation import control as ctl
    from sparsenet.evaluation import plots
    from sparsenet.evaluation.crossval import Runner
    from sparsenet.evaluation.plan import Executor, Plan
    from sparsenet.evaluation.report import write_run
    from sparsenet.masks.randomise import KINDS
    from sparsenet.masks.store import write_masks

    t0 = time.perf_counter()
    kinds = [k.strip() for k in (KINDS if null.strip() == "all" else null.split(",")) if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise UserError(f"--null: {bad[0] if bad else null!r} is not one of {', '.join(KINDS)}")
    cfg = _run_config(preset, device, strategy=strategy, cv=cv, folds=folds, group_by=group_by, seed=seed, seeds=seeds,
                      pretrain_samples=pretrain_samples, batch=batch, pretrain_lr=pretrain_lr, max_steps=max_steps,
                      tol=tol, inputs=inputs, head=head, loss=loss, ensemble=ensemble, l2=l2, init_scale=init_scale,
                      optimizer=optimizer, finetune_lr=finetune_lr, tune=tune, decoder=decoder, baselines=baselines,
                      final_model=False, wiring=wiring, ica_components=ica_components)
    if len(cfg.strategies) != 1 or cfg.strategies[0] not in ("B", "C") or len(cfg.cv) != 1:
        raise UserError("control: one strategy (B or C: a wiring to randomise) and one --cv scheme")
    cfg.nulls = {"kinds": kinds, "draws": draws, "seed": seed}
    spec = data_spec(expression, phenotypes, reference, orientation, phenotype, mapping, sample_column, keep_zero,
                     group_by if cfg.cv[0] in ("grouped", "lopo") else None, None, na_values, gene_ids, duplicates)
    ds, out, settings = _load_run("control", cfg, masks_file, spec, strict, out, resume)
    settings["run"] = cfg.to_dict()
    with Executor(workers, scheduler) as executor:  # connects first: a bad address writes nothing
        _prepare_out(out, resume, settings)
        runner = Runner(ds, cfg, out, None, pretrain_dir=cache_dir)
        # every draw, with its provenance, to re-run with train --masks; a per-fold wiring's are drawn per fold
        written = [] if cfg.wiring else kinds
        if written:
            (out / "null_masks").mkdir(exist_ok=True)
        moved = {}
        for kind in written:
            draws_ = runner.null_masks(kind)
            moved[kind] = [float(d.attrs["null_links_moved"]) for d in draws_]
            for d, m in enumerate(draws_):
                target = out / "null_masks" / f"{kind}-{d:03d}.h5"
                if not target.exists():
                    write_atomically(target, lambda tmp, m=m: write_masks(tmp, m))
        _echo(f"{draws} random wirings per null model ({', '.join(kinds)}), each trained as the real wiring "
              f"({cfg.strategies[0]}, {cfg.ensemble} networks, l2 {cfg.finetune.l2}) on the same folds; device "
              f"{cfg.device}; fits: {executor.description}")
        plan = Plan([runner])
        with Bars(plan.n_tasks) as bars:
            runner.progress = bars
            results, _, seconds = runner.run(executor)
    report = write_run(out, ds, cfg, results, None, time.perf_counter() - t0,
                       {"masks": settings["masks"], "command_seconds": time.perf_counter() - t0})
    summary = ctl.control_summary(ds, results, cfg.strategies[0], cfg.cv[0], kinds,
                                  [cfg.seed + r for r in range(cfg.seeds)])
    for kind in written:
        summary["null_models"][kind]["links_moved"] = moved[kind]
    report["control"] = summary
    col = ds.target_columns[0]
    base = {b.split(":", 1)[1]: report["results"][f"{cfg.cv[0]}/{b}"]["over_seeds"][col]
            for b in [f"baseline:{x}" for x in cfg.baselines]}
    base = {name: {m: v[m]["mean"] for m in v} for name, v in base.items()}
    plots.control(out / "control.png", summary, col, base)
    report["files"]["control.png"] = "each null model's distribution of r, % within 20 % and RMSE, the real wiring marked"
    if written:
        report["files"]["null_masks/"] = "every randomised wiring, with its provenance: re-run one with train --masks"
    report["wall_seconds"] = time.perf_counter() - t0
    from sparsenet.evaluation.report import write_json as write_report
    write_report(out / "report.json", report)
    typer.echo(_control_table(report, col))
    typer.echo(f"wall time {time.perf_counter() - t0:.0f} s. Written to {out}:")
    typer.echo(_files_written(report["files"]))


def _control_table(report, col) -> str:
    from sparsenet.evaluation.control import verdict

    summary = report["control"]
    real = report["results"][f"{summary['scheme']}/{summary['strategy']}"]["over_seeds"][col]
    lines = [f"{col}, {summary['scheme']} CV, network seeds {summary['network_seeds']}: the real wiring "
             f"(r {real['pearson_r']['mean']:.3f}, {real['within_20_percent']['mean']:.1f} % within 20 %, "
             f"RMSE {real['rmse']['mean']:.3f}) against random wirings trained the same way",
             f"{'null model':10} {'draws':>5} {'metric':18} {'real':>7} {'null mean ± sd':>16} {'rank':>6} {'p':>6}"]
    for kind, entry in summary["null_models"].items():
        for m, label in (("pearson_r", "r"), ("within_20_percent", "% within 20 %"), ("rmse", "RMSE")):
            e = entry["phenotypes"][col][m]
            lines.append(f"{kind:10} {entry['draws']:5d} {label:18} {e['real']:7.3f} "
                         f"{e['null_mean']:8.3f} ± {e['null_sd']:5.3f} {e['rank']:6d} {e['p']:6.3f}")
        lines.append(f"  {kind}: {verdict(entry, col)}")
    for key, res in report["results"].items():
        if "baseline:" in key:
            v = res["over_seeds"][col]
            lines.append(f"baseline {key.split(':', 1)[1]:16} r {v['pearson_r']['mean']:.3f}, "
                         f"{v['within_20_percent']['mean']:.1f} % within 20 %, RMSE {v['rmse']['mean']:.3f}")
    return "\n".join(lines)


# ---------------------------------------------------------------- curve
CURVE_VARIANTS = {"C+denoise": {"pretrain_noise": 0.2}, "C+readout": {"tune": "readout"},
                  "C+anchor": {"anchor": "pretrained"}}  # what the semi-supervised literature tries where labels are few
CURVE_WORDS = {"B": "network, no pre-training (default)", "C": "network, pre-trained (default's settings)",
               "C+denoise": "pre-trained as a denoising autoencoder (20 % of genes dropped)",
               "C+readout": "pre-trained, only the read-out tuned", "C+anchor": "pre-trained, penalty toward it",
               "paper": "DeepMetabolism as published (C, paper preset)", "baseline:random_forest": "random forest",
               "baseline:ridge_linked": "ridge on the masks' genes", "baseline:mean": "training mean",
               "baseline:ridge": "ridge on all genes", "baseline:knn": "k-nearest neighbours"}


def curve(expression: Optional[Path] = EXPRESSION, phenotypes: Optional[Path] = PHENOTYPES,
          reference: Optional[str] = REFERENCE, orientation: str = ORIENTATION,
          phenotype: Optional[List[str]] = PHENOTYPE, mapping: Optional[List[str]] = MAP,
          sample_column: Optional[str] = SAMPLE_COLUMN, keep_zero: bool = KEEP_ZERO,
          masks_file: Optional[Path] = MASKS, wiring: str = WIRING, ica_components: int = ICA_COMPONENTS,
          labels: str = typer.Option("10,20,40,80,all", "--labels", help="labelled samples per fit: counts and/or all"),
          draws: int = typer.Option(5, "--draws", min=1, help="subsets drawn per label count and way of drawing"),
          draw_by: str = typer.Option("projects,random", "--draw-by", help="projects (whole projects), random "
                                      "(samples from every project), or both"),
          models: str = typer.Option("B,C,paper", "--models", help="networks: B, C (the default preset's settings), "
                                     "paper (the paper's C), C+denoise (denoising pre-training), C+readout (only "
                                     "the read-out tuned on the pre-trained nodes), C+anchor (the penalty pulls "
                                     "toward the pre-trained weights)"),
          baselines: str = typer.Option("random_forest,ridge_linked,mean", "--baselines", help="baselines on the same "
                                        "subsets (a comma list, all or none)"),
          cv: str = typer.Option("grouped", "--cv", help="grouped, kfold or lopo (one scheme)"), folds: int = FOLDS,
          group_by: str = GROUP_BY, seed: int = typer.Option(0, "--seed", help="the folds', networks' and subsets' seed"),
          device: str = DEVICE, pretrain_samples: int = PRETRAIN_SAMPLES, batch: int = BATCH,
          pretrain_lr: float = PRETRAIN_LR, finetune_lr: Optional[float] = FINETUNE_LR,
          max_steps: Optional[int] = MAX_STEPS, ensemble: Optional[int] = ENSEMBLE,
          workers: int = WORKERS, scheduler: Optional[str] = SCHEDULER, cache_dir: Optional[Path] = CACHE_DIR,
          na_values: Optional[str] = NA_VALUES, gene_ids: str = GENE_IDS,
          duplicates: str = DUPLICATES, strict: bool = STRICT,
          out: Optional[Path] = typer.Option(None, "--out", help="folder (default: runs/curve-DATE-TIME)"),
          resume: bool = flag("--resume", help="continue the curve in --out where it stopped")):
    """Learning curves: every model fitted on subsets of N labelled samples of each fold's training samples
    (N = --labels; the pre-training pool stays every profile outside the held-out fold), scored on the usual
    held-out folds; does pre-training pay where labels are few?"""
    from sparsenet.evaluation import plots
    from sparsenet.evaluation.crossval import Runner
    from sparsenet.evaluation.curves import KINDS, curve_summary, parse_labels
    from sparsenet.evaluation.plan import Executor, Plan
    from sparsenet.evaluation.report import write_json as write_report

    t0 = time.perf_counter()
    counts = parse_labels(labels)
    kinds = [k.strip() for k in (KINDS if draw_by.strip() == "both" else draw_by.split(",")) if k.strip()]
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    known = ("B", "C", "paper", *CURVE_VARIANTS)
    bad = [k for k in kinds if k not in KINDS] + [m for m in wanted if m not in known]
    if bad or not kinds or not wanted:
        raise UserError(f"--draw-by is one of {', '.join(KINDS)}; --models of {', '.join(known)} "
                        f"(got {bad[0] if bad else ''!r})")
    common = dict(cv=cv, folds=folds, group_by=group_by, seed=seed, pretrain_samples=pretrain_samples, batch=batch,
                  pretrain_lr=pretrain_lr, finetune_lr=finetune_lr, max_steps=max_steps, final_model=False,
                  wiring=wiring, ica_components=ica_components)
    curve_spec = {"labels": counts, "draws": draws, "kinds": kinds, "seed": seed}
    configs = []
    nets = [m for m in ("B", "C") if m in wanted]
    if nets or baselines.strip() != "none":
        cfg = _run_config("default", device, strategy=",".join(nets) or "B", ensemble=ensemble, baselines=baselines,
                          **common)
        if not nets:
            cfg.strategies = []
        cfg.curve = curve_spec
        configs.append(("default", cfg))
    if "paper" in wanted:
        cfg = _run_config("paper", device, ensemble=ensemble, **common)
        cfg.curve = curve_spec
        configs.append(("paper", cfg))
    for variant, overrides in CURVE_VARIANTS.items():
        if variant in wanted:
            options = {**common, **{k: v for k, v in overrides.items() if k != "tune"}}
            cfg = _run_config("default", device, strategy="C", ensemble=ensemble, tune=overrides.get("tune", "auto"),
                              **options)
            cfg.curve = curve_spec
            configs.append((variant, cfg))
    if any(len(c.cv) != 1 for _, c in configs):
        raise UserError("--cv: one scheme for a learning curve")
    scheme = configs[0][1].cv[0]
    spec = data_spec(expression, phenotypes, reference, orientation, phenotype, mapping, sample_column, keep_zero,
                     group_by if scheme in ("grouped", "lopo") else None, None, na_values, gene_ids, duplicates)
    ds, out, settings = _load_run("curve", configs[0][1], masks_file, spec, strict, out, resume, read_out=True)
    settings["runs"] = {name: c.to_dict() for name, c in configs}
    with Executor(workers, scheduler) as executor:
        _prepare_out(out, resume, settings)
        runners = []
        for name, c in configs:
            sub = out / "state" / name
            (sub / "state").mkdir(parents=True, exist_ok=True)
            runners.append(Runner(ds, c, sub, None, pretrain_dir=cache_dir or out / "state" / "pretrain"))
        _echo(f"label counts {', '.join(map(str, counts))}; {draws} draws each, drawn by {', '.join(kinds)}; "
              f"device {configs[0][1].device}; fits: {executor.description}")
        plan = Plan(runners)
        with Bars(plan.n_tasks) as bars:
            for r in runners:
                r.progress = bars
            all_results, _, _ = executor.run(plan, bars)
    merged, names = {}, []
    for (name, c), results in zip(configs, all_results):
        for (sch, model, rep), records in results.items():
            label = model.split(":", 1)[1] if name == "default" else name
            merged[(sch, f"curve:{label}", rep)] = records
            names.append(label)
    summary = curve_summary(ds, merged, list(dict.fromkeys(names)), scheme)
    col = ds.target_columns[0]
    plots.learning_curves(out / "curve.png", summary, col, CURVE_WORDS)
    report = {"settings": settings, "data": ds.summary, "curve": summary, "wall_seconds": time.perf_counter() - t0,
              "files": {"report.json": "every model's metrics per label count, way of drawing and draw; paired "
                                       "differences against B", "curve.png": "each metric against the number of "
                                       "labelled samples, a line per model, bands of one sd"}}
    write_report(out / "report.json", report)
    typer.echo(_curve_table(summary, col))
    typer.echo(f"wall time {time.perf_counter() - t0:.0f} s. Written to {out}:")
    typer.echo(_files_written(report["files"]))


def _curve_table(summary, col) -> str:
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
        if model.startswith("baseline:"):  # the table above has them; the question is pre-training's
            continue
        for key, entry in table.items():
            d = entry["differences"][col]["pearson_r"]
            lines.append(f"  {model} - B at {key}: r {d['mean']:+.3f} ± {d['sd']:.3f} (better in {d['better_in']}"
                         f"{', beyond the spread' if d['beyond_spread'] else ''})")
    return "\n".join(lines)


# ---------------------------------------------------------------- predict
def predict(checkpoint: Path = typer.Argument(..., help="model.h5 from sparsenet train"),
            data: Path = typer.Argument(..., help="expression file (CSV/TSV, HDF5, .h5ad)"),
            out: Path = typer.Option(..., "-o", "--out", help="predictions CSV to write"),
            reference: Optional[str] = typer.Option(None, "--reference", help="reference sample IDs in DATA "
                                                    "(default: the checkpoint's, if DATA has them, else its stored "
                                                    "reference profile); 'none': DATA holds log2 fold changes"),
            orientation: str = ORIENTATION, masks_file: Optional[Path] = typer.Option(
                None, "--masks", help="check the checkpoint was trained with these masks"),
            level: float = typer.Option(0.9, "--level", help="interval level: lower/upper from the held-out "
                                        "residuals of the model's cross-validation"),
            device: str = DEVICE, na_values: Optional[str] = NA_VALUES, gene_ids: str = GENE_IDS,
            duplicates: str = DUPLICATES, strict: bool = STRICT):
    """Predict phenotypes for every sample of DATA, by sample ID: the ensemble's mean, an interval at --level
    from the cross-validation's held-out residuals, the networks' spread, and a flag for samples unlike the
    training data."""
    from sparsenet.evaluation.predictions import predict_file

    if out.suffix.lower() not in (".csv", ".tsv"):
        raise UserError(f"{out}: predictions are written as .csv")
    check_output_folder(out)
    masks = _masks(masks_file)[0] if masks_file else None
    result = predict_file(checkpoint, data, reference=reference, orientation=orientation, masks=masks, level=level,
                          device=device, na_values=_na_list(na_values), gene_ids=gene_ids, duplicates=duplicates)
    _echo(result.alignment)
    _echo(result.gene_labels)
    echo_checks(result.checks, strict)
    write_text(out, result.csv())
    typer.echo(f"{out}: {result.n_samples} samples, {result.how}; {result.said()}")


# ---------------------------------------------------------------- links
def links(source: Path = typer.Argument(..., metavar="MODEL_OR_RUN", help="model.h5 from sparsenet train, or a "
                                        "finished run folder of sparsenet train or control"),
          out: Path = typer.Option(..., "-o", "--out", help="CSV to write"),
          by: str = typer.Option("link", "--by", help="link: one row per gene -> phenotype link; gene: one row per "
                                 "gene, its links' summed |weight| (strongest first), sign agreement over folds, "
                                 "null percentile of its strongest link")):
    """Export the learned weight of every biological link (gene, protein, phenotype) and on each target: the
    model's networks (mean and sd), and from a run folder also over every fold's networks, with each link's
    percentile under the null wirings where a control was run; --by gene ranks the genes."""
    from sparsenet.evaluation.links import ZERO_TOLERANCE, gene_table, link_table, run_link_table, table_csv
    from sparsenet.training.checkpoint import load_checkpoint

    if by not in ("link", "gene"):
        raise UserError(f"--by must be link or gene, got {by!r}")
    check_output_folder(out)
    if source.is_dir():
        table = run_link_table(source)
        nulls = [c.split(" ")[0].removeprefix("null_percentile_") for c in table if c.startswith("null_percentile_")]
        how = (f"weights over {int(table['fold_networks'][0])} fold networks (mean, sd, share of the same sign)"
               + (f", percentiles under the null wirings ({', '.join(dict.fromkeys(nulls))})" if nulls else ""))
    else:
        ck = load_checkpoint(source)
        table = link_table(ck)
        k = int(ck.config.get("ensemble", 1))
        how = (f"weights are the mean{' and sd' if k > 1 else ''} over {k} network{'s' if k > 1 else ''}, |w| below "
               f"{ZERO_TOLERANCE:g} of its layer's largest written as 0")
    what = "links"
    if by == "gene":
        table, what = gene_table(table), "genes, strongest first"
    text = table_csv(table)
    write_text(out, text)
    typer.echo(f"{out}: {text.count(chr(10)) - 1} {what}; {how}")


# ---------------------------------------------------------------- robustness
def robustness(expression: Optional[Path] = EXPRESSION, phenotypes: Optional[Path] = PHENOTYPES,
               reference: Optional[str] = REFERENCE, orientation: str = ORIENTATION,
               phenotype: Optional[List[str]] = PHENOTYPE, mapping: Optional[List[str]] = MAP,
               sample_column: Optional[str] = SAMPLE_COLUMN, keep_zero: bool = KEEP_ZERO,
               masks_file: Optional[Path] = MASKS, strategy: str = typer.Option("C", "--strategy"),
               cv: str = CV, folds: int = FOLDS, group_by: str = GROUP_BY, seed: int = SEED, device: str = DEVICE,
               pretrain_samples: int = PRETRAIN_SAMPLES, batch: int = BATCH, pretrain_lr: float = PRETRAIN_LR,
               finetune_lr: Optional[float] = FINETUNE_LR, max_steps: Optional[int] = MAX_STEPS, tol: float = TOL, tune: str = TUNE,
               preset: str = PRESET, percents: str = typer.Option("25,50,75", "--percent", help="p values: p % of samples get p % noise"),
               where: str = typer.Option("pretrain,finetune,both", "--where",
                                         help="noise in pretrain, finetune or both data (comma list)"),
               workers: int = WORKERS, scheduler: Optional[str] = SCHEDULER, cache_dir: Optional[Path] = CACHE_DIR,
               na_values: Optional[str] = NA_VALUES, gene_ids: str = GENE_IDS,
               duplicates: str = DUPLICATES, strict: bool = STRICT,
               out: Optional[Path] = typer.Option(None, "--out", help="folder (default: runs/robustness-DATE-TIME)"),
               resume: bool = flag("--resume", help="continue the runs in --out")):
    """The paper's Fig. 1F: choose p % of the samples, add p % noise, p = 25/50/75, in pre-training data,
    fine-tuning data or both; r and % within 20 % against the clean run (held-out samples never noised)."""
    from sparsenet.evaluation.crossval import Runner
    from sparsenet.evaluation.plan import Executor, Plan
    from sparsenet.evaluation import plots
    from sparsenet.evaluation.report import summarise, write_json as write_report

    t0 = time.perf_counter()
    try:
        ps = [float(p) for p in percents.split(",")]
    except ValueError:
        raise UserError(f"--percent {percents!r}: give numbers like 25,50,75") from None
    if any(not 0 < p <= 100 for p in ps):
        raise UserError("--percent values must be in (0, 100]")
    wheres = _parse_list(where, ["pretrain", "finetune", "both"], "where")
    if strategy not in ("A", "B", "C"):
        raise UserError("--strategy: one of A, B, C for robustness")
    if strategy != "C" and any(w != "finetune" for w in wheres):
        wheres = ["finetune"]
        _echo(f"strategy {strategy} has no pre-training: noise only in fine-tuning data")
    base = _run_config(preset, device, strategy=strategy, cv=cv, folds=folds, group_by=group_by, seed=seed,
                       pretrain_samples=pretrain_samples, batch=batch, pretrain_lr=pretrain_lr, finetune_lr=finetune_lr,
                       max_steps=max_steps, tol=tol, tune=tune, final_model=False)
    if len(base.cv) != 1:
        raise UserError("--cv: one scheme (grouped or kfold) for robustness")
    spec = data_spec(expression, phenotypes, reference, orientation, phenotype, mapping, sample_column, keep_zero,
                     group_by if base.cv == ["grouped"] else None, None, na_values, gene_ids, duplicates)
    ds, out, settings = _load_run("robustness", base, masks_file, spec, strict, out, resume)
    settings.update(run=base.to_dict(), percents=ps, where=wheres)
    if workers and scheduler:
        raise UserError("give --workers (a local cluster) or --scheduler (a running one), not both")
    runs = [("clean", 0.0)] + [(w, p) for w in wheres for p in ps]
    rows, col = [], ds.target_columns[0]
    with Executor(workers, scheduler) as executor:  # connects first: a bad address writes nothing
        _prepare_out(out, resume, settings)
        runners = []
        for w, p in runs:
            cfg = dataclasses.replace(base, noise=None if w == "clean" else {"where": w, "percent": p})
            sub = out / "state" / (f"{w}-{p:g}" if w != "clean" else "clean")
            (sub / "state").mkdir(parents=True, exist_ok=True)
            # runs with the same pre-training pool (clean, or the same p in 'pretrain' and 'both') share it
            runners.append(Runner(ds, cfg, sub, None, pretrain_dir=cache_dir or out / "state" / "pretrain"))
        plan = Plan(runners)  # every configuration's fits in one plan: fanned out together
        with Bars(plan.n_tasks) as bars:
            for r in runners:
                r.progress = bars
            all_results, _, _ = executor.run(plan, bars)
    for (w, p), results in zip(runs, all_results):
        s = summarise(ds, results[(base.cv[0], strategy, 0)])["phenotypes"][col]
        rows.append({"where": w, "percent": p, "pearson_r": s["pearson_r"],
                     "within_20_percent": s["within_20_percent"], "rmse": s["rmse"]})
    clean = rows[0]
    noisy = rows[1:]
    lines = [f"{'noise in':10} {'p %':>5} {'r':>7} {'Δr':>7} {'within 20%':>10} {'Δ':>7}"]
    for r in rows:
        lines.append(f"{r['where']:10} {r['percent']:5g} {r['pearson_r']:7.3f} {r['pearson_r'] - clean['pearson_r']:+7.3f} "
                     f"{r['within_20_percent']:9.1f}% {r['within_20_percent'] - clean['within_20_percent']:+7.1f}")
    plots.robustness(out / "robustness.png", noisy, clean)
    write_report(out / "robustness.json", {"settings": settings, "phenotype": col, "clean": clean, "noisy": noisy,
                                         "wall_seconds": time.perf_counter() - t0})
    typer.echo("\n".join(lines))
    typer.echo(f"wall time {time.perf_counter() - t0:.0f} s. {out / 'robustness.json'}, {out / 'robustness.png'}")


# ---------------------------------------------------------------- data spline
def precise_data():
    """Fetch the PRECISE compendium once and print where its files are (expression, samples, the
    regulatory network trn.csv, the iModulon weights M.csv)."""
    from sparsenet.data import precise

    for name, path in precise.precise_files(progress=_echo, names=tuple(precise.FILES)).items():
        typer.echo(f"{name}\t{path}")


def spline(expression: Path = typer.Argument(..., help="time-series expression file (any supported format)"),
           phenotypes: Path = typer.Argument(..., help="numeric table by sample ID: a time column + phenotypes"),
           time_column: str = typer.Option(..., "--time", help="column of PHENOTYPES holding each sample's time"),
           n: int = typer.Option(1000, "-n", min=1, help="synthetic pairs to make"),
           out: Path = typer.Option(..., "-o", "--out", help="new folder for expression.csv and phenotypes.csv"),
           orientation: str = ORIENTATION, masks_file: Optional[Path] = typer.Option(
               None, "--masks", help="masks whose gene IDs detect the orientation (default: iJO1366)")):
    """Smooth a paired time series with cubic splines into N synthetic transcriptome/phenotype pairs."""
    from sparsenet.data.spline import spline_pairs
    from sparsenet.data.tables import read_expression, read_text_table

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out}: already exists; choose a new folder")
    if not out.parent.exists():
        raise UserError(f"{out}: folder {out.parent} does not exist")
    masks, _ = _masks(masks_file)
    expr = read_expression(expression, masks.gene_ids, orientation)
    header, ids, values = read_text_table(phenotypes)
    if time_column not in header:
        raise UserError(f"{phenotypes}: no column {time_column!r} (columns: {', '.join(header[:8])})")
    row = {s: i for i, s in enumerate(ids)}
    missing = [s for s in expr.sample_ids if s not in row]
    if missing:
        raise UserError(f"{phenotypes}: no row for expression sample {missing[0]!r}")
    order = [row[s] for s in expr.sample_ids]
    t = values[order, header.index(time_column)]
    others = [j for j in range(len(header)) if header[j] != time_column]
    new_t, x, y = spline_pairs(t, expr.take(np.arange(expr.n_samples)), values[order][:, others], n)
    names = [f"spline_{i + 1:06d}" for i in range(n)]

    def table(cols, rows, first):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["sample_id"] + cols)
        for name, extra, r in zip(names, first, rows):
            w.writerow([name] + extra + [f"{v:.6g}" for v in r])
        return buf.getvalue()

    expr_text = table(list(expr.gene_ids), x, [[]] * n)
    phen_text = table([time_column] + [header[j] for j in others], y, [[f"{v:.6g}"] for v in new_t])
    out.mkdir(exist_ok=True)
    write_text(out / "expression.csv", expr_text)
    write_text(out / "phenotypes.csv", phen_text)
    typer.echo(f"{out}: {n} synthetic pairs from {len(np.unique(t))} time points "
               f"({expr.n_samples} samples, {len(expr.gene_ids)} genes, {len(others)} phenotypes)")
