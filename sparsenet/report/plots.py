"""The PNG plots a biologist looks at first: predicted vs observed, reconstruction, training curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..atomic import write_atomically  # noqa: E402


def _save(fig, path):
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _title(text: str, width: int = 44) -> str:
    """A panel title wrapped to the panel's width (long phenotype and model names are cut off otherwise)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def _unit(title: str) -> str:
    """' (1/hr)' from a column named 'Growth Rate (1/hr)' (the panel's title starts with it); a growth rate with
    no unit given is per hour; else nothing."""
    import re

    name = title.split(":", 1)[0]
    m = re.search(r"\(([^()]*)\)\s*$", name)
    if m:
        return f" ({m.group(1)})"
    return " (1/h)" if re.search(r"growth|\bmu\b|µ", name, re.I) else ""


def predicted_vs_observed(path, panels, ncols=None):
    """panels: list of (title, observed, predicted, metrics dict[, group of each sample[, interval half-width]]),
    ``ncols`` to a row. With groups, each group (project) has its colour, named in a legend below the panels; with a
    half-width, each prediction's interval is a vertical bar."""
    n = len(panels)
    ncols = min(n, ncols or n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.8 * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    handles = {}
    finite = [np.concatenate([y[np.isfinite(y)], p[np.isfinite(p)]]) for _, y, p, *_ in panels]
    finite = np.concatenate(finite) if finite else np.zeros(1)
    lo_all, hi_all = float(min(finite.min(), 0)), float(finite.max())  # one range for every panel: comparable
    pad = 0.04 * (hi_all - lo_all or 1.0)
    for ax, (title, y, p, m, *rest) in zip(axes.ravel(), panels, strict=False):
        groups = np.asarray(rest[0], dtype=object) if rest and rest[0] is not None else None
        ok = np.isfinite(y) & np.isfinite(p)
        half = rest[1] if len(rest) > 1 else None
        if half:
            ax.errorbar(y[ok], p[ok], yerr=half, fmt="none", ecolor="0.6", elinewidth=0.6, alpha=0.5, zorder=0)
        if groups is None:
            ax.scatter(y[ok], p[ok], s=12, alpha=0.7)
        else:
            names = list(dict.fromkeys(groups[ok].tolist()))
            colours = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
            for k, g in enumerate(names):
                mine = ok & (groups == g)
                handles[g] = ax.scatter(y[mine], p[mine], s=12, alpha=0.8, color=colours(k % colours.N), label=str(g))
        grid = np.linspace(lo_all, hi_all, 2)
        (line,) = ax.plot(grid, grid, "k-", lw=0.8, label="y = x")
        band = ax.fill_between(grid, 0.8 * grid, 1.2 * grid, color="grey", alpha=0.15, label="within 20 %")
        ax.set_xlim(lo_all - pad, hi_all + pad)
        ax.set_ylim(lo_all - pad, hi_all + pad)
        unit = _unit(title)
        ax.set_xlabel(f"observed{unit}")
        ax.set_ylabel(f"predicted{unit}")
        r = "r undefined (one number per fold)" if m.get("pearson_r") is None else f"r = {m['pearson_r']:.2f}"
        ax.set_title(_title(f"{title}\n{r}, {m['within_20_percent']:.0f} % within 20 %"), fontsize=8)
        ax.legend(handles=[line, band], fontsize=7, loc="upper left")
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="lower center",
            ncol=min(7, len(handles)),
            fontsize=7,
            title="group (--group-by)",
            title_fontsize=7,
            frameon=False,
        )
        fig.tight_layout(rect=(0, 0.04 + 0.03 * (-(-len(handles) // 7)) / nrows, 1, 1))
    else:
        fig.tight_layout()
    _save(fig, path)


def reconstruction(path, observed, reconstructed, title):
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(observed, reconstructed, s=3, alpha=0.3)
    lim = [float(min(observed.min(), reconstructed.min())), float(max(observed.max(), reconstructed.max()))]
    ax.plot(lim, lim, "k-", lw=0.8)
    ax.set_xlabel("held-out expression (log2 FC / 10)")
    ax.set_ylabel("reconstructed")
    ax.set_title(_title(title), fontsize=9)
    fig.tight_layout()
    _save(fig, path)


FINETUNE_LOSS_WORDS = {
    "relative": "mean |relative error| per observation",
    "squared": "mean ((y - prediction) / mean y)² per observation",
}


def training_curves(path, pretrain_curves, finetune_curves, loss: str = "relative") -> bool:
    """Each curve argument: list of (label, per-observation losses); ``loss``: the fine-tuning loss used.
    Returns whether a plot was written (nothing to plot: no file)."""
    cols = [
        c
        for c in (
            ("pre-training (squared reconstruction error per sample)", pretrain_curves),
            (f"fine-tuning ({FINETUNE_LOSS_WORDS.get(loss, loss)}, without the penalty)", finetune_curves),
        )
        if c[1]
    ]
    if not cols:
        return False
    fig, axes = plt.subplots(1, len(cols), figsize=(5.5 * len(cols), 4), squeeze=False)
    for ax, (title, curves) in zip(axes[0], cols, strict=False):
        for label, losses in curves:
            ax.plot(np.arange(1, len(losses) + 1), losses, lw=0.8, alpha=0.7, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(_title(title), fontsize=9)
        if len(curves) <= 12:
            ax.legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)
    return True


def robustness(path, rows, clean):
    """rows: list of dicts with where, percent, pearson_r, within_20_percent; clean: the same keys."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, key, label in ((axes[0], "pearson_r", "Pearson r"), (axes[1], "within_20_percent", "% within 20 %")):
        for where, marker in (("pretrain", "o"), ("finetune", "s"), ("both", "^")):
            pts = sorted((r["percent"], r[key]) for r in rows if r["where"] == where)
            if pts:
                ax.plot([0] + [p for p, _ in pts], [clean[key]] + [v for _, v in pts], marker=marker, label=where)
        ax.set_xlabel("p (% of samples, % noise)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


METRIC_WORDS = {"pearson_r": "Pearson r", "within_20_percent": "% within 20 %", "rmse": "RMSE"}


def control(
    path, summary: dict, column: str, baselines: dict, words=("random wirings", "real wiring", "its null wirings")
):
    """The null wirings' distribution per null model (rows) and metric (columns): every draw a point
    (jittered), the real wiring a red line, the baselines on the same folds dashed grey lines. ``words``: what a
    draw, the real one and the null are called (the flux control: permuted gene labels)."""
    kinds = list(summary["null_models"])
    metrics_ = list(METRIC_WORDS)
    fig, axes = plt.subplots(len(kinds), len(metrics_), figsize=(4.2 * len(metrics_), 2.6 * len(kinds)), squeeze=False)
    rng = np.random.default_rng(0)
    for i, kind in enumerate(kinds):
        entry = summary["null_models"][kind]["phenotypes"][column]
        for j, m in enumerate(metrics_):
            ax = axes[i, j]
            null = np.asarray(entry[m]["null_values"], float)
            ax.scatter(
                null,
                rng.uniform(-0.3, 0.3, null.size),
                s=10,
                alpha=0.6,
                color="tab:blue",
                label=f"{len(null)} {words[0]}",
            )
            ax.axvline(entry[m]["real"], color="tab:red", lw=2, label=f"{words[1]} (p = {entry[m]['p']:.3f})")
            for k, (name, value) in enumerate(baselines.items()):
                if value.get(m) is not None:
                    ax.axvline(value[m], color="0.4", ls=("--", ":", "-.")[k % 3], lw=1, label=name)
            ax.set_yticks([])
            ax.set_xlabel(METRIC_WORDS[m])
            ax.set_title(f"{kind}: {METRIC_WORDS[m]}", fontsize=9)
            if i == 0 and j == 0:
                ax.legend(fontsize=6, loc="best")
    fig.suptitle(_title(f"{column}: the {words[1]} against {words[2]} ({summary['scheme']} CV)", 90), fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def recorded_controls(path, rows) -> None:
    """Recorded controls at a glance: per (split, null model) row, the null's r as mean +- one and two sd (the
    record keeps no draws) and the real wiring's r as a red dot. ``rows``: (label, real, null mean, null sd, p)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.2))
    for i, (_label, real, mean, sd, p) in enumerate(rows):
        ax.plot([mean - 2 * sd, mean + 2 * sd], [i, i], color="tab:blue", lw=1, alpha=0.5)
        ax.plot([mean - sd, mean + sd], [i, i], color="tab:blue", lw=4, alpha=0.7)
        ax.plot(real, i, "o", color="tab:red")
        ax.annotate(f"p = {p:.3f}", (real, i), xytext=(6, 4), textcoords="offset points", fontsize=7)
    ax.set_yticks(range(len(rows)), [_title(r[0], 60) for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("held-out r")
    ax.margins(x=0.12)
    fig.tight_layout()
    _save(fig, path)


def learning_curves(path, summary: dict, column: str, words: dict):
    """Each metric (columns) against the number of labelled samples, per draw kind (rows): a line per
    model (its mean over draws), a band of +- one sd."""
    kinds = [
        k
        for k in ("projects", "random")
        if any(e["kind"] in (k, "all") for m in summary["models"].values() for e in m.values())
    ]
    metrics_ = list(METRIC_WORDS)
    fig, axes = plt.subplots(len(kinds), len(metrics_), figsize=(4.3 * len(metrics_), 3.2 * len(kinds)), squeeze=False)
    for i, kind in enumerate(kinds):
        for j, m in enumerate(metrics_):
            ax = axes[i, j]
            for model, table in summary["models"].items():
                entries = [e for e in table.values() if e["kind"] in (kind, "all")]
                if not entries:
                    continue
                xs = np.array([e["samples"] for e in entries], float)  # "all": the folds' mean training samples
                order = np.argsort(xs)
                mean = np.array([e[column][m]["mean"] for e in entries])[order]
                sd = np.array([e[column][m]["sd"] for e in entries])[order]
                (line,) = ax.plot(xs[order], mean, marker="o", label=words.get(model, model))
                ax.fill_between(xs[order], mean - sd, mean + sd, color=line.get_color(), alpha=0.15)
            ax.set_xscale("log")
            ticks = sorted({round(e["samples"]) for t in summary["models"].values() for e in t.values()})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlabel("labelled samples (rightmost: all, the folds' mean)")
            ax.set_ylabel(METRIC_WORDS[m])
            ax.set_title(
                f"drawn {'by whole projects' if kind == 'projects' else 'at random'}: {METRIC_WORDS[m]}", fontsize=9
            )
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{column}: accuracy against the number of labelled samples ({summary['scheme']} CV)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def roc_and_calibration(path, codes, probabilities, classes) -> None:
    """Held-out ROC curves (one-vs-rest for k classes) and the calibration of the predicted probability of
    the last class (two classes) or of each sample's predicted class, each sample once (the first repeat)."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_auc_score, roc_curve

    codes = np.asarray(codes)
    proba = np.asarray(probabilities, dtype=float)
    fig, (roc, cal) = plt.subplots(1, 2, figsize=(9.5, 4.2))
    targets = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
    for c in targets:
        positive = codes == c
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, c])
        roc.plot(fpr, tpr, lw=1.5, label=f"{classes[c]} (AUC {roc_auc_score(positive, proba[:, c]):.3f})")
    roc.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="chance")
    roc.set_xlabel("false positive rate")
    roc.set_ylabel("true positive rate")
    roc.set_title("ROC, held-out samples", fontsize=10)
    roc.legend(fontsize=7, loc="lower right")
    if len(classes) == 2:
        p, hit, what = proba[:, 1], codes == 1, f"P({classes[1]})"
    else:
        picked = proba.argmax(axis=1)
        p, hit, what = proba.max(axis=1), picked == codes, "P(predicted class)"
    frac, mean = calibration_curve(hit, p, n_bins=8, strategy="quantile")
    cal.plot(mean, frac, "o-", color="tab:blue", label="network")
    cal.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="perfectly calibrated")
    cal.set_xlabel(f"predicted {what} (bins of equal count)")
    cal.set_ylabel("observed share")
    cal.set_title("calibration", fontsize=10)
    cal.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    _save(fig, path)


def class_curve(path, curve: dict) -> None:
    """Held-out ROC AUC against the mean number of labelled training samples, a line per model, a band of one sd
    over folds and draws."""
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for model, table in curve["models"].items():
        rows = [
            (e["samples"], e["roc_auc_mean"], e["roc_auc_sd"] or 0.0)
            for e in table.values()
            if e["roc_auc_mean"] is not None
        ]
        if not rows:
            continue
        n, mean, sd = (np.asarray(v, float) for v in zip(*sorted(rows), strict=True))
        ax.plot(n, mean, "o-", label=model)
        ax.fill_between(n, mean - sd, mean + sd, alpha=0.15)
    ax.set_xlabel("labelled training samples")
    ax.set_ylabel("held-out ROC AUC")
    ax.set_xscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def class_control(path, control: dict, real_baselines: dict) -> None:
    """Each null model's draws of the mean held-out ROC AUC (points), the real wiring (red) and the baselines on
    the same folds (grey)."""
    kinds = list(control["null_models"])
    fig, axes = plt.subplots(len(kinds), 1, figsize=(7.5, 1.5 * len(kinds) + 0.8), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        e = control["null_models"][kind]["roc_auc"]
        null = np.asarray(e["null_values"], float)
        ax.scatter(
            null,
            rng.uniform(-0.3, 0.3, null.size),
            s=10,
            alpha=0.6,
            color="tab:blue",
            label=f"{null.size} random wirings",
        )
        ax.axvline(e["real"], color="tab:red", lw=2, label=f"real wiring (p = {e['p']:.3f})")
        for k, (name, value) in enumerate(real_baselines.items()):
            ax.axvline(value, color="0.4", ls=("--", ":", "-.")[k % 3], lw=1, label=name)
        ax.set_yticks([])
        ax.set_title(kind, fontsize=9)
        ax.legend(fontsize=6, loc="best")
    axes[-1, 0].set_xlabel("mean held-out ROC AUC")
    fig.tight_layout()
    _save(fig, path)
