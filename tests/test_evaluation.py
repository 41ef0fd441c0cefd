"""Folds and metrics against their definitions."""

import numpy as np
import pytest

from sparsenet.stats import metrics
from sparsenet.runs.folds import grouped_kfold, kfold


def test_kfold_partitions_and_is_seeded():
    f = kfold(23, 5, seed=1)
    assert sorted(np.concatenate(f).tolist()) == list(range(23)) and {len(x) for x in f} <= {4, 5}
    assert all(np.array_equal(a, b) for a, b in zip(f, kfold(23, 5, seed=1), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(f, kfold(23, 5, seed=2), strict=True))


def test_grouped_kfold_never_splits_a_group():
    rng = np.random.default_rng(0)
    groups = rng.choice(list("abcdefghijkl"), size=80)
    folds = grouped_kfold(groups, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(80))
    where = {}
    for i, f in enumerate(folds):
        for g in set(groups[f]):
            assert where.setdefault(g, i) == i
    assert len(grouped_kfold(groups[:10], 10, 0)) == len(set(groups[:10]))  # k capped at the group count
    with pytest.raises(ValueError, match="at least 2 groups"):
        grouped_kfold(["a"] * 5, 3, 0)


def test_metrics_match_their_definitions():
    rng = np.random.default_rng(0)
    y = rng.uniform(0.1, 1, 50)
    p = y * rng.uniform(0.7, 1.3, 50)
    y[3] = np.nan
    ok = np.isfinite(y)
    assert metrics.pearson(y, p) == pytest.approx(np.corrcoef(y[ok], p[ok])[0, 1])
    assert metrics.within(y, p) == pytest.approx(100 * np.mean(np.abs(p[ok] / y[ok] - 1) <= 0.2))
    y0 = y.copy()
    y0[:5] = 0
    ok0 = np.isfinite(y0) & (y0 != 0)
    assert metrics.within(y0, p) == pytest.approx(100 * np.mean(np.abs(p[ok0] / y0[ok0] - 1) <= 0.2))
    assert metrics.rmse(y, p) == pytest.approx(np.sqrt(np.mean((y[ok] - p[ok]) ** 2)))
    x = rng.normal(size=(4, 30))
    r = x + rng.normal(scale=0.5, size=x.shape)
    mu = rng.normal(size=30)  # a training mean per gene
    rec = metrics.reconstruction_metrics(x, r, mu)
    assert rec["r2"] == pytest.approx(1 - ((x - r) ** 2).sum() / ((x - mu) ** 2).sum())
    assert rec["pearson_r"] == pytest.approx(np.corrcoef((x - mu).ravel(), (r - mu).ravel())[0, 1])
    assert metrics.reconstruction_metrics(x, np.broadcast_to(mu, x.shape), mu)["r2"] == pytest.approx(0.0)
    # PCA of full width reconstructs exactly; of width 1, as well as the first component allows
    train = rng.normal(size=(40, 30))
    np.testing.assert_allclose(metrics.pca_reconstruction(train, x, 30), x, atol=1e-9)
    one = metrics.pca_reconstruction(train, x, 1)
    c = train - train.mean(axis=0)
    v = np.linalg.svd(c)[2][0]
    np.testing.assert_allclose(one, np.outer((x - train.mean(axis=0)) @ v, v) + train.mean(axis=0), atol=1e-9)


def test_report_warns_when_fine_tuning_collapsed(tmp_path):
    from types import SimpleNamespace

    from sparsenet.runs.fold_state import FoldRecord
    from sparsenet.stats.summary import summarise
    from sparsenet.training.fitting import TrainingRecord

    y = np.linspace(0.2, 1.0, 12)[:, None]
    ds = SimpleNamespace(y=y, target_columns=["growth"], targets=["BIOMASS"], groups=None)

    def records(pred):
        training = TrainingRecord(finetune_seconds=0.1, finetune_losses=np.ones(3), stop="tolerance")
        return [FoldRecord(np.arange(6 * f, 6 * f + 6), training, predicted=pred[6 * f : 6 * f + 6]) for f in range(2)]

    stuck = summarise(ds, records(np.zeros((12, 1))))
    assert "collapsed" in stuck["warnings"][0]
    fine = summarise(ds, records(y * 1.1))
    assert "warnings" not in fine and fine["phenotypes"]["growth"]["within_20_percent"] == 100.0


def test_a_model_key_reads_back_from_its_text():
    """Results, reports and fold files keep a model as text ('B', 'baseline:ridge', 'null:genes', 'curve:C',
    'curve:baseline:mean'); the typed key a plan dispatches on reads back from it, and nothing else parses."""
    from sparsenet.config.model_keys import Model

    for text in ("B", "baseline:ridge_linked", "null:edges", "curve:C", "curve:baseline:mean"):
        assert str(Model.parse(text)) == text
    assert Model.parse("curve:baseline:mean") == Model("curve", inner=Model("baseline", "mean"))
    assert Model.parse("null:genes").kind == "null" and Model.parse("A") == Model("network", "A")
    with pytest.raises(ValueError, match="kind must be one of"):
        Model("ensemble", "B")
    with pytest.raises(ValueError, match="inner"):
        Model("curve")
    from sparsenet.config.model_keys import kind_of, model_of, report_key, split_key

    key = report_key("lopo", Model.parse("curve:baseline:mean"))  # report.json's key: SCHEME/MODEL
    assert key == "lopo/curve:baseline:mean" and split_key(key) == ("lopo", "curve:baseline:mean")
    assert model_of(key).inner == Model("baseline", "mean") and kind_of(key) == "curve"
    assert split_key("baseline:ridge") == ("", "baseline:ridge") and kind_of("baseline:ridge") == "baseline"


def test_within_group_r_is_the_mean_of_each_big_enough_groups_r():
    """Ranking inside a project: Pearson's and Spearman's r per group of 5 or more observed samples, averaged
    over those groups; smaller groups and missing values take no part; without groups there is nothing to
    rank (NaN), and a prediction that is right within groups but offset between them scores 1 here and less
    pooled."""
    from scipy.stats import pearsonr, spearmanr

    from sparsenet.stats.metrics import prediction_metrics, within_group_r

    rng = np.random.default_rng(4)
    groups = ["a"] * 8 + ["b"] * 6 + ["c"] * 4
    y = rng.normal(size=18)
    p = y + rng.normal(scale=0.7, size=18)
    y[3] = np.nan
    out = within_group_r(y, p, groups)
    a, b = np.arange(8)[np.arange(8) != 3], np.arange(8, 14)
    assert out["groups_ranked"] == 2  # c has 4 samples
    assert out["within_group_r"] == pytest.approx(np.mean([pearsonr(y[a], p[a])[0], pearsonr(y[b], p[b])[0]]))
    assert out["within_group_spearman"] == pytest.approx(np.mean([spearmanr(y[a], p[a])[0], spearmanr(y[b], p[b])[0]]))
    offset = np.where(np.asarray(groups) == "a", 5.0, -5.0) + np.nan_to_num(y)  # right within, wrong between
    m = prediction_metrics(np.nan_to_num(y), offset, groups)
    assert m["within_group_r"] == pytest.approx(1.0) and m["pearson_r"] < 0.9
    assert np.isnan(prediction_metrics(y, p)["within_group_r"])


def test_a_growth_rates_interval_stops_at_zero_and_the_clipping_is_counted():
    """Issue 37, item 5: the lower bound of a growth rate's interval is clipped to 0 and counted; a phenotype
    without a floor (a flux that may run either way) is left as it is."""
    from sparsenet.runs.predictions import Predictions, phenotype_floor

    floor = phenotype_floor(["Growth Rate (1/hr)", "acetate"], ["BIOMASS_Ec_iJO1366_core_53p95M", "EX_ac_e"])
    assert floor[0] == 0.0 and np.isnan(floor[1])
    mean = np.array([[0.05, -0.2], [0.6, 0.1]])
    p = Predictions(
        ["a", "b"],
        ["Growth Rate (1/hr)", "acetate"],
        ["BIOMASS", "EX_ac_e"],
        mean,
        None,
        np.array([0.1, 0.3]),
        0.9,
        ["", ""],
        1,
        "",
        floor=floor,
    )
    np.testing.assert_allclose(p.lower, [[0.0, -0.5], [0.5, -0.2]])
    np.testing.assert_allclose(p.upper, mean + [0.1, 0.3])
    assert p.clipped == 1 and "1 lower bound raised to the phenotype's floor" in p.said()
    rows = p.csv().splitlines()
    assert rows[1].split(",")[1:3] == ["0.05", "0"]
