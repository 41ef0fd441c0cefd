"""The study ``sparsenet control`` runs: does the wiring matter? The same network trained on randomised copies
of the wiring per null model (``cfg.nulls``), with the real wiring's settings on the same folds and network
seeds; where the real wiring falls in each null distribution, beside the baselines on the same folds."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_atomically
from ..config.run_config import RunConfig
from ..masks.store import write_masks
from ..report import plots
from ..report.run_report import write_report, write_run
from ..runs.crossval import Runner
from ..runs.plan import Executor
from ..stats import nulls as null_statistics
from .inputs import StudyData, prepare_out, run_plan


@dataclass(frozen=True)
class ControlResult:
    """``report``: report.json's content; ``report['control']`` each null model's rank and empirical p."""

    out: Path
    report: dict
    seconds: float


def write_null_masks(runner: Runner, folder: Path) -> dict:
    """Every draw of each null model, with its provenance, as ``KIND-NNN.h5`` (re-run one with train --masks);
    returns each kind's share of links moved per draw."""
    folder.mkdir(exist_ok=True)
    moved = {}
    for kind in runner.cfg.nulls.kinds:
        draws = runner.wirings.nulls(kind)
        moved[kind] = [float(d.attrs["null_links_moved"]) for d in draws]
        for d, m in enumerate(draws):
            target = folder / f"{kind}-{d:03d}.h5"
            if not target.exists():
                write_atomically(target, lambda tmp, m=m: write_masks(tmp, m))
    return moved


def control(
    data: StudyData,
    cfg: RunConfig,
    out: Path,
    executor: Executor | None = None,
    progress=None,
    resume: bool = False,
    cache_dir: Path | None = None,
    command: str | None = None,
) -> ControlResult:
    """Run the control ``cfg`` (its ``nulls``, one strategy B or C, one scheme: ``build_config`` checks) on
    ``data`` into ``out``; the arguments as :func:`sparsenet.studies.train`'s."""
    if cfg.nulls is None:
        raise ValueError("control: the configuration has no null models (build_config(..., nulls=NullSpec(...)))")
    t0 = time.perf_counter()
    ds, out = data.dataset, Path(out)
    prepare_out(out, resume, {"data": ds.summary, "masks": data.masks, "run": cfg.to_dict()})
    runner = Runner(ds, cfg, out, progress, pretrain_dir=cache_dir)
    # a per-fold wiring's draws are drawn per fold, inside its fits: nothing to write beforehand
    moved = {} if cfg.wiring else write_null_masks(runner, out / "null_masks")
    results = run_plan([runner], executor, progress).results[0]
    seconds = time.perf_counter() - t0
    report = write_run(
        out,
        ds,
        cfg,
        results,
        None,
        seconds,
        {"masks": data.masks, "command_seconds": seconds},
        page=False,
        command=command,
    )
    scheme, strategy = cfg.cv[0], cfg.strategies[0]
    summary = null_statistics.control_summary(
        ds, results, strategy, scheme, list(cfg.nulls.kinds), [cfg.seed + r for r in range(cfg.seeds)]
    )
    for kind, shares in moved.items():
        summary["null_models"][kind]["links_moved"] = shares
    report["control"] = summary
    col = ds.target_columns[0]
    base = {b: report["results"][f"{scheme}/baseline:{b}"]["over_seeds"][col] for b in cfg.baselines}
    plots.control(out / "control.png", summary, col, {name: {m: v[m]["mean"] for m in v} for name, v in base.items()})
    report["files"]["control.png"] = (
        "each null model's distribution of r, % within 20 % and RMSE, the real wiring marked"
    )
    if moved:
        report["files"]["null_masks/"] = "every randomised wiring, with its provenance: re-run one with train --masks"
    report["wall_seconds"] = time.perf_counter() - t0
    write_report(out, report)
    return ControlResult(out, report, time.perf_counter() - t0)
