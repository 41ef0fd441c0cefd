"""The study ``sparsenet control --predictor flux``: does the gene -> reaction mapping carry information for
the flux-based predictors? The same pipeline as ``train --baselines eflux,flux_ridge,flux_forest`` (E-Flux per
fold, scaled on its training samples; each predictor fitted on them) run again with the expression's gene
labels permuted among the measured genes before the gene-protein-reaction rules read them, N times; where the
real mapping falls in each predictor's null distribution (rank, empirical p; ``stats.nulls.compare``).

Every draw's held-out predictions are kept under ``state/flux-draws`` as it finishes, so an interrupted run
resumed with ``--resume`` solves only the draws it lacks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_atomically
from ..config.choices import FLUX_BASELINES
from ..progress import Stage, quiet
from ..report import plots
from ..report.run_report import provenance, write_report
from ..runs.flux_baselines import fit_predict, fold_fluxes
from ..runs.folds import make_folds
from ..runs.plan import Executor
from ..stats import metrics
from ..stats.nulls import compare
from ..stats.summary import METRICS
from .inputs import StudyData, prepare_out


@dataclass(frozen=True)
class FluxControlResult:
    """``report``: report.json's content; ``report['flux_control']`` each predictor's rank and empirical p."""

    out: Path
    report: dict
    seconds: float


@dataclass(frozen=True)
class FluxProblem:
    """What one draw needs, shipped once to each worker: the cobra model, the labelled samples' log levels
    (samples x ``gene_ids``), their phenotypes and groups, and the folds."""

    model: object
    gene_ids: tuple
    log_levels: np.ndarray
    y: np.ndarray
    groups: list | None
    folds: list
    predictors: tuple
    seed: int


def permutation(n_genes: int, seed: int, draw: int) -> np.ndarray | None:
    """Draw 0 is the real mapping (None); draw d > 0 a permutation of the measured genes' labels."""
    return None if draw == 0 else np.random.default_rng([seed, draw]).permutation(n_genes)


def draw_predictions(problem: FluxProblem, draw: int) -> dict:
    """{predictor: held-out predictions (samples x phenotype columns), pooled over the folds} of one draw."""
    n, k = problem.y.shape
    pred = {name: np.full((n, k), np.nan) for name in problem.predictors}
    measured = int(np.isfinite(problem.log_levels).all(axis=0).sum())
    order = permutation(measured, problem.seed, draw)
    everyone = np.arange(n)
    for test in problem.folds:
        train = np.setdiff1d(everyone, test)
        rows = np.concatenate([train, test])
        fluxes = fold_fluxes(
            problem.model, list(problem.gene_ids), problem.log_levels[rows], np.arange(len(train)), gene_order=order
        )
        groups = None if problem.groups is None else [problem.groups[i] for i in train]
        for name in problem.predictors:
            pred[name][test] = fit_predict(
                name,
                fluxes,
                np.arange(len(train)),
                np.arange(len(train), len(rows)),
                problem.y[train],
                groups,
                problem.seed,
            )
    return pred


def _problem(data: StudyData, scheme: str, folds: int, seed: int, predictors) -> FluxProblem:
    from ..masks.model_io import load_model

    ds = data.dataset
    source = ds.masks.attrs.get("model_file")
    if not source:
        raise ValueError(
            "control --predictor flux needs the masks' metabolic model: these masks name none (masks "
            "built by sparsenet masks build record it)"
        )
    return FluxProblem(
        load_model(source)[0],
        tuple(ds.masks.gene_ids),
        ds.inputs.levels(ds.labelled),
        np.asarray(ds.y, dtype=np.float64),
        None if ds.groups is None else list(ds.groups),
        [np.asarray(t) for t in make_folds(ds, scheme, folds, seed)],
        tuple(predictors),
        seed,
    )


def flux_control(
    data: StudyData,
    out: Path,
    *,
    scheme: str = "grouped",
    folds: int = 10,
    seed: int = 0,
    draws: int = 50,
    predictors=FLUX_BASELINES,
    executor: Executor | None = None,
    progress=None,
    resume: bool = False,
    command: str | None = None,
) -> FluxControlResult:
    """The real gene labels and ``draws`` permutations of them through every flux predictor of ``predictors`` on
    the folds of ``scheme`` (``folds``, ``seed``: the partition ``train`` uses with the same options) into
    ``out``; ``executor`` fans draws out to its Dask workers (default: serially here)."""
    unknown = [p for p in predictors if p not in FLUX_BASELINES]
    if unknown:
        raise ValueError(f"flux predictors must be among {', '.join(FLUX_BASELINES)}, got {', '.join(unknown)}")
    t0 = time.perf_counter()
    ds, out = data.dataset, Path(out)
    settings = {"scheme": scheme, "folds": folds, "seed": seed, "draws": draws, "predictors": list(predictors)}
    prepare_out(out, resume, {"data": ds.summary, "masks": data.masks, "flux_control": settings})
    problem = _problem(data, scheme, folds, seed, predictors)
    state = out / "state" / "flux-draws"
    state.mkdir(parents=True, exist_ok=True)
    progress = progress or quiet
    todo = [d for d in range(draws + 1) if not (state / f"{d:03d}.npz").exists()]

    def keep(d, pred):
        def write(tmp):
            with open(tmp, "wb") as fh:  # a handle: np.savez would add .npz to a path
                np.savez(fh, **pred)

        write_atomically(state / f"{d:03d}.npz", write)

    done = draws + 1 - len(todo)
    progress(Stage("tasks", "flux draws (0: the real labels)", done, draws + 1))
    for d, predictions in (executor or Executor()).map(draw_predictions, problem, todo):
        keep(d, predictions)
        done += 1
        progress(Stage("tasks", "flux draws (0: the real labels)", done, draws + 1))
    summary = summarise_draws(ds, [dict(np.load(state / f"{d:03d}.npz")) for d in range(draws + 1)], predictors)
    plots.control(
        out / "control.png",
        {"scheme": scheme, "null_models": summary},
        ds.target_columns[0],
        {},
        ("permuted gene labels", "real labels", "permuted gene labels"),
    )
    seconds = time.perf_counter() - t0
    report = {
        "provenance": provenance(command),
        "data": ds.summary,
        "masks": data.masks,
        "flux_control": {**settings, "null_model": "genes", "predictors": summary},
        "wall_seconds": seconds,
        "files": {
            "report.json": "each flux predictor's real r, % within 20 %, RMSE and within-group r against "
            "its gene-permutation null (rank, empirical p, every draw's value)",
            "control.png": "each flux predictor's null distribution of every metric, the real labels marked",
            "state/flux-draws/": "every draw's held-out predictions (000: the real gene labels)",
        },
    }
    write_report(out, report)
    return FluxControlResult(out, report, seconds)


def summarise_draws(ds, predictions: list, predictors) -> dict:
    """{predictor: {column: {metric: the real labels' value against the permuted draws'}}}; ``predictions[0]``
    is the real labels' draw."""
    out = {}
    for name in predictors:
        out[name] = {"draws": len(predictions) - 1, "phenotypes": {}}
        for j, col in enumerate(ds.target_columns):
            per = [metrics.prediction_metrics(ds.y[:, j], p[name][:, j], ds.groups) for p in predictions]
            out[name]["phenotypes"][col] = {
                m: {**compare(per[0][m], np.array([q[m] for q in per[1:]]), m), "null_values": [q[m] for q in per[1:]]}
                for m in METRICS
            }
    return out
