"""The scikit-learn estimators: scikit-learn's own checks, one code path with `sparsenet train` (the same
fold predictions from cross_val_predict), gene columns aligned by ID, multi-output, sample weights, the
penalty by grouped inner CV, warm starts, pickling (a GPU fit loads on the CPU) and AnnData."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparsenet import SparseNetRegressor, SparseNetRegressorCV
from sparsenet.data.dataset import load_dataset
from sparsenet.data.spec import DataSpec
from sparsenet.config.run_config import build_config
from sparsenet.runs.crossval import Runner
from sparsenet.runs.folds import make_folds

from synthetic import core_masks, write_dataset

SMALL = dict(masks="random", max_iter=30, ensemble=2)


def expected_failures(estimator):
    """The checks scikit-learn's tolerances cannot be met in, and why."""
    return {
        "check_sample_weight_equivalence_on_dense_data": "fine-tuning runs in float32: integer sample weights and "
        "repeated samples sum the same terms in another order, and agree to ~2e-7 relative (tests/test_estimator.py "
        "checks 1e-6), not the check's 1e-7"
    }


@parametrize_with_checks(
    [
        SparseNetRegressor(**SMALL),
        SparseNetRegressorCV(masks="random", max_iter=20, ensemble=1, alphas=(0.1, 0.01), cv=2),
    ],
    expected_failed_checks=expected_failures,
)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    expr, phen, _ = write_dataset(tmp_path_factory.mktemp("d") / "data", n_samples=40)
    ds = load_dataset(core_masks(), DataSpec(expr, phen, ["ref_1", "ref_2"], group_by="project"), read_out=True)
    unlabelled = np.setdiff1d(np.arange(ds.inputs.n_samples), ds.labelled)
    return ds, ds.inputs.take(ds.labelled), ds.y[:, 0], np.asarray(ds.groups), ds.inputs.take(unlabelled)


def test_cross_val_predict_reproduces_sparsenet_trains_folds(data, tmp_path):
    """The estimator is train's code path: the project's folds through cross_val_predict give train's
    held-out predictions, for the same seed."""
    ds, x, y, groups, unlabelled = data
    cfg = build_config("default", cv="grouped", folds=4, seed=3, max_steps=80, ensemble=2)
    results = Runner(ds, cfg, tmp_path / "run").run().results
    records = results[("grouped", "B", 0)]
    folds = make_folds(ds, "grouped", 4, 3)
    cv = [(np.setdiff1d(np.arange(len(y)), test), test) for test in folds]
    est = SparseNetRegressor(masks=core_masks(), max_iter=80, ensemble=2, random_state=3, unlabelled=unlabelled)
    predicted = cross_val_predict(est, x, y, groups=groups, cv=cv)
    for rec in records:
        np.testing.assert_array_equal(predicted[rec.test], rec.predicted[:, 0])


def test_gene_columns_are_aligned_by_id(data):
    pd = pytest.importorskip("pandas")
    ds, x, y, _, _ = data
    genes = ds.masks.gene_ids
    frame = pd.DataFrame(x, columns=genes)
    shuffled = frame[list(reversed(genes))].assign(not_a_gene=1.0)  # other order, one column the masks lack
    est = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2)
    a = est.fit(x, y).predict(x)
    b = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2).fit(shuffled, y).predict(shuffled)
    np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="1 columns of X name no gene of the masks and are not used: not_a_gene"):
        est.fit(shuffled, y)
    np.testing.assert_array_equal(est.predict(frame.assign(not_a_gene=1.0)), b)  # any column order, by name
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(pd.DataFrame(x, columns=[f"junk{i}" for i in range(len(genes))]))


def test_symbol_columns_fit_the_same_model_and_junk_columns_are_refused(data):
    """Gene symbols (any case) as columns give the same model as IDs; columns that name no gene raise instead of
    fitting a constant; a frame missing genes says which."""
    from sparsenet.data.genes import GeneVocabulary

    pd = pytest.importorskip("pandas")
    ds, x, y, _, _ = data
    masks = core_masks()
    vocabulary = GeneVocabulary(masks)
    symbols = [vocabulary.symbol[g] or g for g in masks.gene_ids]
    assert sum(s != g for s, g in zip(symbols, masks.gene_ids, strict=True)) > 100
    by_id = SparseNetRegressor(masks=masks, max_iter=40, ensemble=2).fit(pd.DataFrame(x, columns=masks.gene_ids), y)
    frame = pd.DataFrame(x, columns=[s.upper() if i % 2 else s for i, s in enumerate(symbols)])
    by_symbol = SparseNetRegressor(masks=masks, max_iter=40, ensemble=2).fit(frame, y)
    np.testing.assert_array_equal(by_id.predict(pd.DataFrame(x, columns=masks.gene_ids)), by_symbol.predict(frame))
    junk = pd.DataFrame(x, columns=[f"OD600_{i}" for i in range(x.shape[1])]).assign(**{masks.gene_ids[0]: x[:, 0]})
    with pytest.raises(ValueError, match=r"name 1 of the masks' \d+ genes .*below min_gene_share 0.5"):
        SparseNetRegressor(masks=masks, max_iter=40).fit(junk, y)
    half = pd.DataFrame(x[:, :30], columns=masks.gene_ids[:30])
    with pytest.warns(
        UserWarning, match=f"{len(masks.gene_ids) - 30} of the masks' {len(masks.gene_ids)} genes are not in X"
    ):
        SparseNetRegressor(masks=masks, max_iter=10, min_gene_share=0.1).fit(half, y)


def test_intervals_from_held_out_residuals(data):
    ds, x, y, groups, _ = data
    est = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2, interval_cv=3).fit(x, y, groups=groups)
    assert est.residuals_.shape == (len(y), 1) and np.isfinite(est.residuals_).all()
    mean, sd, interval = est.predict(x, return_std=True, return_interval=0.8)
    width = interval[:, 1] - interval[:, 0]
    assert np.allclose(interval.mean(axis=1), mean, atol=1e-6) and np.allclose(width, width[0]) and width[0] > 0
    q = np.sort(np.abs(est.residuals_[:, 0]))[int(np.ceil((len(y) + 1) * 0.8)) - 1]
    assert width[0] == pytest.approx(2 * q)
    with pytest.raises(ValueError, match="interval_cv"):
        SparseNetRegressor(masks=core_masks(), max_iter=10).fit(x, y).predict(x, return_interval=0.9)


def test_integer_sample_weights_are_repeated_samples(data):
    _, x, y, _, _ = data
    w = np.random.default_rng(0).integers(0, 3, size=len(y)).astype(float)
    weighted = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2).fit(x, y, sample_weight=w)
    keep = np.repeat(np.arange(len(y)), w.astype(int))
    repeated = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2).fit(x[keep], y[keep])
    np.testing.assert_allclose(weighted.predict(x), repeated.predict(x), rtol=1e-6)


def test_multi_output_with_missing_targets(data):
    ds, x, y, _, _ = data
    y2 = np.column_stack([y, 2 * y + 0.1])
    y2[::5, 1] = np.nan  # the second phenotype not measured in every sample
    est = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2).fit(x, y2)
    mean, sd = est.predict(x, return_std=True)
    assert mean.shape == sd.shape == (len(x), 2) and (sd > 0).all() and est.n_outputs_ == 2


def test_penalty_by_grouped_inner_cv(data):
    _, x, y, groups, _ = data
    est = SparseNetRegressorCV(
        alphas=(0.3, 0.03, 0.003), cv=GroupKFold(3), masks=core_masks(), max_iter=40, ensemble=1
    ).fit(x, y, groups=groups)
    assert est.alpha_ in (0.3, 0.03, 0.003) and est.alphas_ == [0.3, 0.03, 0.003] and len(est.cv_loss_) == 3
    assert est.alpha_ == est.alphas_[int(np.argmin(est.cv_loss_))]
    auto = SparseNetRegressor(masks=core_masks(), alpha="auto", max_iter=40, ensemble=1).fit(x, y, groups=groups)
    assert auto.alpha_ in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)


def test_warm_start_continues_from_the_fitted_networks(data):
    _, x, y, _, _ = data
    cold = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2, tol=0.0, alpha=0.0).fit(x, y)
    warm = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2, tol=0.0, alpha=0.0, warm_start=True)
    warm.fit(x, y)
    np.testing.assert_array_equal(warm.predict(x), cold.predict(x))  # the first fit is a cold one
    warm.fit(x, y)  # 40 more steps from where it was: the training fit improves
    assert warm.score(x, y) > cold.score(x, y)
    again = SparseNetRegressor(masks=core_masks(), max_iter=40, ensemble=2, tol=0.0, alpha=0.0).fit(x, y).fit(x, y)
    np.testing.assert_array_equal(again.predict(x), cold.predict(x))  # without it, every fit starts afresh


def test_pickle_round_trip_and_a_gpu_fit_loads_on_the_cpu(data, cp):
    ds, x, y, _, _ = data
    est = SparseNetRegressor(masks=core_masks(), max_iter=30, ensemble=2, device="gpu").fit(x, y)
    on_gpu = est.predict(x)
    blob = pickle.dumps(est)
    assert type(est.encoder_.members[0].params) is np.ndarray  # the fitted networks are kept on the CPU
    back = pickle.loads(blob).set_params(device="cpu")
    np.testing.assert_allclose(back.predict(x), on_gpu, rtol=1e-5, atol=1e-6)


def test_predict_on_anndata_writes_obs(data):
    anndata = pytest.importorskip("anndata")
    pd = pytest.importorskip("pandas")
    ds, x, y, _, _ = data
    est = SparseNetRegressor(masks=core_masks(), max_iter=30, ensemble=2).fit(x, y)
    adata = anndata.AnnData(X=x, var=pd.DataFrame(index=ds.masks.gene_ids))
    out = est.fit(adata, y).predict_anndata(adata, key="growth")
    assert out is adata and {"growth", "growth_sd"} <= set(adata.obs.columns)
    np.testing.assert_allclose(adata.obs["growth"].to_numpy(), est.predict(x), rtol=1e-6)


def test_parameters_are_keyword_only_shared_and_checked_when_fit_starts():
    """Both estimators are one base class with the same parameters (the CV one choosing alpha instead of taking
    it); after the masks every parameter is named; a bad value is scikit-learn's one clear error at fit."""
    from sparsenet.estimator import SparseNetRegressorCV, _SparseNetBase

    reg, cv = SparseNetRegressor().get_params(), SparseNetRegressorCV().get_params()
    assert set(reg) - {"alpha", "inner_folds"} == set(cv) - {"alphas", "cv"}
    assert issubclass(SparseNetRegressor, _SparseNetBase) and issubclass(SparseNetRegressorCV, _SparseNetBase)
    with pytest.raises(TypeError):
        SparseNetRegressor(None, "C")
    x, y = np.zeros((6, 3)), np.arange(6.0)
    for bad in ({"strategy": "A"}, {"alpha": -1.0}, {"max_iter": 0}, {"device": "tpu"}, {"min_gene_share": 2.0}):
        with pytest.raises(ValueError, match=f"'{next(iter(bad))}' parameter of SparseNetRegressor"):
            SparseNetRegressor(masks="random", **bad).fit(x, y)
    with pytest.raises(ValueError, match="'alphas' parameter of SparseNetRegressorCV"):
        SparseNetRegressorCV(masks="random", alphas="strong").fit(x, y)
