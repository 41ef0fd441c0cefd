"""Baselines fitted on exactly the network's folds and inputs, with scikit-learn.

A biology-guided network earns its place only by beating these on the same held-out samples:

- ``mean``: the training samples' mean phenotype (what "no information" scores);
- ``ridge``: ridge regression on genes standardised on the training samples, alpha chosen by
  inner cross-validation grouped like the outer one;
- ``ridge_linked``: the same on the genes the masks link to a phenotype only: the linear model
  with the network's choice of genes (the caller passes those columns, see ``ON_LINKED_GENES``);
- ``knn``: k-nearest neighbours on the inputs, k chosen by the same inner cross-validation;
- ``random_forest``: 300 trees, max_features 0.3, min_samples_leaf 2, seeded.

Each phenotype column is fitted on the training samples where it is observed. Every fitted
statistic (the scaler, the inner-CV choice, the trees) sees training samples only.
"""

from __future__ import annotations

import numpy as np

from ..config.choices import BASELINES

RIDGE_ALPHAS = np.logspace(-1, 5, 13)
KNN_K = (1, 2, 3, 5, 8, 12, 20)


def _inner_cv(groups, n):
    """Inner folds: grouped when the outer CV is grouped and there are enough groups, else k-fold."""
    from sklearn.model_selection import GroupKFold, KFold

    if groups is not None and len(set(groups)) >= 3:
        return GroupKFold(min(5, len(set(groups)))), np.asarray(groups, dtype=object)
    return KFold(min(5, n), shuffle=True, random_state=0), None


def _search(estimator, grid, x, y, groups):
    from sklearn.model_selection import GridSearchCV

    if len(y) < 4:  # too few samples to choose by inner CV: the middle of the grid
        return estimator.set_params(**{k: v[len(v) // 2] for k, v in grid.items()}).fit(x, y)
    cv, g = _inner_cv(groups, len(y))
    return GridSearchCV(estimator, grid, cv=cv, scoring="neg_mean_squared_error").fit(x, y, groups=g)


def make_baseline(name: str, seed: int):
    """A function (x_train, y_train, groups_train) -> fitted model with ``predict``."""
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "mean":
        return lambda x, y, g: DummyRegressor(strategy="mean").fit(x, y)
    if name in ("ridge", "ridge_linked"):
        return lambda x, y, g: _search(
            make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": RIDGE_ALPHAS}, x, y, g
        )
    if name == "knn":
        return lambda x, y, g: _search(
            KNeighborsRegressor(), {"n_neighbors": [k for k in KNN_K if k <= len(y) // 2] or [1]}, x, y, g
        )
    if name == "random_forest":

        def forest(x, y, g):  # trees grown in parallel; predicted in one thread, so the sum's order is fixed
            return (
                RandomForestRegressor(300, max_features=0.3, min_samples_leaf=2, random_state=seed, n_jobs=-1)
                .fit(x, y)
                .set_params(n_jobs=1)
            )

        return forest
    raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {name!r}")


def fit_predict(name: str, x_train, y_train, groups_train, x_test, seed: int) -> np.ndarray:
    """Predictions (test samples x phenotype columns); each column fitted where it is observed."""
    from threadpoolctl import threadpool_limits

    fit = make_baseline(name, seed)
    y_train = np.asarray(y_train, dtype=np.float64)
    x_train, x_test = np.asarray(x_train, dtype=np.float64), np.asarray(x_test, dtype=np.float64)
    pred = np.full((len(x_test), y_train.shape[1]), np.nan)
    # one BLAS thread, in float64: a serial run and a run fanned out over workers (another thread count) add
    # up the same products in the same order, so their results files agree to the byte
    with threadpool_limits(1, user_api="blas"):
        for j in range(y_train.shape[1]):
            seen = np.isfinite(y_train[:, j])
            if not seen.any():
                continue
            g = None if groups_train is None else [groups_train[i] for i in np.flatnonzero(seen)]
            pred[:, j] = fit(x_train[seen], y_train[seen, j], g).predict(x_test)
    return pred
