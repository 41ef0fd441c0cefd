"""How sure is a prediction: intervals from held-out residuals, and flags for samples unlike the training data.

The spread of an ensemble's networks is not an error bar (on PRECISE a prediction was ~14 of those sds off
while the cross-validated RMSE was 0.175). What does hold is the cross-validation itself: every ``train``
keeps each labelled sample's held-out residual (observed - predicted, with whole projects held out), and
``predict`` gives each new prediction the interval ``prediction +- q``, q the ``level`` quantile of the
absolute held-out residuals (split-conformal with the finite-sample correction, CV-residual form: MAPIE's
``method="base"`` with a grouped ``cv``). MAPIE is not used: it refits the estimator once per fold itself,
while ``train`` has already cross-validated these exact networks on these folds; the arithmetic left is
one quantile.

Held-out projects differ from each other more than samples do, so the interval is measured, not assumed:
``coverage`` holds out each project in turn, takes q from the other projects' residuals and counts the
held-out project's samples inside, which is what a new project would see.

A prediction is flagged when its sample is far from the training data (the distance to its nearest training
sample, over the genes the masks link, beyond what a training sample has to its nearest one of another
project, 95th percentile) or when the data cover few of those genes.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_LEVEL = 0.9
FAR_PERCENTILE = 95.0


def check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"--level must be between 0 and 1 (e.g. 0.9 for 90 % intervals), got {level}")
    return float(level)


def half_width(abs_residuals, level: float = DEFAULT_LEVEL) -> float:
    """The split-conformal half-width: the ceil((n + 1) level)-th smallest absolute residual (inf when there
    are too few residuals for that level)."""
    r = np.sort(np.asarray(abs_residuals, dtype=np.float64)[np.isfinite(abs_residuals)])
    k = math.ceil((r.size + 1) * check_level(level))
    return float(r[k - 1]) if 0 < k <= r.size else float("inf")


def coverage(observed, predicted, groups, level: float = DEFAULT_LEVEL) -> dict:
    """Held-out coverage of the intervals, one project (group) at a time: q from the other groups' residuals,
    the share of this group's samples inside ``predicted +- q``. Returns the pooled share, per group, and the
    mean width beside the RMSE."""
    y, p = np.asarray(observed, float), np.asarray(predicted, float)
    ok = np.isfinite(y) & np.isfinite(p)
    g = np.asarray(groups if groups is not None else np.arange(y.size).astype(str), dtype=object)[ok]
    y, p = y[ok], p[ok]
    r = np.abs(y - p)
    inside, widths, per_group = np.zeros(y.size, bool), np.zeros(y.size), {}
    for name in dict.fromkeys(g):
        mine = g == name
        q = half_width(r[~mine], level)
        inside[mine] = r[mine] <= q
        widths[mine] = 2 * q
        per_group[str(name)] = {"samples": int(mine.sum()), "inside": float(inside[mine].mean()), "width": 2 * q}
    return {
        "level": level,
        "samples": int(y.size),
        "groups": len(per_group),
        "coverage": float(inside.mean()) if y.size else float("nan"),
        "mean_width": float(widths.mean()) if y.size else float("nan"),
        "rmse": float(np.sqrt(np.mean((y - p) ** 2))) if y.size else float("nan"),
        "half_width_all": half_width(r, level),
        "per_group": per_group,
    }


def nearest_distance(x, reference, exclude=None) -> np.ndarray:
    """Each row of ``x``'s root-mean-square distance to its nearest row of ``reference``; ``exclude[i]`` (bool
    over reference rows) leaves rows out for row i (its own project)."""
    x, ref = np.asarray(x, np.float64), np.asarray(reference, np.float64)
    d2 = (x**2).sum(1)[:, None] + (ref**2).sum(1)[None, :] - 2 * x @ ref.T
    d2 = np.maximum(d2, 0.0) / max(1, x.shape[1])
    if exclude is not None:
        d2 = np.where(exclude, np.inf, d2)
    return np.sqrt(d2.min(axis=1))


def far_threshold(train_inputs, groups) -> float:
    """How far a training sample is from its nearest training sample of another project (95th percentile):
    beyond it, a new sample is farther from the training data than a new project usually is."""
    g = np.asarray(groups, dtype=object)
    other = g[:, None] == g[None, :]
    if other.all():  # one project: the nearest other sample
        other = np.eye(g.size, dtype=bool)
    return float(np.percentile(nearest_distance(train_inputs, train_inputs, other), FAR_PERCENTILE))


def residual_arrays(ds, results, cfg) -> dict | None:
    """The held-out residuals that back ``predict``'s intervals: of the final model's strategy, repeat 0, on
    leave-one-project-out when it ran, else the first scheme. Arrays for the checkpoint's ``extra``."""
    strategy = "C" if "C" in cfg.strategies else (cfg.strategies[0] if cfg.strategies else None)
    schemes = [s for s in ("lopo", "grouped", "kfold") if s in cfg.cv] or list(cfg.cv)
    for scheme in schemes:
        records = results.get((scheme, strategy, 0))
        if records:
            from .summary import pooled

            y, pred, _ = pooled(ds, records)
            groups = ds.groups if ds.groups is not None else [str(i) for i in range(len(y))]
            return {
                "interval_observed": y,
                "interval_predicted": pred,
                "interval_groups": np.array([str(v).encode() for v in groups]),
                "interval_scheme": np.array(scheme.encode()),
            }
    return None


def write_final_model(model_path, ck, ds, results, cfg, level: float = DEFAULT_LEVEL) -> dict | None:
    """Write the final model ``ck`` to ``model_path`` once, with what ``predict`` needs to say how sure it is:
    the held-out residuals, the training inputs over the linked genes and the distance beyond which a sample is
    unusual. Returns the intervals' held-out coverage per phenotype column (report.json's ``intervals``; None
    when no held-out predictions of the final model's strategy ran: the model is written without them)."""
    from ..masks.store import linked_genes
    from ..training.checkpoint import input_transform_of, save_checkpoint

    arrays = residual_arrays(ds, results, cfg)
    if arrays is None:
        save_checkpoint(model_path, ck)
        return None
    linked = linked_genes(ds.masks)
    x = input_transform_of(ck).apply(ds.inputs.take(ds.labelled))[:, linked].astype(np.float32)
    groups = [g.decode() for g in arrays["interval_groups"]]
    ck.extra.update(
        arrays,
        distance_inputs=x,
        distance_genes=linked,
        far_distance=np.array(far_threshold(x, groups)),
        linked_coverage=np.array(float(np.mean(ds.inputs.present[linked])) if linked.any() else 1.0),
    )
    save_checkpoint(model_path, ck)
    out = {
        "scheme": arrays["interval_scheme"].item().decode(),
        "level": level,
        "how": "prediction +- the level quantile of the absolute held-out residuals (split-conformal, CV "
        "residuals); coverage: each project held out in turn, q from the other projects' residuals",
        "phenotypes": {},
    }
    for j, col in enumerate(ds.target_columns):
        c = coverage(arrays["interval_observed"][:, j], arrays["interval_predicted"][:, j], groups, level)
        out["phenotypes"][col] = c
    return out


def interval_of(ck, level: float = DEFAULT_LEVEL) -> np.ndarray | None:
    """Per target, the half-width of a ``level`` interval from the model's held-out residuals (None for a
    model trained before intervals were kept)."""
    if "interval_observed" not in ck.extra:
        return None
    y, p = np.asarray(ck.extra["interval_observed"]), np.asarray(ck.extra["interval_predicted"])
    return np.array([half_width(np.abs(y[:, j] - p[:, j]), level) for j in range(y.shape[1])])


def unusual(ck, x_model: np.ndarray, coverage_of_data: float) -> list:
    """Per sample, '' or why its prediction deserves doubt: far from every training sample, or few of the
    linked genes in the data. ``x_model``: the samples' inputs after the model's input transform."""
    flags = [""] * x_model.shape[0]
    if "distance_inputs" not in ck.extra:
        return flags
    genes = np.asarray(ck.extra["distance_genes"], bool)
    d = nearest_distance(x_model[:, genes], ck.extra["distance_inputs"])
    far = float(ck.extra["far_distance"])
    trained = float(ck.extra.get("linked_coverage", 1.0))
    for i in range(len(flags)):
        why = []
        if d[i] > far:
            why.append(f"far from the training data ({d[i]:.2f} > {far:.2f})")
        if coverage_of_data < trained - 1e-9:  # fewer of the linked genes than the model was trained with
            why.append(
                f"{100 * coverage_of_data:.0f} % of the linked genes in the data (trained with {100 * trained:.0f} %)"
            )
        flags[i] = "; ".join(why)
    return flags
