"""SparseNetClassifier: scikit-learn's own checks, model selection, string labels, k classes, hierarchies
and DataFrames; the softmax cross-entropy's gradient (float64 finite differences)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparsenet import SparseNetClassifier, softmax_cross_entropy
from sparsenet.masks.hierarchy import build_hierarchy


@parametrize_with_checks([SparseNetClassifier(masks="random", max_epochs=20)])
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def pathway_task(rng, n=160, informative=("g0", "g1", "g2", "g3", "g4")):
    """40 features in 8 lowest pathways under 2 roots; the class is the sign of the first pathway's mean
    (a tiny network: one seed in four stalls on it, so the tests average a few)."""
    features = [f"g{i}" for i in range(40)]
    annotations = [(f, f"P{i // 5}") for i, f in enumerate(features)]
    relations = [("R0", f"P{k}") for k in range(4)] + [("R1", f"P{k}") for k in range(4, 8)]
    h = build_hierarchy(annotations, relations, features, 2)
    X = pd.DataFrame(rng.normal(size=(n, 40)), columns=features)
    y = np.where(X[list(informative)].mean(axis=1) > 0, "disease", "control")
    return X, y, h


def test_a_hierarchy_learns_its_pathways_signal_and_roc_auc_scores_it(rng):
    X, y, h = pathway_task(rng)
    clf = SparseNetClassifier(h, max_epochs=60, ensemble=3, random_state=1)
    auc = cross_val_score(clf, X, y, cv=StratifiedKFold(4, shuffle=True, random_state=0), scoring="roc_auc")
    assert auc.mean() > 0.9, auc
    fitted = clf.fit(X, y)
    assert list(fitted.classes_) == ["control", "disease"]
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert set(fitted.predict(X)) <= {"control", "disease"}
    # columns found by name: reordered (and one extra) columns give the same probabilities
    shuffled = X[list(reversed(X.columns))].assign(extra=1.0)
    np.testing.assert_allclose(fitted.predict_proba(shuffled), proba, rtol=1e-5, atol=1e-6)


def test_noise_labels_score_near_chance(rng):
    X, _, h = pathway_task(rng)
    y = rng.permutation(np.repeat(["a", "b"], 80))
    auc = cross_val_score(
        SparseNetClassifier(h, max_epochs=30),
        X,
        y,
        cv=StratifiedKFold(4, shuffle=True, random_state=0),
        scoring="roc_auc",
    )
    assert 0.3 < auc.mean() < 0.7, auc


def test_grid_search_over_dropout_and_penalty(rng):
    X, y, h = pathway_task(rng, n=120)
    search = GridSearchCV(
        SparseNetClassifier(h, max_epochs=60, ensemble=3),
        {"dropout": [0.0, 0.2], "alpha": [0.0, 1e-2]},
        cv=3,
        scoring="roc_auc",
    ).fit(X, y)
    assert set(search.best_params_) == {"dropout", "alpha"} and search.best_score_ > 0.8


def test_three_classes_through_the_softmax(rng):
    X, _, h = pathway_task(rng, n=240)
    score = X[["g0", "g1", "g2", "g3", "g4"]].mean(axis=1).to_numpy()
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    clf = SparseNetClassifier(h, max_epochs=80, ensemble=3, random_state=2).fit(X.iloc[:180], y[:180])
    assert clf.predict_proba(X).shape == (240, 3) and list(clf.classes_) == [0, 1, 2]
    assert (clf.predict(X.iloc[180:]) == y[180:]).mean() > 0.6  # chance is 1/3


def test_one_class_and_unmatched_columns_are_refused(rng):
    X, y, h = pathway_task(rng, n=40)
    with pytest.raises(ValueError, match="y has one class"):
        SparseNetClassifier(h).fit(X, np.zeros(40))
    with pytest.raises(ValueError, match="none of X's columns"):
        SparseNetClassifier(h).fit(X.rename(columns=lambda c: "x" + c), y)


def test_default_wiring_is_ijo1366_read_by_gene_symbol(rng):
    from sparsenet.masks.store import read_masks, shipped_mask_path

    masks = read_masks(shipped_mask_path("iJO1366"))
    genes = masks.gene_ids[:300]
    X = pd.DataFrame(rng.normal(size=(60, 300)), columns=genes)
    y = (X[genes[:20]].mean(axis=1) > 0).astype(int)
    clf = SparseNetClassifier(max_epochs=5).fit(X, y)
    assert clf.levels_[0].shape[1] == len(masks.gene_ids) and clf.predict_proba(X).shape == (60, 2)


def test_softmax_cross_entropy_gradient_matches_finite_differences(rng):
    z = rng.normal(size=(5, 4)) * 3
    y = np.array([0, 3, 1, 1, 2])
    w = rng.uniform(0.5, 2, size=5)
    value, grad = softmax_cross_entropy(z, y, sample_weight=w)
    eps, numeric = 1e-6, np.empty_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (softmax_cross_entropy(up, y, w)[0] - softmax_cross_entropy(down, y, w)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    big = np.array([[1000.0, -1000.0]])
    assert np.isfinite(softmax_cross_entropy(big, np.array([1]))[0])  # never overflows


def test_a_read_out_after_every_level(rng):
    X, y, h = pathway_task(rng)
    clf = SparseNetClassifier(h, heads=True, max_epochs=60, ensemble=3, random_state=1)
    auc = cross_val_score(clf, X, y, cv=StratifiedKFold(4, shuffle=True, random_state=0), scoring="roc_auc")
    assert auc.mean() > 0.9, auc
    net = clf.fit(X, y).networks_[0]
    assert len(net.heads) == h.n_levels
