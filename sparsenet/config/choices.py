"""The allowed values that no lower room owns, in one place: the baselines a run may fit, the wirings,
where robustness noise goes, how a learning curve draws its subsets. The run configuration
(``run_config.CHOICES``) gathers them with the layers' own (strategies, losses, ...) and checks them once.
"""

from __future__ import annotations

SCHEMES = ("grouped", "kfold", "lopo")  # cross-validation
BASELINES = ("mean", "ridge", "ridge_linked", "knn", "random_forest")  # 'all'
# the metabolic model as a model (sparsenet.runs.flux_baselines): asked for by name, E-Flux solves every sample
FLUX_BASELINES = ("eflux", "flux_ridge", "flux_forest")
BASELINE_WORDS = {
    "mean": "training mean",
    "ridge": "ridge on all genes",
    "ridge_linked": "ridge on the genes the wiring links",
    "knn": "k-nearest neighbours",
    "random_forest": "random forest",
    "eflux": "E-Flux biomass flux, calibrated",
    "flux_ridge": "ridge on pFBA fluxes",
    "flux_forest": "random forest on pFBA fluxes",
}
ON_LINKED_GENES = ("ridge_linked",)  # fitted on the masks' linked genes, not every gene
WIRINGS = ("masks", "ica")  # the masks file's wiring, or independent components of each fit's pool
NOISE_WHERE = ("pretrain", "finetune", "both")  # robustness: noise in which data
CURVE_DRAWS = ("projects", "random")  # a learning curve's subsets: whole projects, or samples at random
PREDICTORS = ("network", "flux")  # what a control puts against its null: the network, or the flux predictors


def parse_labels(text) -> list:
    """A learning curve's label counts: '10,20,40,80,all' -> [10, 20, 40, 80, 'all']."""
    out = []
    for item in str(text).split(","):
        item = item.strip()
        if item == "all":
            out.append("all")
            continue
        try:
            n = int(item)
        except ValueError:
            raise ValueError(f"--labels: {item!r} is not a number of samples or 'all'") from None
        if n < 2:
            raise ValueError(f"--labels: {n} is too few to fit on (at least 2)")
        out.append(n)
    if not out:
        raise ValueError("--labels: give label counts like 10,20,40,80,all")
    return list(dict.fromkeys(out))
