"""The study ``sparsenet robustness`` runs, the paper's Fig. 1F: p % of the samples get p % noise, in the
pre-training data, the fine-tuning data or both; r and % within 20 % against the clean run (held-out samples
are never noised)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..config.run_config import NOISE_WHERE, NoiseSpec, RunConfig, check_noise
from ..report import plots
from ..report.run_report import provenance, write_report
from ..runs.crossval import Runner
from ..runs.plan import Executor
from ..stats.summary import summarise
from .inputs import StudyData, prepare_out, run_plan


@dataclass(frozen=True)
class NoiseResult:
    """One configuration's pooled held-out scores: noise ``where`` ('clean' for none) at ``percent``."""

    where: str
    percent: float
    pearson_r: float
    within_20_percent: float
    rmse: float


@dataclass(frozen=True)
class RobustnessResult:
    """The clean run and every noisy one (robustness.json holds them, robustness.png plots them)."""

    out: Path
    phenotype: str
    clean: NoiseResult
    noisy: list
    seconds: float


def noise_wheres(cfg: RunConfig, wheres) -> list:
    """Where noise goes: ``wheres`` (of pretrain, finetune, both), or only the fine-tuning data for a strategy
    without pre-training."""
    wheres = list(dict.fromkeys(wheres))
    bad = [w for w in wheres if w not in NOISE_WHERE]
    if bad or not wheres:
        raise ValueError(f"--where: {bad[0] if bad else ''!r} is not one of {', '.join(NOISE_WHERE)}")
    return wheres if "C" in cfg.strategies else ["finetune"]


def robustness(
    data: StudyData,
    cfg: RunConfig,
    percents,
    wheres,
    out: Path,
    executor: Executor | None = None,
    progress=None,
    resume: bool = False,
    cache_dir: Path | None = None,
    command: str | None = None,
) -> RobustnessResult:
    """``cfg`` (one strategy, one scheme, no final model) run clean and with noise at each of ``percents`` in
    each of ``wheres`` (:func:`noise_wheres`), every configuration's fits in one plan; the other arguments as
    :func:`sparsenet.studies.train`'s."""
    if len(cfg.strategies) != 1 or len(cfg.cv) != 1:
        raise ValueError("robustness: one --strategy (A, B or C) and one --cv scheme")
    t0 = time.perf_counter()
    ds, out = data.dataset, Path(out)
    wheres = noise_wheres(cfg, wheres)
    noises = [None] + [check_noise(NoiseSpec(w, float(p))) for w in wheres for p in percents]
    settings = {
        "data": ds.summary,
        "masks": data.masks,
        "run": cfg.to_dict(),
        "percents": [float(p) for p in percents],
        "where": wheres,
    }
    prepare_out(out, resume, settings)
    runners = []
    for noise in noises:
        sub = out / "state" / ("clean" if noise is None else f"{noise.where}-{noise.percent:g}")
        (sub / "state").mkdir(parents=True, exist_ok=True)
        # runs with the same pre-training pool (clean, or the same p in 'pretrain' and 'both') share it
        runners.append(
            Runner(ds, replace(cfg, noise=noise), sub, progress, pretrain_dir=cache_dir or out / "state" / "pretrain")
        )
    all_results = run_plan(runners, executor, progress).results
    col = ds.target_columns[0]
    rows = []
    for noise, results in zip(noises, all_results, strict=True):
        s = summarise(ds, results[(cfg.cv[0], cfg.strategies[0], 0)])["phenotypes"][col]
        rows.append(
            NoiseResult(
                "clean" if noise is None else noise.where,
                0.0 if noise is None else noise.percent,
                s["pearson_r"],
                s["within_20_percent"],
                s["rmse"],
            )
        )
    clean, noisy = rows[0], rows[1:]
    as_dicts = [asdict(r) for r in noisy]
    plots.robustness(out / "robustness.png", as_dicts, asdict(clean))
    write_report(
        out,
        {
            "provenance": provenance(command),
            "settings": settings,
            "data": ds.summary,
            "phenotype": col,
            "clean": asdict(clean),
            "noisy": as_dicts,
            "wall_seconds": time.perf_counter() - t0,
            "files": {
                "robustness.json": "r, % within 20 % and RMSE of the clean run and of every noisy one",
                "robustness.png": "each metric against the noise level",
            },
        },
        "robustness.json",
    )
    return RobustnessResult(out, col, clean, noisy, time.perf_counter() - t0)
