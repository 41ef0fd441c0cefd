"""A pathway-wired classifier cross-validated beside its baselines on the same folds, and its wiring held
against randomised wirings trained the same way: the study behind ``sparsenet classify``.

Folds are stratified by class (grouped too, where groups are given: every sample of a group on one side),
repeated with new shuffles. Every model sees the same folds; inputs are standardised on each fold's
training samples. Scores per fold: ROC AUC (one-vs-rest, macro, for k classes), balanced accuracy, log loss
and Brier score; a model's score is the mean over folds and repeats, its spread their sd.

The control: for each null model (``masks.randomise.randomise_levels``: features permuted, edges rewired
with degrees kept, density-matched random) ``draws`` wirings, each trained on the same folds with the same
settings and seeds; the real wiring's mean AUC against theirs (``stats.nulls.compare``: a draw that
ties counts as at least as good). Node importances (``training.pathway_network.node_importance``) on the
held-out samples of every fold, and each node's percentile among the same node's importance in the draws.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..allowed import one_of
from ..masks.randomise import KINDS, randomise_levels
from ..stats.nulls import compare
from ..training.pathway_network import PathwayTraining, class_probabilities, fit_network, fit_stacked, node_importance

BASELINES = ("logistic_all", "logistic_wiring", "forest", "majority")
BASELINE_WORDS = {
    "logistic_all": "L2 logistic regression on all features (penalty by inner 5-fold CV)",
    "logistic_wiring": "L2 logistic regression on the wiring's features (penalty by inner CV)",
    "forest": "random forest, 500 trees",
    "majority": "the training folds' majority class",
}
METRICS = ("roc_auc", "balanced_accuracy", "log_loss", "brier")


class ClassificationError(ValueError):
    """The data cannot be classified as asked; the message names the problem and the fix."""


@dataclass(frozen=True)
class ClassificationSettings:
    """Everything a classification study uses, fixed before it runs."""

    folds: int = 5
    repeats: int = 3
    seed: int = 0
    ensemble: int = 1
    training: PathwayTraining = field(default_factory=PathwayTraining)
    baselines: tuple = BASELINES
    stack: int = 1  # null draws trained at once as one stacked network (1: one by one)

    def __post_init__(self):
        for name in self.baselines:
            one_of("--baselines", name, BASELINES, ClassificationError)


def encode_classes(y) -> tuple:
    """(classes, integer codes); refuses one class."""
    y = np.asarray(y)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ClassificationError(
            f"the labels hold one class ({classes[0]!r} for all {y.size} samples): a "
            "classifier needs two or more; check the label column"
        )
    return classes, codes


def class_folds(codes, k: int, repeats: int, seed: int, groups=None) -> list:
    """``repeats`` x ``k`` (train, test) index pairs, stratified by class (and grouped where ``groups``)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    counts = np.bincount(codes)
    if groups is None and counts.min() < k:
        raise ClassificationError(
            f"a class has {counts.min()} samples, fewer than the {k} folds: lower --folds to "
            f"{max(2, int(counts.min()))} or gather more samples of that class"
        )
    if groups is not None:
        n_groups = len(set(np.asarray(groups, dtype=object).tolist()))
        if n_groups < k:
            raise ClassificationError(f"{n_groups} groups for {k} folds: lower --folds to {n_groups} or below")
    out = []
    for r in range(repeats):
        if groups is None:
            split = StratifiedKFold(k, shuffle=True, random_state=seed + r).split(np.zeros(codes.size), codes)
        else:
            split = StratifiedGroupKFold(k, shuffle=True, random_state=seed + r).split(
                np.zeros(codes.size), codes, groups
            )
        out.extend((np.sort(tr), np.sort(te)) for tr, te in split)
    return out


def standardised(X, train, test) -> tuple:
    """(train, test) inputs scaled by the training samples' mean and sd (a constant feature: sd 1), float32."""
    mean = X[train].mean(axis=0)
    sd = X[train].std(axis=0)
    sd[sd == 0] = 1.0
    return ((X[train] - mean) / sd).astype(np.float32), ((X[test] - mean) / sd).astype(np.float32)


def class_metrics(codes, proba, n_classes: int) -> dict:
    """ROC AUC, balanced accuracy, log loss and Brier score of class probabilities (NaN AUC where the fold
    holds one class)."""
    from sklearn.metrics import balanced_accuracy_score, log_loss, roc_auc_score

    proba = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1)
    proba = proba / proba.sum(axis=1, keepdims=True)
    present = np.unique(codes)
    if present.size < 2:
        auc = float("nan")
    elif n_classes == 2:
        auc = float(roc_auc_score(codes, proba[:, 1]))
    else:
        auc = float(roc_auc_score(codes, proba, multi_class="ovr", labels=np.arange(n_classes)))
    onehot = np.eye(n_classes)[codes]
    return {
        "roc_auc": auc,
        "balanced_accuracy": float(balanced_accuracy_score(codes, proba.argmax(axis=1))),
        "log_loss": float(log_loss(codes, proba, labels=np.arange(n_classes))),
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
    }


def wiring_features(levels) -> np.ndarray:
    """The features the wiring links to a level-1 node."""
    return np.flatnonzero(np.diff(levels[0].tocsc().indptr) > 0)


def baseline_probabilities(name: str, xtr, ytr, xte, n_classes: int, seed: int, features=None):
    """A baseline's class probabilities for the test samples (columns of every class, in code order)."""
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegressionCV

    if name == "majority":
        model = DummyClassifier(strategy="prior")
    elif name == "forest":
        model = RandomForestClassifier(500, random_state=seed, n_jobs=1)
    elif name in ("logistic_all", "logistic_wiring"):
        if name == "logistic_wiring":
            xtr, xte = xtr[:, features], xte[:, features]
        inner = min(5, int(np.bincount(ytr).min()))
        model = LogisticRegressionCV(
            Cs=10,
            cv=max(2, inner),
            l1_ratios=(0.0,),
            max_iter=5000,
            scoring="neg_log_loss",
            use_legacy_attributes=False,
        )
    else:
        raise ClassificationError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    model.fit(xtr, ytr)
    out = np.zeros((xte.shape[0], n_classes))
    out[:, model.classes_] = model.predict_proba(xte)
    return out


def _wirings_on_fold(
    wirings, X, codes, n_classes, fold, settings: ClassificationSettings, stacked: bool = False
) -> list:
    """Each wiring trained on one fold (``ensemble`` networks, seeds ``seed`` + k): per wiring its held-out
    probabilities and node importances (both the networks' mean) and each network's seconds. ``stacked``: the
    wirings' networks train as one (``fit_stacked``: the same gradients, one shared batch order, dropout
    drawing other entries); the seconds are then the stack's, shared out."""
    train, test = fold
    xtr, xte = standardised(X, train, test)
    e = settings.ensemble
    members = [levels for levels in wirings for _ in range(e)]
    seeds = [settings.seed + member for _ in wirings for member in range(e)]
    if stacked:
        start = time.perf_counter()
        nets = fit_stacked(members, xtr, codes[train], n_classes, settings.training, seeds, settings.seed)
        seconds = [(time.perf_counter() - start) / len(nets)] * len(nets)
    else:
        nets, seconds = [], []
        for m, s in zip(members, seeds, strict=True):
            start = time.perf_counter()
            nets.append(fit_network(m, xtr, codes[train], n_classes, settings.training, s))
            seconds.append(time.perf_counter() - start)
    out = []
    for i in range(len(wirings)):
        mine = nets[i * e : (i + 1) * e]
        proba = np.mean([class_probabilities(net, xte, n_classes) for net in mine], axis=0)
        imp = [sum(parts) / e for parts in zip(*(node_importance(net, xte) for net in mine), strict=True)]
        out.append((proba, imp, seconds[i * e : (i + 1) * e]))
    return out


def _summary(per_fold: list) -> dict:
    out = {}
    for m in METRICS:
        values = np.array([f[m] for f in per_fold], dtype=float)
        ok = values[np.isfinite(values)]
        out[m] = {
            "mean": float(ok.mean()) if ok.size else float("nan"),
            "sd": float(ok.std(ddof=1)) if ok.size > 1 else 0.0,
            "per_fold": values.tolist(),
        }
    return out


def cross_validate(
    X, y, levels, settings: ClassificationSettings = ClassificationSettings(), groups=None, progress=lambda msg: None
) -> dict:
    """The network and every baseline on the same folds: per model its metrics (mean, sd, per fold), the
    network's seconds per fit, its held-out probabilities per fold, and its node importances averaged over
    folds (one array per level)."""
    X = np.asarray(X, dtype=np.float64)
    classes, codes = encode_classes(y)
    if X.shape[0] != codes.size:
        raise ClassificationError(f"{X.shape[0]} samples in the data, {codes.size} labels")
    if levels[0].shape[1] != X.shape[1]:
        raise ClassificationError(f"the wiring reads {levels[0].shape[1]} features, the data has {X.shape[1]}")
    folds = class_folds(codes, settings.folds, settings.repeats, settings.seed, groups)
    n_classes = classes.size
    models = {"network": []}
    seconds, importance, held_out = [], None, []
    for i, fold in enumerate(folds):
        [(proba, imp, secs)] = _wirings_on_fold([levels], X, codes, n_classes, fold, settings)
        seconds.extend(secs)
        importance = imp if importance is None else [a + b for a, b in zip(importance, imp, strict=True)]
        models["network"].append(class_metrics(codes[fold[1]], proba, n_classes))
        held_out.append(proba.tolist())
        progress(
            f"fold {i + 1}/{len(folds)}: network AUC {models['network'][-1]['roc_auc']:.3f} "
            f"({np.mean(secs):.2f} s a fit)"
        )
    features = wiring_features(levels)
    baseline_seconds = {}
    for name in settings.baselines:
        models[name], start = [], time.perf_counter()
        for fold in folds:
            xtr, xte = standardised(X, *fold)
            proba = baseline_probabilities(name, xtr, codes[fold[0]], xte, n_classes, settings.seed, features)
            models[name].append(class_metrics(codes[fold[1]], proba, n_classes))
        baseline_seconds[name] = (time.perf_counter() - start) / len(folds)
        progress(f"{name}: AUC {np.nanmean([f['roc_auc'] for f in models[name]]):.3f}")
    return {
        "classes": classes.tolist(),
        "samples": int(codes.size),
        "class_counts": np.bincount(codes).tolist(),
        "codes": codes.tolist(),
        "folds": [(tr.tolist(), te.tolist()) for tr, te in folds],
        "settings": asdict(settings),
        "models": {name: _summary(per) for name, per in models.items()},
        "network_seconds_per_fit": {
            "mean": float(np.mean(seconds)),
            "median": float(np.median(seconds)),
            "fits": len(seconds),
        },
        "baseline_seconds_per_fold": baseline_seconds,
        "importance": [(a / len(folds)).tolist() for a in importance],
        "held_out_probabilities": held_out,
        "wiring_features": int(features.size),
    }


def learning_curve(
    X,
    y,
    levels,
    settings: ClassificationSettings = ClassificationSettings(),
    labels=(20, 40, "all"),
    draws: int = 3,
    groups=None,
    progress=lambda msg: None,
) -> dict:
    """Held-out ROC AUC against the number of labelled training samples: on every fold of ``settings``, ``draws``
    stratified subsets of the training samples of each size in ``labels`` ('all': the whole training fold, one
    draw), the network and logistic regression on all features each fitted on the subset and scored on the whole
    held-out fold (the same held-out samples for every size). Does the wiring pay where labels are few?"""
    X = np.asarray(X, dtype=np.float64)
    classes, codes = encode_classes(y)
    folds = class_folds(codes, settings.folds, settings.repeats, settings.seed, groups)
    n_classes = classes.size
    out = {"labels": [str(n) for n in labels], "draws": draws, "models": {"network": {}, "logistic_all": {}}}
    for n in labels:
        per = {"network": [], "logistic_all": []}
        sizes = []
        for f, (train, test) in enumerate(folds):
            subsets = (
                [train]
                if n == "all" or n >= train.size
                else [
                    _stratified_subset(codes, train, int(n), np.random.default_rng([settings.seed, f, int(n), d]))
                    for d in range(draws)
                ]
            )
            for sub in subsets:
                if np.unique(codes[sub]).size < n_classes:
                    continue  # a subset must hold every class to be fitted
                sizes.append(sub.size)
                [(proba, _, _)] = _wirings_on_fold([levels], X, codes, n_classes, (sub, test), settings)
                per["network"].append(class_metrics(codes[test], proba, n_classes)["roc_auc"])
                xtr, xte = standardised(X, sub, test)
                base = baseline_probabilities("logistic_all", xtr, codes[sub], xte, n_classes, settings.seed)
                per["logistic_all"].append(class_metrics(codes[test], base, n_classes)["roc_auc"])
        for model, values in per.items():
            values = np.asarray(values, dtype=float)
            out["models"][model][str(n)] = {
                "roc_auc_mean": float(np.nanmean(values)) if values.size else None,
                "roc_auc_sd": float(np.nanstd(values, ddof=1)) if values.size > 1 else None,
                "fits": int(values.size),
                "samples": float(np.mean(sizes)) if sizes else 0,
            }
        progress(
            f"curve {n}: network AUC {out['models']['network'][str(n)]['roc_auc_mean']:.3f}, logistic "
            f"{out['models']['logistic_all'][str(n)]['roc_auc_mean']:.3f}"
        )
    return out


def _stratified_subset(codes, rows, n: int, rng) -> np.ndarray:
    """``n`` of ``rows``, each class in its share of them (at least one of each where ``n`` allows)."""
    rows = np.asarray(rows)
    chosen = []
    classes = np.unique(codes[rows])
    for c in classes:
        mine = rows[codes[rows] == c]
        k = max(1, int(round(n * mine.size / rows.size)))
        chosen.append(rng.choice(mine, size=min(k, mine.size), replace=False))
    return np.sort(np.concatenate(chosen))


def wiring_control(
    X,
    y,
    levels,
    settings: ClassificationSettings = ClassificationSettings(),
    kinds=KINDS,
    draws: int = 50,
    groups=None,
    real: dict | None = None,
    progress=lambda msg: None,
) -> dict:
    """The real wiring's held-out scores against ``draws`` randomised wirings per null model, all on the same
    folds and settings; node importances of the real wiring with each node's percentile among the draws.
    ``real``: the real wiring's ``cross_validate`` result on these settings (computed when None)."""
    X = np.asarray(X, dtype=np.float64)
    classes, codes = encode_classes(y)
    real = real or cross_validate(X, y, levels, replace(settings, baselines=()), groups)
    folds = [(np.asarray(tr), np.asarray(te)) for tr, te in real["folds"]]
    out = {"draws": draws, "null_models": {}}
    for kind in kinds:
        one_of("null model", kind, KINDS, ClassificationError)
        scores = {m: [] for m in METRICS}
        importances = [[] for _ in levels]
        start = time.perf_counter()
        for first in range(0, draws, settings.stack):
            chunk = [
                randomise_levels(levels, kind, settings.seed, d)
                for d in range(first, min(draws, first + settings.stack))
            ]
            per_fold, totals = [[] for _ in chunk], [None] * len(chunk)
            for fold in folds:
                on_fold = _wirings_on_fold(chunk, X, codes, classes.size, fold, settings, stacked=settings.stack > 1)
                for i, (proba, imp, _) in enumerate(on_fold):
                    per_fold[i].append(class_metrics(codes[fold[1]], proba, classes.size))
                    totals[i] = imp if totals[i] is None else [a + b for a, b in zip(totals[i], imp, strict=True)]
            for metrics_of_draw, total in zip(per_fold, totals, strict=True):
                for m in METRICS:
                    scores[m].append(float(np.nanmean([f[m] for f in metrics_of_draw])))
                for level, a in enumerate(total):
                    importances[level].append(a / len(folds))
            done = len(scores["roc_auc"])
            if done % 10 < len(chunk) or done == draws:
                progress(f"null {kind}: {done}/{draws} draws, AUC {np.mean(scores['roc_auc']):.3f} so far")
        entry = {
            m: {**compare(real["models"]["network"][m]["mean"], np.array(scores[m]), m), "null_values": scores[m]}
            for m in METRICS
        }
        entry["seconds"] = time.perf_counter() - start
        entry["node_percentile"] = [
            (np.mean(np.asarray(imp) < np.asarray(real["importance"][level])[None, :], axis=0) * 100).tolist()
            for level, imp in enumerate(importances)
        ]
        out["null_models"][kind] = entry
    return out


def important_nodes(
    real: dict, control: dict, level_ids, level_names, top: int | None = None, percentile: float = 95.0
):
    """Rows (level, node, name, importance, percentile per null model) of each level's nodes, most important
    first (the ``top`` of each level, or all); ``beyond_null``: above ``percentile`` in every null model run."""
    rows = []
    kinds = list(control["null_models"])
    for level, imp in enumerate(real["importance"]):
        order = np.argsort(imp)[::-1][:top]  # top None: every node
        for i in order:
            pct = {k: control["null_models"][k]["node_percentile"][level][i] for k in kinds}
            rows.append(
                {
                    "level": level + 1,
                    "node": level_ids[level][i],
                    "name": level_names[level][i],
                    "importance": float(imp[i]),
                    "percentile": pct,
                    "beyond_null": bool(kinds) and all(v > percentile for v in pct.values()),
                }
            )
    return rows


@dataclass(frozen=True)
class ClassifyResult:
    """What :func:`classify` wrote into ``out`` and its record (``classification.json``'s content): the scores
    (``record['result']``), the control when run, the wiring statement (this run's control, a recorded one,
    or none), the final model's file."""

    out: object
    record: dict
    nodes: list
    seconds: float


def classify(
    table,
    hierarchy,
    settings: ClassificationSettings,
    out,
    *,
    null_models=KINDS,
    draws: int = 0,
    final_model: bool = True,
    curve=None,
    curve_draws: int = 3,
    data_label: str = "",
    command: str | None = None,
    progress=lambda msg: None,
) -> ClassifyResult:
    """``sparsenet classify`` as a function: ``table`` (``data.labelled.LabelledTable``) on ``hierarchy``
    (``masks.hierarchy.Hierarchy`` over the table's features) cross-validated beside the baselines; with
    ``draws`` its wiring against that many randomised wirings per null model; the final model (every sample,
    ``settings.ensemble`` networks) kept as ``classifier.h5`` for ``sparsenet predict``; with ``curve`` (label
    counts, 'all' for every training sample) the learning curve (:func:`learning_curve`). Writes
    classification.json, importance.csv, report.html (+ plots) into the folder ``out``."""
    from pathlib import Path

    from ..atomic import write_atomically, write_json
    from ..report.evidence import classification_statement
    from ..report.html import write_html
    from ..report.run_report import provenance
    from ..training.pathway_model import fit_pathway_model, save_pathway_model

    t0 = time.perf_counter()
    out = Path(out)
    h = hierarchy
    if list(h.feature_ids) != list(table.feature_ids):
        h = h.restricted_to(table.feature_ids)
    result = cross_validate(table.X, table.labels, h.masks, settings, table.groups, progress=progress)
    fingerprint = h.fingerprint()
    record = {
        "data": data_label,
        "hierarchy": {**h.attrs, "fingerprint": fingerprint},
        "notes": list(table.notes),
        "result": result,
        "provenance": provenance(command),
    }
    rows = []
    if draws:
        record["control"] = wiring_control(
            table.X, table.labels, h.masks, settings, null_models, draws, table.groups, real=result, progress=progress
        )
        rows = important_nodes(result, record["control"], h.level_ids, h.level_names)
    if curve:
        record["curve"] = learning_curve(
            table.X, table.labels, h.masks, settings, curve, curve_draws, table.groups, progress
        )
    record["wiring"] = classification_statement(fingerprint, record.get("control"), result["models"])
    record["top_nodes"] = [
        {
            "level": r["level"],
            "node": r["node"],
            "name": r["name"],
            "importance": r["importance"],
            **{f"percentile_{k}": v for k, v in r["percentile"].items()},
        }
        for r in important_nodes(result, record.get("control", {"null_models": {}}), h.level_ids, h.level_names, top=10)
    ]
    files = {
        "classification.json": "this record: settings, every model's held-out scores per fold, the network's "
        "held-out probabilities, the control's draws",
        "importance.csv": "every node's importance and its lowest null percentile",
        "report.html": "this run on one page (self-contained)",
        "roc_calibration.png": "the network's held-out ROC curve and calibration",
    }
    if draws:
        files["classify_control.png"] = "each null model's draws of ROC AUC beside the real wiring"
    if curve:
        files["classify_curve.png"] = "held-out ROC AUC against the labelled training samples, network and logistic"
    out.mkdir(parents=True, exist_ok=True)
    if final_model:
        progress(f"final model: {settings.ensemble} network(s) on all {len(table.labels)} samples")
        model = fit_pathway_model(h, table.X, table.labels, settings.training, settings.ensemble, settings.seed)
        write_atomically(out / "classifier.h5", lambda tmp: save_pathway_model(tmp, model))
        files["classifier.h5"] = (
            "the final model, trained on every sample: sparsenet predict classifier.h5 DATA gives class probabilities"
        )
    record["files"] = files
    write_atomically(out / "importance.csv", lambda p: Path(p).write_text(importance_csv(result, h, rows)))
    record["wall_seconds"] = time.perf_counter() - t0
    write_json(out / "classification.json", record)
    write_html(out, record, "classification.json")  # the page from the record in memory
    return ClassifyResult(out, record, rows, time.perf_counter() - t0)


def importance_csv(result: dict, h, rows) -> str:
    """Every node of every level, most important first within its level, with its lowest null percentile."""
    import csv
    import io

    pct = {(r["level"], r["node"]): r for r in rows}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["level", "node", "name", "importance", "null_percentile_min", "beyond_null"])
    for level, imp in enumerate(result["importance"]):
        for i in sorted(range(len(imp)), key=lambda i: -imp[i]):
            r = pct.get((level + 1, h.level_ids[level][i]))
            w.writerow(
                [
                    level + 1,
                    h.level_ids[level][i],
                    h.level_names[level][i],
                    f"{imp[i]:.6g}",
                    f"{min(r['percentile'].values()):.1f}" if r else "",
                    r["beyond_null"] if r else "",
                ]
            )
    return buf.getvalue()
