"""What the shipped controls found about a wiring, said wherever a result is shown (``train``'s summary):
"biology-guided" only for a wiring whose gain over its null wirings is significant; otherwise a sparse,
regularised network whose wiring is not shown to matter on those data, with the numbers.

The shipped ``controls.json`` (package data, the repository's ``data/``) holds, per masks fingerprint, the
results of ``sparsenet control`` runs; ``--wiring ica`` controls under the fingerprint and the number of
components (``wiring_key``). ``record`` adds one from a finished run folder to the user's own file
(``$SPARSENET_DATA`` or ``$XDG_DATA_HOME/sparsenet``, default ``~/.local/share/sparsenet/controls.json``),
never into the installed package; ``load`` reads both, the user's entries over the shipped ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..masks.store import shipped_file
from ..stats.nulls import SIGNIFICANT

SHIPPED = "controls.json"


def user_file() -> Path:
    """Where ``record`` writes: the user's data folder, outside the installed package."""
    root = os.environ.get("SPARSENET_DATA") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "sparsenet"
    )
    return Path(root) / "controls.json"


def _read(path: Path) -> dict:
    return json.loads(Path(path).read_text()) if Path(path).exists() else {}


def load(path: Path | None = None) -> dict:
    """The recorded controls: ``path`` alone, or (None) the shipped ones with the user's recorded over them."""
    if path is not None:
        return _read(path)
    merged = _read(shipped_file(SHIPPED))
    for key, labels in _read(user_file()).items():
        merged[key] = {**merged.get(key, {}), **labels}
    return merged


_KEPT = ("real", "null_mean", "null_sd", "rank", "draws", "p")


def _kept(metrics: dict) -> dict:
    """Per metric, what an evidence entry keeps of a control's result."""
    return {m: {k: v[k] for k in _KEPT} for m, v in metrics.items()}


def _write(path: Path, evidence: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(evidence, indent=1, sort_keys=True) + "\n")


def _join(tested: dict, label: str, entry: dict, same: tuple, part: str) -> None:
    """Put ``entry`` under ``label`` in ``tested``; an entry already there for the same split (its ``same`` keys
    equal) keeps its ``part`` results that this one lacks; one of another split is refused."""
    before = tested.get(label)
    if before is not None:
        if any(before[k] != entry[k] for k in same):

            def split(e):
                return ", ".join(f"{k.replace('_', ' ')} {e[k]}" for k in same)

            raise ValueError(
                f"{label!r} already holds a control with {split(before)}; this run has {split(entry)}: "
                "record it under another label"
            )
        entry[part] = {**before[part], **entry[part]}
    tested[label] = entry


def _as_dict(wiring) -> dict | None:
    return dataclasses.asdict(wiring) if dataclasses.is_dataclass(wiring) else wiring


def wiring_key(fingerprint: str, wiring: dict | None = None) -> str:
    """The key a wiring's controls are kept under: the masks' fingerprint, or for ``--wiring ica`` (each fit
    wired to its own independent components over the masks' genes, not to the masks) the fingerprint and the
    number of components, so an ICA control never stands for the masks' own wiring. ``wiring``: a configuration's
    (``IcaWiring``) or the dict a report keeps of it."""
    wiring = _as_dict(wiring)
    return fingerprint if not wiring else f"{fingerprint}+{wiring['kind']}{wiring['components']}"


def record(run_folder, label: str, path: Path | None = None) -> dict:
    """Add a finished control's results (per null model and metric: p, rank, draws, the real value and the
    null's mean) to ``path`` under its masks' fingerprint and ``label`` (data and split, in words). A control
    of other null models on the same split and network seeds, recorded under the same label, joins the
    entry (a null model run again replaces its earlier result); another split or seed needs another label.
    ``path`` defaults to the user's file (``user_file()``); the shipped file is copied from the repository's
    ``data/controls.json`` by hand when a result is to ship."""
    path = Path(path) if path is not None else user_file()
    report = json.loads((Path(run_folder) / "report.json").read_text())
    control = report["control"]
    col = next(iter(next(iter(control["null_models"].values()))["phenotypes"]))
    entry = {
        "data": label,
        "scheme": control["scheme"],
        "network_seeds": control["network_seeds"],
        "masks_file": Path(report["masks"]["file"]).name,
        "null_models": {},
    }
    for kind, e in control["null_models"].items():
        entry["null_models"][kind] = _kept(e["phenotypes"][col])
    evidence = _read(path)
    key = wiring_key(report["masks"]["fingerprint"], report.get("settings", {}).get("wiring"))
    _join(evidence.setdefault(key, {}), label, entry, ("scheme", "network_seeds"), "null_models")
    _write(path, evidence)
    return entry


def flux_key(fingerprint: str) -> str:
    """The key the flux predictors' gene-permutation controls are kept under (never a wiring's)."""
    return f"{fingerprint}+fluxes"


def record_flux(run_folder, label: str, path: Path | None = None, predictors=None) -> dict:
    """Add a finished ``control --predictor flux`` (per predictor and metric: p, rank, draws, the real value and
    the null's mean) to ``path`` (default: the user's file) under its masks' fingerprint and ``label``;
    ``predictors``: only these of the run's (default: all). Another run of other predictors on the same split
    and seed, recorded under the same label, joins the entry (a predictor run again replaces its result)."""
    path = Path(path) if path is not None else user_file()
    report = json.loads((Path(run_folder) / "report.json").read_text())
    control = report["flux_control"]
    chosen = list(control["predictors"]) if predictors is None else list(predictors)
    missing = [p for p in chosen if p not in control["predictors"]]
    if missing:
        raise ValueError(
            f"{run_folder}: the run has no {', '.join(missing)}; it has {', '.join(control['predictors'])}"
        )
    entry = {
        "data": label,
        "scheme": control["scheme"],
        "seed": control["seed"],
        "null_model": control["null_model"],
        "masks_file": Path(report["masks"]["file"]).name,
        "predictors": {},
    }
    for name in chosen:
        e = control["predictors"][name]
        entry["predictors"][name] = _kept(e["phenotypes"][next(iter(e["phenotypes"]))])
    evidence = _read(path)
    _join(
        evidence.setdefault(flux_key(report["masks"]["fingerprint"]), {}),
        label,
        entry,
        ("scheme", "seed", "null_model"),
        "predictors",
    )
    _write(path, evidence)
    return entry


def flux_statement(fingerprint: str, predictor: str, path: Path | None = None) -> str:
    """One sentence on whether the flux predictor ``predictor`` is shown to use the gene -> reaction mapping of
    these masks' model (its r against its gene-permutation null), and where."""
    tested = {
        label: e["predictors"][predictor]
        for label, e in load(path).get(flux_key(fingerprint), {}).items()
        if predictor in e["predictors"]
    }
    if not tested:
        return (
            f"{predictor}: not tested against its gene-permutation null; `sparsenet control --predictor flux` "
            "(same data options) runs it"
        )
    parts = [f"{label}: p = {e['pearson_r']['p']:.3f} ({e['pearson_r']['draws']} draws)" for label, e in tested.items()]
    if all(e["pearson_r"]["p"] < SIGNIFICANT for e in tested.values()):
        return f"{predictor}: beyond its gene-permutation null in r ({'; '.join(parts)})"
    return (
        f"{predictor}: not shown to use the gene -> reaction mapping (empirical p of its r against permuted gene "
        f"labels: {'; '.join(parts)})"
    )


def wiring_statement(fingerprint: str, path: Path | None = None, *, wiring: dict | None = None) -> str:
    """One sentence on whether these masks' wiring (or, with ``wiring``, the run's own wiring over the masks'
    genes) has been shown to matter, and where."""
    wiring = _as_dict(wiring)
    tested = load(path).get(wiring_key(fingerprint, wiring))
    if not tested and wiring:
        return (
            f"wiring: each fit's own {wiring['components']} independent components of its pre-training pool; "
            "`sparsenet control --wiring ica` tests them against random wirings of the same folds"
        )
    if not tested:
        return (
            "wiring: not tested against null wirings; `sparsenet control` (same options) trains the same network "
            "on randomised copies of the masks and says whether this wiring beats them"
        )
    parts, significant = [], []
    for label, entry in tested.items():
        ps = {kind: v["pearson_r"]["p"] for kind, v in entry["null_models"].items()}
        parts.append(f"{label}: " + ", ".join(f"{k} p = {p:.3f}" for k, p in ps.items()))
        significant.append(all(p < SIGNIFICANT for p in ps.values()))
    if all(significant):
        return (
            f"wiring: biology-guided: beyond its null wirings in r ({'; '.join(parts)}); `sparsenet control` "
            "tests it on other data"
        )
    return (
        "wiring: a sparse, regularised network whose wiring is not shown to matter (empirical p of its r against "
        f"random wirings trained the same way: {'; '.join(parts)}); `sparsenet control` tests it on your data"
    )


# ---------------------------------------------------------------- classification (sparsenet classify)
def classify_key(fingerprint: str) -> str:
    """The key a pathway hierarchy's classification controls are kept under (``Hierarchy.fingerprint``)."""
    return f"{fingerprint}+classify"


def record_classification(run_folder, label: str, path: Path | None = None) -> dict:
    """Add a finished ``classify --control N`` (per null model and metric: p, rank, draws, the real value and the
    null's mean) to ``path`` (default: the user's file) under its hierarchy's fingerprint and ``label`` (data,
    task and split, in words). Whether every model scored at the ceiling (AUC > 0.97) is kept with it."""
    path = Path(path) if path is not None else user_file()
    record = json.loads((Path(run_folder) / "classification.json").read_text())
    if "control" not in record:
        raise ValueError(f"{run_folder}: the run has no control; run classify with --control 50")
    fingerprint = record["hierarchy"].get("fingerprint")
    if not fingerprint:
        raise ValueError(
            f"{run_folder}: its classification.json names no hierarchy fingerprint (written before 0.6.0); run it again"
        )
    res = record["result"]
    entry = {
        "data": label,
        "folds": res["settings"]["folds"],
        "repeats": res["settings"]["repeats"],
        "seed": res["settings"]["seed"],
        "classes": res["classes"],
        "ceiling": at_ceiling(res["models"]),
        "null_models": {},
    }
    for kind, e in record["control"]["null_models"].items():
        entry["null_models"][kind] = _kept({m: e[m] for m in ("roc_auc", "log_loss") if m in e})
    evidence = _read(path)
    _join(evidence.setdefault(classify_key(fingerprint), {}), label, entry, ("folds", "repeats", "seed"), "null_models")
    _write(path, evidence)
    return entry


def at_ceiling(models: dict, auc: float = 0.97) -> bool:
    """Every model but the majority class above ``auc``: a task that cannot tell wirings apart."""
    aucs = [m["roc_auc"]["mean"] for name, m in models.items() if name != "majority"]
    return bool(aucs) and min(aucs) > auc


def classification_statement(
    fingerprint: str, control: dict | None = None, models: dict | None = None, path: Path | None = None
) -> dict:
    """Whether this hierarchy's wiring is shown to matter for classification, and on what evidence:
    ``source`` 'this run' (``control``: this run's, with ``models`` its scores), 'recorded' (a control recorded
    for the same hierarchy on other runs: said as such, never as this run's), or 'none'; ``text``: one sentence."""
    if control:
        ps = {kind: e["roc_auc"]["p"] for kind, e in control["null_models"].items()}
        parts = ", ".join(f"{k} p = {p:.3f}" for k, p in ps.items())
        head = f"this run's control, {control['draws']} draws per null model"
        ceiling = models is not None and at_ceiling(models)
        return {"source": "this run", "text": _verdict(head, parts, all(p < SIGNIFICANT for p in ps.values()), ceiling)}
    tested = load(path).get(classify_key(fingerprint), {})
    if not tested:
        return {
            "source": "none",
            "text": "wiring: not tested against null wirings; --control 50 trains the same "
            "network on 50 randomised wirings per null model and says whether this one "
            "beats them",
        }
    texts = []
    for label, e in tested.items():
        ps = {kind: v["roc_auc"]["p"] for kind, v in e["null_models"].items()}
        parts = ", ".join(f"{k} p = {p:.3f}" for k, p in ps.items())
        draws = next(iter(e["null_models"].values()))["roc_auc"]["draws"]
        texts.append(
            _verdict(
                f"recorded control on {label}, {draws} draws per null model; not this run's",
                parts,
                all(p < SIGNIFICANT for p in ps.values()),
                e.get("ceiling", False),
            )
        )
    return {"source": "recorded", "text": " ".join(texts) + " --control 50 runs it on these data."}


def _verdict(head: str, parts: str, significant: bool, ceiling: bool) -> str:
    if ceiling:
        return (
            f"wiring ({head}): {parts}; the task is at the ceiling (every model AUC > 0.97), so it cannot show "
            "whether the wiring matters."
        )
    if significant:
        return f"wiring ({head}): beyond its null wirings in ROC AUC ({parts})."
    return f"wiring ({head}): not shown to matter (empirical p of its ROC AUC against random wirings: {parts})."


def ranking_statement(fingerprint: str, path: Path | None = None) -> str:
    """What the label-free E-Flux ranking (``sparsenet rank``) of these masks' model is worth, from its recorded
    gene-permutation null (``benchmarks/eflux_ranking_null.py``), and how it compares with a trained network."""
    tested = {
        label: e["predictors"]["eflux_rank"]
        for label, e in load(path).get(flux_key(fingerprint), {}).items()
        if "eflux_rank" in e.get("predictors", {})
    }
    if not tested:
        return (
            "the ranking of these masks' model is not tested against its gene-permutation null; "
            "benchmarks/eflux_ranking_null.py runs it on labelled data"
        )
    parts = []
    for label, e in tested.items():
        r, s = e["within_group_r"], e.get("within_group_spearman")
        parts.append(
            f"{label}: within-project r {r['real']:+.3f} against {r['draws']} gene-permuted mappings' "
            f"{r['null_mean']:+.3f} ± {r['null_sd']:.3f} (p = {r['p']:.3f}"
            + (f"; Spearman {s['real']:+.3f}, p = {s['p']:.3f}" if s else "")
            + ")"
        )
    return (
        "recorded: " + "; ".join(parts) + ". The order within an experiment is the claim, not the values "
        "across experiments; a network trained on labels ranks far better (within-project r ~0.58 on PRECISE)"
    )
