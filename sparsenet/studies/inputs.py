"""What every study starts from: the data options (files and reading rules, one object), the data set
they load with its masks, the run folder (fresh, or resumed with the same settings), and how its fits run
(``run_plan``)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_json
from ..data.dataset import Dataset, load_dataset
from ..data.spec import DataSpec
from ..data.tables import NA_VALUES
from ..progress import Stage
from ..runs.plan import Executor, Plan, PlanOutcome


@dataclass(frozen=True)
class DataOptions:
    """Where a study's data come from and how to read them (the PRECISE default where files are not given).

    expression, phenotypes : files (both or neither; neither: PRECISE, fetched once)
    reference : comma-separated reference sample IDs ('none': the values are log2 fold changes already)
    orientation : 'auto', 'genes-by-samples' or 'samples-by-genes'
    phenotype : phenotype columns to fit (empty: every column that maps; PRECISE: growth rate)
    mapping : 'COLUMN=PHENOTYPE' pairs (a phenotype ID or name of the masks)
    sample_column, keep_zero, pretrain_data : as ``DataSpec``
    na_values : comma-separated cell texts read as missing ('empty': an empty cell; None: the usual ones)
    gene_ids, duplicates : how genes are named and what several rows of one gene become (``data.genes``)
    masks : masks file (None: the shipped iJO1366 masks)
    transform : 'log2p1': the expression values are linear (TPM, counts) and become log2(x + 1)
    strict : a data warning stops the study (``load_data`` raises it)
    """

    expression: Path | None = None
    phenotypes: Path | None = None
    reference: str | None = None
    orientation: str = "auto"
    phenotype: tuple = ()
    mapping: tuple = ()
    sample_column: str | None = None
    keep_zero: bool = False
    pretrain_data: Path | None = None
    na_values: str | None = None
    gene_ids: str = "auto"
    duplicates: str = "mean"
    masks: Path | None = None
    strict: bool = False
    transform: str = "none"

    def spec(self, group_by: str | None, progress=None) -> DataSpec:
        """The DataSpec of these options, groups by ``group_by`` (None: no groups)."""
        from ..data import precise

        expression, phenotypes, reference, columns = self.expression, self.phenotypes, self.reference, self.phenotype
        if (expression is None) != (phenotypes is None):
            raise ValueError("give both --expression and --phenotypes, or neither (the PRECISE default)")
        if expression is None:
            files = precise.precise_files(progress=progress)
            expression, phenotypes = files["log_tpm.csv"], files["sample_table.csv"]
            reference = reference if reference is not None else ",".join(precise.REFERENCE_SAMPLES)
            columns = columns or (precise.GROWTH_COLUMN,)
        refs = [] if reference in (None, "", "none") else [r.strip() for r in reference.split(",") if r.strip()]
        pairs = {}
        for m in self.mapping:
            if "=" not in m:
                raise ValueError(f"--map {m!r}: write it as 'COLUMN=PHENOTYPE' (a phenotype ID or name of the masks)")
            k, v = m.split("=", 1)
            pairs[k.strip()] = v.strip()
        return DataSpec(
            expression,
            phenotypes,
            refs,
            self.orientation,
            tuple(columns),
            pairs,
            self.sample_column,
            group_by or None,
            self.keep_zero,
            self.pretrain_data,
            na_list(self.na_values),
            self.gene_ids,
            self.duplicates,
            self.transform,
        )


def na_list(na_values: str | None) -> tuple:
    """'empty,NA' -> ('', 'NA'); None: the usual missing-value texts."""
    if na_values is None:
        return NA_VALUES
    return tuple("" if v.strip().lower() == "empty" else v.strip() for v in na_values.split(","))


def stop_at_warnings(warnings) -> None:
    """With ``--strict``: the first data warning as an error (how many there were, said with it)."""
    if warnings:
        raise ValueError(
            f"{warnings[0]} (--strict: stopped; {len(warnings)} warning{'s' if len(warnings) > 1 else ''})"
        )


def read_masks_file(path=None):
    """(masks, the path they came from): ``path``, or the shipped iJO1366 masks."""
    from ..masks.store import read_masks, shipped_mask_path

    path = path or shipped_mask_path("iJO1366")
    return read_masks(path), str(path)


@dataclass(frozen=True)
class StudyData:
    """A study's data set and its masks' provenance (file and fingerprint: what ``--resume`` compares)."""

    dataset: Dataset
    masks: dict


def load_data(options: DataOptions, cfg, read_out: bool | None = None, progress=None) -> StudyData:
    """Read the masks and the data of ``options`` for the run ``cfg`` (grouped by ``cfg.group_by`` where its
    schemes need groups) and refuse, in one line, data no cross-validation can learn from; with
    ``options.strict`` the first data warning is an error. ``read_out``: the network reads targets out of every
    node (default: ``cfg``'s head)."""
    from ..runs.folds import check_trainable
    from ..training.checkpoint import mask_fingerprint

    masks, path = read_masks_file(options.masks)
    group_by = cfg.group_by if {"grouped", "lopo"} & set(cfg.cv) else None
    spec = options.spec(group_by, progress)
    ds = load_dataset(masks, spec, read_out=cfg.architecture.head == "readout" if read_out is None else read_out)
    if options.strict:
        stop_at_warnings(ds.summary["checks"]["warnings"])
    check_trainable(ds, cfg.cv, cfg.folds, spec.group_by)
    return StudyData(ds, {"file": path, "fingerprint": mask_fingerprint(masks)})


def run_folder(command: str, out: Path | None, resume: bool) -> Path:
    """``out``, or (not resuming) a new runs/COMMAND-DATE-TIME."""
    if out is not None:
        return Path(out)
    if resume:
        raise ValueError(f"--resume needs the --out folder of the {command} to continue")
    return Path("runs") / f"{command}-{datetime.datetime.now():%Y%m%d-%H%M%S}"


def prepare_out(out: Path, resume: bool, settings: dict) -> None:
    """A fresh run folder with ``state/config.json`` (the settings it starts with), or, with ``resume``, the
    folder of a run started with the same settings (anything else is refused, naming what differs)."""
    out = Path(out)
    state = out / "state"
    cfg_file = state / "config.json"
    if resume:
        if not cfg_file.exists():
            raise ValueError(f"{out}: no run to resume here (no state/config.json); drop --resume")
        old = json.loads(cfg_file.read_text())
        now = json.loads(json.dumps(settings))
        if old != now:
            diff = [k for k in now if old.get(k) != now[k]]
            raise ValueError(
                f"{out}: started with different settings ({', '.join(diff)}); resume with the same "
                "options or choose a fresh --out"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise ValueError(
            f"{out}: already exists and is not empty; pass --resume to continue that run or choose another --out"
        )
    state.mkdir(parents=True, exist_ok=True)
    write_json(cfg_file, settings)


def run_plan(runners, executor: Executor | None = None, progress=None) -> PlanOutcome:
    """Every fit of ``runners`` as one plan on ``executor`` (default: serially here); ``progress`` first hears
    ``('plan', 'fits', 0, n_tasks, None)``, then every stage."""
    plan = Plan(runners)
    if progress:
        progress(Stage("plan", "fits", 0, plan.n_tasks))
    return (executor or Executor()).run(plan, progress)
