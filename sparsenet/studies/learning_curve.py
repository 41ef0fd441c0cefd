"""The study ``sparsenet curve`` runs: every model fitted on subsets of N labelled samples of each fold's
training samples (the pre-training pool stays every profile outside the held-out fold), scored on the usual
held-out folds. Does pre-training pay where labels are few?"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..config.model_keys import model_of
from ..config.run_config import CurveSpec, build_config
from ..report import plots
from ..report.run_report import provenance, write_report
from ..runs.crossval import Runner
from ..runs.plan import Executor
from ..stats.curves import curve_summary
from .inputs import StudyData, prepare_out, run_plan

# what the semi-supervised literature tries where labels are few: each a strategy C variant of the default
VARIANTS = {
    "C+denoise": {"pretrain_noise": 0.2},
    "C+readout": {"tune": "readout"},
    "C+anchor": {"anchor": "pretrained"},
}
MODELS = ("B", "C", "paper", *VARIANTS)
WORDS = {
    "B": "network, no pre-training (default)",
    "C": "network, pre-trained (default's settings)",
    "C+denoise": "pre-trained as a denoising autoencoder (20 % of genes dropped)",
    "C+readout": "pre-trained, only the read-out tuned",
    "C+anchor": "pre-trained, penalty toward it",
    "paper": "DeepMetabolism as published (C, paper preset)",
    "baseline:random_forest": "random forest",
    "baseline:ridge_linked": "ridge on the masks' genes",
    "baseline:mean": "training mean",
    "baseline:ridge": "ridge on all genes",
    "baseline:knn": "k-nearest neighbours",
}


@dataclass(frozen=True)
class CurveResult:
    """``report``: report.json's content; ``report['curve']`` every model's metrics per label count."""

    out: Path
    report: dict
    seconds: float


def curve_configs(models, baselines: str, curve: CurveSpec, ensemble: int | None = None, **options) -> dict:
    """The configurations of a learning curve of ``models`` (of ``MODELS``) and ``baselines`` (a comma list, or
    'none'), by name: 'default' (B and/or C on the default preset, with the baselines), 'paper', and each
    variant asked for; ``options``: ``build_config``'s (cv, folds, seed, device, ...), the same for all."""
    wanted = list(dict.fromkeys(models))
    bad = [m for m in wanted if m not in MODELS]
    if bad or not wanted:
        raise ValueError(f"--models: {bad[0] if bad else ''!r} is not one of {', '.join(MODELS)}")
    options = {**options, "final_model": False, "curve": curve}
    configs = {}
    nets = [m for m in ("B", "C") if m in wanted]
    if nets or baselines.strip() != "none":
        configs["default"] = build_config(
            "default", strategy=",".join(nets) or "none", ensemble=ensemble, baselines=baselines, **options
        )
    if "paper" in wanted:
        configs["paper"] = build_config("paper", ensemble=ensemble, **options)
    for variant, overrides in VARIANTS.items():
        if variant in wanted:
            configs[variant] = build_config(
                "default", strategy="C", ensemble=ensemble, **{**options, "tune": "auto", **overrides}
            )
    return configs


def curve(
    data: StudyData,
    configs: dict,
    out: Path,
    executor: Executor | None = None,
    progress=None,
    resume: bool = False,
    cache_dir: Path | None = None,
    command: str | None = None,
) -> CurveResult:
    """Run the learning curve's ``configs`` (:func:`curve_configs`) on ``data`` into ``out``, every
    configuration's fits in one plan; the other arguments as :func:`sparsenet.studies.train`'s."""
    t0 = time.perf_counter()
    ds, out = data.dataset, Path(out)
    first = next(iter(configs.values()))
    settings = {"data": ds.summary, "masks": data.masks, "runs": {name: c.to_dict() for name, c in configs.items()}}
    prepare_out(out, resume, settings)
    runners = []
    for name, c in configs.items():
        sub = out / "state" / name
        (sub / "state").mkdir(parents=True, exist_ok=True)
        runners.append(Runner(ds, c, sub, progress, pretrain_dir=cache_dir or out / "state" / "pretrain"))
    all_results = run_plan(runners, executor, progress).results
    merged, names = {}, []
    for name, results in zip(configs, all_results, strict=True):
        for (scheme, model, repeat), records in results.items():
            label = str(model_of(model).inner) if name == "default" else name
            merged[(scheme, f"curve:{label}", repeat)] = records
            names.append(label)
    summary = curve_summary(ds, merged, list(dict.fromkeys(names)), first.cv[0])
    plots.learning_curves(out / "curve.png", summary, ds.target_columns[0], WORDS)
    report = {
        "provenance": provenance(command),
        "settings": settings,
        "data": ds.summary,
        "curve": summary,
        "wall_seconds": time.perf_counter() - t0,
        "files": {
            "report.json": "every model's metrics per label count, way of drawing and draw; paired "
            "differences against B",
            "curve.png": "each metric against the number of labelled samples, a line per model, bands of one sd",
        },
    }
    write_report(out, report)
    return CurveResult(out, report, time.perf_counter() - t0)
