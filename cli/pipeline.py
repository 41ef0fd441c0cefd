"""The study commands: train, control, curve, robustness, predict, links, data precise, data spline. Each parses
its options, calls the library (``sparsenet.studies``, ``sparsenet.runs``, ``sparsenet.report``) and
prints; nothing here is needed to run what it runs from Python.

No ``from __future__ import annotations`` here: typer reads the annotations as objects.
"""

import time
from pathlib import Path

import typer

from .common import UserError, check_output_folder, command_line, flag
from .options import (
    BASELINES,
    CV,
    DEVICE,
    DUPLICATES,
    FOLDS,
    GENE_IDS,
    GROUP_BY,
    ICA_COMPONENTS,
    NA_VALUES,
    MASKS,
    ORIENTATION,
    PRESET,
    SEED,
    SEEDS,
    STRATEGY,
    STRICT,
    TRANSFORM,
    WIRING,
    Fanout,
    data_options,
    data_options_with_pool,
    fanout_options,
    network_options,
)
from .show import (
    Bars,
    control_table,
    flux_control_table,
    curve_table,
    echo,
    echo_checks,
    echo_data_summary,
    files_written,
    robustness_table,
    summary_table,
)
from sparsenet import studies
from sparsenet.atomic import write_text
from sparsenet.config.run_config import check_choice
from sparsenet.studies.inputs import na_list, read_masks_file


def _config(preset, device, **options):
    """The run's configuration, checked once in the library (the device resolved there); its notes echoed."""
    from sparsenet.config.run_config import build_config, config_notes

    cfg = build_config(preset, device=device, **options)
    for note in config_notes(cfg):
        echo(f"note: {note}")
    return cfg


def _data(data, cfg, read_out=None):
    """The study's data, its summary and warnings echoed before anything is fitted."""
    loaded = studies.load_data(data, cfg, read_out, progress=echo)
    echo_data_summary(loaded.dataset, cfg)
    echo_checks(loaded.dataset.summary, strict=False)
    return loaded


def _written(t0, out, files):
    typer.echo(f"wall time {time.perf_counter() - t0:.0f} s. Written to {out}:")
    typer.echo(files_written(files))


OUT = typer.Option(None, "--out", help="run folder (default: runs/COMMAND-DATE-TIME)")
RESUME = flag("--resume", help="continue the run in --out where it stopped")


# ---------------------------------------------------------------- train
@data_options_with_pool
@network_options()
@fanout_options
def train(
    data: studies.DataOptions,
    network: dict,
    fanout: Fanout,
    wiring: str = WIRING,
    ica_components: int = ICA_COMPONENTS,
    strategy: str | None = STRATEGY,
    cv: str = CV,
    folds: int = FOLDS,
    group_by: str = GROUP_BY,
    seed: int = SEED,
    device: str = DEVICE,
    preset: str = PRESET,
    seeds: int = SEEDS,
    baselines: str = BASELINES,
    out: Path | None = OUT,
    resume: bool = RESUME,
):
    """Cross-validate DeepMetabolism (default preset: strategy B, iJO1366 masks, PRECISE growth rate, grouped CV by
    project) beside baselines on the same folds, train the final model, and write report, results, plots, model
    and link weights."""
    t0 = time.perf_counter()
    cfg = _config(
        preset,
        device,
        strategy=strategy,
        cv=cv,
        folds=folds,
        group_by=group_by,
        seed=seed,
        seeds=seeds,
        baselines=baselines,
        wiring=wiring,
        ica_components=ica_components,
        **network,
    )
    loaded = _data(data, cfg)
    out = studies.run_folder("train", out, resume)
    with fanout.executor() as executor, Bars() as bars:
        echo(f"device {cfg.device}; fits: {executor.description}")
        result = studies.train(loaded, cfg, out, executor, bars, resume, fanout.cache_dir, command_line())
    report = result.report
    typer.echo(summary_table(report))
    for col, c in (result.intervals or {}).get("phenotypes", {}).items():
        typer.echo(
            f"intervals ({col}): {100 * c['coverage']:.1f} % of held-out samples inside their "
            f"{100 * c['level']:g} % interval, each project held out in turn ({result.intervals['scheme']} CV "
            f"residuals); mean width {c['mean_width']:.3g} (RMSE {c['rmse']:.3g})"
        )
    for key, res in report["results"].items():
        for w in res.get("warnings", []):
            typer.echo(f"warning ({key}): {w}")
    if any(s in ("B", "C") for s in cfg.strategies):
        from sparsenet.report.evidence import wiring_statement

        typer.echo(wiring_statement(loaded.masks["fingerprint"], wiring=cfg.wiring))
    from sparsenet.report.evidence import flux_statement
    from sparsenet.config.choices import FLUX_BASELINES

    for name in (b for b in cfg.baselines if b in FLUX_BASELINES):
        typer.echo(flux_statement(loaded.masks["fingerprint"], name))
    _written(t0, out, report["files"])


# ---------------------------------------------------------------- control
@data_options
@network_options(
    "pretrain_samples",
    "batch",
    "pretrain_lr",
    "finetune_lr",
    "max_steps",
    "tol",
    "tune",
    "inputs",
    "decoder",
    "head",
    "loss",
    "l2",
    "init_scale",
    "optimizer",
    "ensemble",
)
@fanout_options
def control(
    ctx: typer.Context,
    data: studies.DataOptions,
    network: dict,
    fanout: Fanout,
    wiring: str = WIRING,
    ica_components: int = ICA_COMPONENTS,
    null: str | None = typer.Option(
        None,
        "--null",
        help="null models, a comma list: genes (gene labels "
        "permuted, topology kept), edges (links rewired, every degree kept), "
        "density (random links, their number kept), or all (default: genes,"
        "edges; with --predictor flux only genes applies)",
    ),
    predictor: str = typer.Option(
        "network",
        "--predictor",
        help="what is tested: network (the wiring) or "
        "flux (the E-Flux predictors eflux, flux_ridge, flux_forest, their gene "
        "labels permuted before the gene-protein-reaction rules)",
    ),
    draws: int = typer.Option(50, "--draws", min=1, help="randomised wirings per null model"),
    strategy: str | None = typer.Option(None, "--strategy", help="B or C (default: the preset's)"),
    cv: str = typer.Option("grouped", "--cv", help="grouped, kfold or lopo (one scheme)"),
    folds: int = FOLDS,
    group_by: str = GROUP_BY,
    seed: int = typer.Option(0, "--seed", help="the folds' seed, the first network seed and the null draws' seed"),
    seeds: int = SEEDS,
    device: str = DEVICE,
    preset: str = PRESET,
    baselines: str = typer.Option(
        "random_forest,ridge_linked",
        "--baselines",
        help="baselines on the same folds, beside the null (a comma list, all or none)",
    ),
    out: Path | None = OUT,
    resume: bool = RESUME,
):
    """Does the wiring matter? Train the same network on N randomised copies of the masks per null model,
    with the real wiring's settings on the same folds and network seeds, and report where the real wiring
    falls in each null distribution (rank, empirical p), beside the baselines on the same folds."""
    from sparsenet.masks.randomise import KINDS

    t0 = time.perf_counter()
    check_choice("predictor", predictor)
    if predictor == "flux":
        _refuse_network_options(ctx)
        return _flux_control(data, fanout, null, draws, cv, folds, group_by, seed, out, resume, t0)
    null = null or "genes,edges"
    kinds = list(KINDS) if null.strip() == "all" else [k.strip() for k in null.split(",") if k.strip()]
    cfg = _config(
        preset,
        device,
        strategy=strategy,
        cv=cv,
        folds=folds,
        group_by=group_by,
        seed=seed,
        seeds=seeds,
        baselines=baselines,
        final_model=False,
        wiring=wiring,
        ica_components=ica_components,
        nulls={"kinds": kinds, "draws": draws, "seed": seed},
        **network,
    )
    loaded = _data(data, cfg)
    out = studies.run_folder("control", out, resume)
    with fanout.executor() as executor, Bars() as bars:
        echo(
            f"{draws} random wirings per null model ({', '.join(cfg.nulls.kinds)}), each trained as the real wiring "
            f"({cfg.strategies[0]}, {cfg.ensemble} networks, l2 {cfg.finetune.l2}) on the same folds; device "
            f"{cfg.device}; fits: {executor.description}"
        )
        result = studies.control(loaded, cfg, out, executor, bars, resume, fanout.cache_dir, command_line())
    typer.echo(control_table(result.report, loaded.dataset.target_columns[0]))
    _written(t0, out, result.report["files"])


_FLUX_CONTROL_OPTIONS = {"null", "predictor", "draws", "cv", "folds", "group_by", "seed", "out", "resume"}


def _refuse_network_options(ctx):
    """``control --predictor flux`` trains no network: a network option given there would be ignored, so it is
    refused, by name."""
    own = (
        _FLUX_CONTROL_OPTIONS
        | set(studies.DataOptions.__dataclass_fields__)
        | {"masks_file"}
        | set(Fanout.__dataclass_fields__)
    )
    given = [
        name
        for name in ctx.params
        if name not in own and getattr(ctx.get_parameter_source(name), "name", None) in ("COMMANDLINE", "ENVIRONMENT")
    ]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UserError(
            f"{flags}: control --predictor flux trains no network; drop {'it' if len(given) == 1 else 'them'}"
        )


def _flux_control(data, fanout, null, draws, cv, folds, group_by, seed, out, resume, t0):
    """control --predictor flux: the flux predictors against their gene-permutation null."""
    if null not in (None, "genes"):
        raise UserError(
            f"--null {null}: with --predictor flux the null is genes (the gene labels permuted before the "
            "gene-protein-reaction rules); drop --null"
        )
    cfg = _config(
        "default", "cpu", cv=cv, folds=folds, group_by=group_by, seed=seed, baselines="none", final_model=False
    )
    loaded = _data(data, cfg)
    out = studies.run_folder("control", out, resume)
    with fanout.executor() as executor, Bars() as bars:
        echo(
            f"{draws} permutations of the gene labels, each through E-Flux and the flux predictors on the same "
            f"{cv} folds; draws: {executor.description}"
        )
        result = studies.flux_control(
            loaded,
            out,
            scheme=cv,
            folds=folds,
            seed=seed,
            draws=draws,
            executor=executor,
            progress=bars,
            resume=resume,
            command=command_line(),
        )
    typer.echo(flux_control_table(result.report, loaded.dataset.target_columns[0]))
    _written(t0, out, result.report["files"])


# ---------------------------------------------------------------- curve
@data_options
@network_options("pretrain_samples", "batch", "pretrain_lr", "finetune_lr", "max_steps", "ensemble")
@fanout_options
def curve(
    data: studies.DataOptions,
    network: dict,
    fanout: Fanout,
    wiring: str = WIRING,
    ica_components: int = ICA_COMPONENTS,
    labels: str = typer.Option("10,20,40,80,all", "--labels", help="labelled samples per fit: counts and/or all"),
    draws: int = typer.Option(5, "--draws", min=1, help="subsets drawn per label count and way of drawing"),
    draw_by: str = typer.Option(
        "projects,random", "--draw-by", help="projects (whole projects), random (samples from every project), or both"
    ),
    models: str = typer.Option(
        "B,C,paper",
        "--models",
        help="networks: B, C (the default preset's settings), "
        "paper (the paper's C), C+denoise (denoising pre-training), C+readout (only "
        "the read-out tuned on the pre-trained nodes), C+anchor (the penalty pulls "
        "toward the pre-trained weights)",
    ),
    baselines: str = typer.Option(
        "random_forest,ridge_linked,mean",
        "--baselines",
        help="baselines on the same subsets (a comma list, all or none)",
    ),
    cv: str = typer.Option("grouped", "--cv", help="grouped, kfold or lopo (one scheme)"),
    folds: int = FOLDS,
    group_by: str = GROUP_BY,
    seed: int = typer.Option(0, "--seed", help="the folds', networks' and subsets' seed"),
    device: str = DEVICE,
    out: Path | None = OUT,
    resume: bool = RESUME,
):
    """Learning curves: every model fitted on subsets of N labelled samples of each fold's training samples
    (N = --labels; the pre-training pool stays every profile outside the held-out fold), scored on the usual
    held-out folds; does pre-training pay where labels are few?"""
    from sparsenet.config.run_config import CurveSpec
    from sparsenet.config.choices import CURVE_DRAWS as KINDS
    from sparsenet.config.choices import parse_labels

    t0 = time.perf_counter()
    kinds = list(KINDS) if draw_by.strip() == "both" else [k.strip() for k in draw_by.split(",") if k.strip()]
    spec = CurveSpec(tuple(parse_labels(labels)), draws, tuple(kinds), seed)
    configs = studies.curve_configs(
        [m.strip() for m in models.split(",") if m.strip()],
        baselines,
        spec,
        cv=cv,
        folds=folds,
        group_by=group_by,
        seed=seed,
        device=device,
        wiring=wiring,
        ica_components=ica_components,
        **network,
    )
    first = next(iter(configs.values()))
    loaded = _data(data, first, read_out=True)
    out = studies.run_folder("curve", out, resume)
    with fanout.executor() as executor, Bars() as bars:
        echo(
            f"label counts {', '.join(map(str, first.curve.labels))}; {draws} draws each, drawn by "
            f"{', '.join(first.curve.kinds)}; device {first.device}; fits: {executor.description}"
        )
        result = studies.curve(loaded, configs, out, executor, bars, resume, fanout.cache_dir, command_line())
    typer.echo(curve_table(result.report["curve"], loaded.dataset.target_columns[0]))
    _written(t0, out, result.report["files"])


# ---------------------------------------------------------------- robustness
@data_options
@network_options("pretrain_samples", "batch", "pretrain_lr", "finetune_lr", "max_steps", "tol", "tune")
@fanout_options
def robustness(
    data: studies.DataOptions,
    network: dict,
    fanout: Fanout,
    strategy: str = typer.Option("C", "--strategy", help="A, B or C"),
    cv: str = CV,
    folds: int = FOLDS,
    group_by: str = GROUP_BY,
    seed: int = SEED,
    device: str = DEVICE,
    preset: str = PRESET,
    percents: str = typer.Option("25,50,75", "--percent", help="p values: p % of samples get p % noise"),
    where: str = typer.Option(
        "pretrain,finetune,both", "--where", help="noise in pretrain, finetune or both data (comma list, or all)"
    ),
    out: Path | None = OUT,
    resume: bool = RESUME,
):
    """The paper's Fig. 1F: choose p % of the samples, add p % noise, p = 25/50/75, in pre-training data,
    fine-tuning data or both; r and % within 20 % against the clean run (held-out samples never noised)."""
    t0 = time.perf_counter()
    try:
        ps = [float(p) for p in percents.split(",")]
    except ValueError:
        raise UserError(f"--percent {percents!r}: give numbers like 25,50,75") from None
    check_choice("strategy", strategy)
    cfg = _config(
        preset,
        device,
        strategy=strategy,
        cv=cv,
        folds=folds,
        group_by=group_by,
        seed=seed,
        final_model=False,
        **network,
    )
    wheres = ["pretrain", "finetune", "both"] if where.strip() == "all" else [w.strip() for w in where.split(",")]
    if studies.noise_wheres(cfg, wheres) != wheres:
        echo(f"strategy {strategy} has no pre-training: noise only in fine-tuning data")
    loaded = _data(data, cfg)
    out = studies.run_folder("robustness", out, resume)
    with fanout.executor() as executor, Bars() as bars:
        result = studies.robustness(
            loaded, cfg, ps, wheres, out, executor, bars, resume, fanout.cache_dir, command_line()
        )
    typer.echo(robustness_table(result))
    typer.echo(f"wall time {time.perf_counter() - t0:.0f} s. {out / 'robustness.json'}, {out / 'robustness.png'}")


# ---------------------------------------------------------------- predict
def predict(
    checkpoint: Path = typer.Argument(
        ...,
        help="model.h5 from sparsenet train (phenotypes), or "
        "classifier.h5 from sparsenet classify (class probabilities)",
    ),
    data: Path = typer.Argument(..., help="expression file (CSV/TSV, HDF5, .h5ad)"),
    out: Path = typer.Option(..., "-o", "--out", help="predictions CSV to write"),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="reference sample IDs in DATA "
        "(default: the checkpoint's, if DATA has them, else its stored "
        "reference profile); 'none': DATA holds log2 fold changes",
    ),
    orientation: str = ORIENTATION,
    masks_file: Path | None = typer.Option(None, "--masks", help="check the checkpoint was trained with these masks"),
    level: float = typer.Option(
        0.9, "--level", help="interval level: lower/upper from the held-out residuals of the model's cross-validation"
    ),
    device: str = DEVICE,
    na_values: str | None = NA_VALUES,
    gene_ids: str = GENE_IDS,
    duplicates: str = DUPLICATES,
    strict: bool = STRICT,
):
    """Predict phenotypes for every sample of DATA, by sample ID: the ensemble's mean, an interval at --level
    from the cross-validation's held-out residuals (a growth rate's lower bound never below 0), the networks'
    spread, and a flag saying why to doubt a prediction.

    The flag "far from the training data (d > t)": d is the sample's root-mean-square distance, over the genes
    the masks link, to its nearest training sample (inputs standardised as in training); t is the 95th
    percentile of the training samples' distances to their nearest sample of another project, so a flagged
    sample is farther from everything trained on than a new project usually is. "N % of the linked genes in the
    data": DATA lacks genes the model was trained with (under 50 % is refused). A prediction below its
    phenotype's range (a negative growth rate) is flagged too. A classifier.h5 from sparsenet classify gives
    class probabilities instead."""
    from sparsenet.runs.predictions import predict_classes_file, predict_file
    from sparsenet.training.pathway_model import is_pathway_model_file

    if out.suffix.lower() not in (".csv", ".tsv"):
        raise UserError(f"{out}: predictions are written as .csv")
    check_output_folder(out)
    if is_pathway_model_file(checkpoint):  # classifier.h5 from sparsenet classify: class probabilities
        classes = predict_classes_file(checkpoint, data, orientation=orientation, device=device)
        for note in classes.notes:
            echo(note)
        write_text(out, classes.csv())
        flagged = sum(bool(f) for f in classes.flags())
        typer.echo(
            f"{out}: {len(classes.sample_ids)} samples, the probability of each class "
            f"({', '.join(classes.classes)}); {flagged} flagged for missing wired features"
        )
        return
    masks = read_masks_file(masks_file)[0] if masks_file else None
    result = predict_file(
        checkpoint,
        data,
        reference=reference,
        orientation=orientation,
        masks=masks,
        level=level,
        device=device,
        na_values=na_list(na_values),
        gene_ids=gene_ids,
        duplicates=duplicates,
    )
    echo(result.alignment)
    echo(result.gene_labels)
    echo_checks(result.checks, strict)
    write_text(out, result.csv())
    typer.echo(f"{out}: {result.n_samples} samples, {result.how}; {result.said()}")


def rank(
    expression: Path | None = typer.Option(
        None, "--expression", help="expression file, log2 levels (default: PRECISE)", rich_help_panel="Data"
    ),
    samples: Path | None = typer.Option(
        None,
        "--samples",
        help="a table naming each sample's group (first column, or --sample-column: the sample IDs)",
        rich_help_panel="Data",
    ),
    group_by: str | None = typer.Option(
        None,
        "--group-by",
        help="the column of --samples whose groups are ranked apart (an experiment, a project; PRECISE: project)",
        rich_help_panel="Data",
    ),
    sample_column: str | None = typer.Option(
        None, "--sample-column", help="the sample ID column of --samples (default: the first)", rich_help_panel="Data"
    ),
    orientation: str = ORIENTATION,
    transform: str = TRANSFORM,
    gene_ids: str = GENE_IDS,
    duplicates: str = DUPLICATES,
    masks_file: Path | None = MASKS,
    out: Path = typer.Option(..., "-o", "--out", help="ranking CSV to write"),
):
    """Rank samples by growth with no labels: E-Flux's biomass flux of each sample (bounds scaled over the
    samples given), ranked within each group. The order within a group is the claim, not the values; its
    recorded gene-permutation null is printed with it."""
    from sparsenet.masks.store import read_masks, shipped_mask_path
    from sparsenet.report.evidence import ranking_statement
    from sparsenet.studies.growth_ranking import rank_file
    from sparsenet.training.checkpoint import mask_fingerprint

    if out.suffix.lower() not in (".csv", ".tsv"):
        raise UserError(f"{out}: the ranking is written as .csv")
    check_output_folder(out)
    ranking, said = rank_file(
        expression,
        samples=samples,
        group_by=group_by,
        sample_column=sample_column,
        masks_file=masks_file,
        orientation=orientation,
        transform=transform,
        gene_ids=gene_ids,
        duplicates=duplicates,
        progress=echo,
    )
    for line in said:
        echo(line)
    write_text(out, ranking.csv())
    failed = sum(s != "optimal" for s in ranking.status)
    groups = len(set(ranking.groups))
    typer.echo(
        f"{out}: {len(ranking.sample_ids)} samples in {groups} group(s) ranked by E-Flux growth "
        f"({ranking.genes_used} genes used){f'; {failed} not solved (status in the file)' if failed else ''}"
    )
    fingerprint = mask_fingerprint(read_masks(masks_file or shipped_mask_path("iJO1366")))
    typer.echo(ranking_statement(fingerprint))


# ---------------------------------------------------------------- report
def report(
    run: Path = typer.Argument(
        ..., metavar="RUN_DIR", help="a run folder of sparsenet train, control, curve or robustness"
    ),
):
    """(Re)write RUN_DIR/report.html: the run on one self-contained page (figures and styles inline, nothing
    fetched), from the folder's report and results files; a line for anything they do not allow."""
    from sparsenet.report.html import write_html

    page = write_html(run)
    for line in page.missing:
        echo(f"missing: {line}")
    typer.echo(f"written: {page.path}")


# ---------------------------------------------------------------- links
def links(
    source: Path = typer.Argument(
        ...,
        metavar="MODEL_OR_RUN",
        help="model.h5 from sparsenet train, or a finished run folder of sparsenet train or control",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="CSV to write"),
    by: str = typer.Option(
        "link",
        "--by",
        help="link: one row per gene -> phenotype link; gene: one row per "
        "gene, its links' summed |weight| (strongest first), sign agreement over folds, "
        "null percentile of its strongest link",
    ),
):
    """Export the learned weight of every biological link (gene, protein, phenotype) and on each target: the
    model's networks (mean and sd), and from a run folder also over every fold's networks, with each link's
    percentile under the null wirings where a control was run; --by gene ranks the genes."""
    from sparsenet.runs.links import links_of, table_csv

    check_output_folder(out)
    table, what, how = links_of(source, by)
    text = table_csv(table)
    write_text(out, text)
    typer.echo(f"{out}: {text.count(chr(10)) - 1} {what}; {how}")


# ---------------------------------------------------------------- data precise, data spline
def precise_data():
    """Fetch the PRECISE compendium once and print where its files are (expression, samples, the
    regulatory network trn.csv, the iModulon weights M.csv)."""
    from sparsenet.data import precise

    for name, path in precise.precise_files(progress=echo, names=tuple(precise.FILES)).items():
        typer.echo(f"{name}\t{path}")


def spline(
    expression: Path = typer.Argument(..., help="time-series expression file (any supported format)"),
    phenotypes: Path = typer.Argument(..., help="numeric table by sample ID: a time column + phenotypes"),
    time_column: str = typer.Option(..., "--time", help="column of PHENOTYPES holding each sample's time"),
    n: int = typer.Option(1000, "-n", min=1, help="synthetic pairs to make"),
    out: Path = typer.Option(..., "-o", "--out", help="new folder for expression.csv and phenotypes.csv"),
    orientation: str = ORIENTATION,
    masks_file: Path | None = typer.Option(
        None, "--masks", help="masks whose gene IDs detect the orientation (default: iJO1366)"
    ),
):
    """Smooth a paired time series with cubic splines into N synthetic transcriptome/phenotype pairs."""
    from sparsenet.data.spline import spline_files

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out}: already exists; choose a new folder")
    if not out.parent.exists():
        raise UserError(f"{out}: folder {out.parent} does not exist")
    tables = spline_files(expression, phenotypes, time_column, n, read_masks_file(masks_file)[0].gene_ids, orientation)
    out.mkdir(exist_ok=True)
    write_text(out / "expression.csv", tables.expression_csv)
    write_text(out / "phenotypes.csv", tables.phenotypes_csv)
    typer.echo(
        f"{out}: {n} synthetic pairs from {tables.time_points} time points ({tables.samples} samples, "
        f"{tables.genes} genes, {tables.phenotypes} phenotypes)"
    )
