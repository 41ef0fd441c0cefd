"""The study ``sparsenet train`` runs: cross-validate the configured networks beside baselines on the same
folds, train the final model, keep in it what ``predict`` needs for intervals, and write the run folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..config.run_config import RunConfig
from ..report.run_report import write_run
from ..runs.crossval import Runner
from ..runs.plan import Executor
from ..stats.intervals import write_final_model
from .inputs import StudyData, prepare_out, run_plan


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` wrote and found: ``report`` is report.json's content (``report['files']`` names every
    file); ``intervals`` the held-out coverage of the final model's intervals (None without a final model)."""

    out: Path
    report: dict
    intervals: dict | None
    seconds: float


def train(
    data: StudyData,
    cfg: RunConfig,
    out: Path,
    executor: Executor | None = None,
    progress=None,
    resume: bool = False,
    cache_dir: Path | None = None,
    command: str | None = None,
) -> TrainResult:
    """Run ``cfg`` on ``data`` into the folder ``out`` (fresh, or ``resume``: the same settings' folder), its fits
    on ``executor`` (default: serially here); ``progress(stage)`` hears of every stage (a
    ``sparsenet.progress.Stage``), first ``Stage('plan', 'fits', 0, n_tasks)``; ``cache_dir``: a folder of
    pre-trainings to share; ``command``: the command line that ran it, for the report (None from Python)."""
    t0 = time.perf_counter()
    ds = data.dataset
    prepare_out(out, resume, {"data": ds.summary, "masks": data.masks, "run": cfg.to_dict()})
    runner = Runner(ds, cfg, out, progress, pretrain_dir=cache_dir)
    outcome = run_plan([runner], executor, progress)
    results, final = outcome.results[0], outcome.finals[0]
    intervals = write_final_model(Path(out) / "model.h5", final, ds, results, cfg) if final is not None else None
    seconds = time.perf_counter() - t0
    report = write_run(
        out,
        ds,
        cfg,
        results,
        final,
        seconds,
        {"masks": data.masks, "command_seconds": seconds, **({"intervals": intervals} if intervals else {})},
        command=command,
    )
    return TrainResult(Path(out), report, intervals, time.perf_counter() - t0)
