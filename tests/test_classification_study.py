"""The classification study: folds, metrics, baselines on the same folds, the N-level null models, the wiring
control and its p (ties count), node importance, the labelled-table reader and `sparsenet classify`."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet.data.labelled import read_labelled
from sparsenet.data.tables import DataError
from sparsenet.masks.hierarchy import build_hierarchy, write_hierarchy
from sparsenet.masks.randomise import randomise_levels
from sparsenet.studies import classification as study
from sparsenet.training.pathway_network import PathwayTraining, build_network, node_importance
from conftest import assert_page, one_line_error, sparsenet

FAST = study.ClassificationSettings(
    folds=3, repeats=1, training=PathwayTraining(epochs=40), ensemble=2, baselines=("logistic_wiring", "majority")
)


def task(rng, n=120):
    features = [f"g{i}" for i in range(30)]
    annotations = [(f, f"P{i // 5}") for i, f in enumerate(features)]
    relations = [("R0", f"P{k}") for k in range(3)] + [("R1", f"P{k}") for k in range(3, 6)]
    h = build_hierarchy(annotations, relations, features, 2)
    X = rng.normal(size=(n, 30))
    y = np.where(X[:, :5].mean(axis=1) > 0, "case", "control")
    return X, y, h


def test_folds_are_stratified_grouped_and_refuse_small_classes(rng):
    codes = np.array([0] * 30 + [1] * 12)
    folds = study.class_folds(codes, 4, 2, seed=0)
    assert len(folds) == 8
    for tr, te in folds:
        assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == 42
        assert 2 <= codes[te].sum() <= 4  # 12 positives over 4 folds
    groups = np.repeat(np.arange(14), 3)
    for tr, te in study.class_folds(codes, 3, 1, 0, groups):
        assert not set(groups[tr]) & set(groups[te])
    with pytest.raises(study.ClassificationError, match="a class has 2 samples, fewer than the 5 folds"):
        study.class_folds(np.array([0] * 10 + [1] * 2), 5, 1, 0)
    with pytest.raises(study.ClassificationError, match="one class"):
        study.encode_classes(["a"] * 5)


def test_metrics_match_their_definitions():
    codes = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.35, 0.65], [0.2, 0.8]])
    m = study.class_metrics(codes, proba, 2)
    assert m["roc_auc"] == pytest.approx(1.0)  # every positive above every negative
    assert m["balanced_accuracy"] == pytest.approx(0.75)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.65, 0.8])))
    assert m["brier"] == pytest.approx(np.mean([2 * 0.1**2, 2 * 0.6**2, 2 * 0.35**2, 2 * 0.2**2]))
    assert np.isnan(study.class_metrics(np.array([1, 1]), proba[:2], 2)["roc_auc"])


def test_cross_validation_puts_the_network_beside_its_baselines(rng):
    X, y, h = task(rng)
    res = study.cross_validate(X, y, h.masks, FAST)
    assert set(res["models"]) == {"network", "logistic_wiring", "majority"}
    assert res["models"]["network"]["roc_auc"]["mean"] > 0.8
    assert res["models"]["majority"]["roc_auc"]["mean"] == 0.5
    assert len(res["folds"]) == 3 and res["network_seconds_per_fit"]["fits"] == 6  # 3 folds x 2 networks
    assert [len(a) for a in res["importance"]] == h.level_sizes()
    # the informative pathway P0 carries the most importance at level 1
    assert int(np.argmax(res["importance"][0])) == h.level_ids[0].index("P0")


@pytest.mark.parametrize("kind", ["genes", "edges", "density"])
def test_null_models_of_n_levels_keep_what_they_promise(rng, kind):
    _, _, h = task(rng)
    levels = [sp.csr_matrix(m) for m in h.masks]
    drawn = randomise_levels(levels, kind, seed=3, draw=1)
    again = randomise_levels(levels, kind, seed=3, draw=1)
    assert all((a != b).nnz == 0 for a, b in zip(drawn, again, strict=True))  # seeded
    for a, b in zip(levels, drawn, strict=True):
        assert a.shape == b.shape and a.nnz == b.nnz
    if kind == "genes":
        assert sorted(np.diff(drawn[0].indptr)) == sorted(np.diff(levels[0].indptr))
        assert (drawn[0] != levels[0]).nnz > 0 and (drawn[1] != levels[1]).nnz == 0
    if kind == "edges":
        for a, b in zip(levels, drawn, strict=True):
            np.testing.assert_array_equal(np.asarray(a.sum(axis=0)), np.asarray(b.sum(axis=0)))
            np.testing.assert_array_equal(np.asarray(a.sum(axis=1)), np.asarray(b.sum(axis=1)))
        assert (drawn[0] != levels[0]).nnz > 0


def test_wiring_control_draws_on_the_same_folds(rng):
    X, y, h = task(rng, n=90)
    real = study.cross_validate(X, y, h.masks, FAST)
    ctl = study.wiring_control(X, y, h.masks, FAST, ("genes", "edges"), draws=3, real=real)
    for kind in ("genes", "edges"):
        e = ctl["null_models"][kind]["roc_auc"]
        assert e["draws"] == 3 and len(e["null_values"]) == 3
        assert e["real"] == real["models"]["network"]["roc_auc"]["mean"]
        at_least = sum(v >= e["real"] for v in e["null_values"])
        assert e["p"] == pytest.approx((1 + at_least) / 4)
        pct = ctl["null_models"][kind]["node_percentile"]
        assert [len(p) for p in pct] == h.level_sizes() and all(0 <= v <= 100 for p in pct for v in p)
    rows = study.important_nodes(real, ctl, h.level_ids, h.level_names, top=2)
    assert len(rows) == 4 and rows[0]["level"] == 1 and rows[0]["importance"] >= rows[1]["importance"]


def test_node_importance_is_activation_times_gradient(rng):
    mask = sp.csr_matrix((rng.random((4, 6)) < 0.6).astype(np.int8))
    net = build_network([mask], 2, PathwayTraining(dropout=0.5, dtype="float64"), seed=3)
    net.layers[-1].params["weight"][0, 2] = 0.0  # node 2 reaches the output through a zero weight
    x = rng.normal(size=(20, 6))
    [imp] = node_importance(net, x)
    w = net.layers[0].params["weight"]
    dense = np.zeros((4, 6))
    dense[mask.nonzero()] = w
    a = np.tanh(x @ dense.T + net.layers[0].params["bias"])  # dropout is off at prediction
    expected = np.abs(a * net.layers[-1].params["weight"][0]).mean(axis=0)
    np.testing.assert_allclose(imp, expected, rtol=1e-10)
    assert imp[2] == 0


def test_labelled_table_merges_fills_and_refuses(tmp_path):
    (tmp_path / "data.csv").write_text("Protein,s1,s2,s3,s4\nP1,1,,3,4\nP2,5,6,7,8\n")
    (tmp_path / "design.tsv").write_text(
        "sample\tgroup\tbatch\ns1\tEnd\tA\ns2\tNo\tA\ns3\tMid\tB\ns9\tNo\tB\ns4\t\tB\n"
    )
    t = read_labelled(
        tmp_path / "data.csv",
        tmp_path / "design.tsv",
        merge={"evolved": ["End", "Mid"]},
        group_column="batch",
        missing="mean",
    )
    assert t.sample_ids == ["s1", "s2", "s3"] and list(t.labels) == ["evolved", "No", "evolved"]
    assert t.X[1, 0] == pytest.approx((1 + 3) / 2) and list(t.groups) == ["A", "A", "B"]
    assert any("s9" in n for n in t.notes) and any("no label" in n for n in t.notes)
    assert read_labelled(tmp_path / "data.csv", tmp_path / "design.tsv").X[1, 0] == 0  # BINN's fill
    with pytest.raises(DataError, match="no column 'label'"):
        read_labelled(tmp_path / "data.csv", tmp_path / "design.tsv", label_column="label")
    with pytest.raises(DataError, match="--merge names labels .* 'Late'"):
        read_labelled(tmp_path / "data.csv", tmp_path / "design.tsv", merge={"x": ["Late"]})


def test_classify_command_end_to_end(tmp_path, rng):
    X, y, h = task(rng, n=60)
    samples = [f"s{i}" for i in range(60)]
    lines = ["feature," + ",".join(samples)] + [f"g{j}," + ",".join(f"{v:.4f}" for v in X[:, j]) for j in range(30)]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "design.csv").write_text(
        "sample,group\n" + "".join(f"{s},{c}\n" for s, c in zip(samples, y, strict=True))
    )
    write_hierarchy(tmp_path / "h.h5", h)
    args = [
        "classify",
        tmp_path / "data.csv",
        "--design",
        tmp_path / "design.csv",
        "--hierarchy",
        tmp_path / "h.h5",
        "--folds",
        "3",
        "--repeats",
        "1",
        "--epochs",
        "20",
        "--control",
        "2",
        "--null-models",
        "edges",
        "--baselines",
        "majority",
        "--curve",
        "12,all",
        "--curve-draws",
        "1",
        "-o",
        tmp_path / "run",
    ]
    done = sparsenet(*args)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "run" / "classification.json").read_text())
    assert set(record["result"]["models"]) == {"network", "majority"}
    assert record["control"]["null_models"]["edges"]["roc_auc"]["draws"] == 2
    table = (tmp_path / "run" / "importance.csv").read_text().splitlines()
    assert table[0].startswith("level,node,name,importance") and len(table) == 1 + sum(h.level_sizes())
    assert "network" in done.stdout and "wiring control, 2 draws" in done.stdout
    assert_page(tmp_path / "run", ["run", "accuracy", "roc", "wiring", "curve", "pathways", "files"])
    assert record["curve"]["models"]["network"]["12"]["fits"] == 3 and "learning curve" in done.stdout
    page = (tmp_path / "run" / "report.html").read_text()
    auc = record["result"]["models"]["network"]["roc_auc"]
    assert f"{auc['mean']:.3f} ± {auc['sd']:.3f}" in page  # the page's numbers are the record's
    assert [r["level"] for r in record["top_nodes"]] == [1] * 6 + [2] * 2  # each level's top 10 (6 and 2 nodes)
    # the final model: sparsenet predict gives its class probabilities, the ones the library's model gives
    from sparsenet.training.pathway_model import load_pathway_model

    model = load_pathway_model(tmp_path / "run" / "classifier.h5")
    pred = sparsenet("predict", tmp_path / "run" / "classifier.h5", tmp_path / "data.csv", "-o", tmp_path / "p.csv")
    assert pred.returncode == 0, pred.stderr
    rows = [r.split(",") for r in (tmp_path / "p.csv").read_text().splitlines()]
    assert rows[0][:4] == ["sample_id", "predicted_class", "probability case", "probability control"]
    got = np.array([[float(r[2]), float(r[3])] for r in rows[1:]])
    np.testing.assert_allclose(got, model.predict_proba(np.round(X, 4)), rtol=1e-5, atol=1e-6)  # as data.csv holds X
    assert [r[0] for r in rows[1:]] == samples and all(r[-1] == "" for r in rows[1:])
    # this run's control recorded: a later run on the same wiring states it as recorded, never as its own
    from sparsenet.report.evidence import classification_statement, record_classification

    ledger = tmp_path / "controls.json"
    record_classification(tmp_path / "run", "synthetic, 3 folds", ledger)
    said = classification_statement(record["hierarchy"]["fingerprint"], path=ledger)
    assert said["source"] == "recorded" and "recorded control on synthetic, 3 folds" in said["text"]
    assert "not this run's" in said["text"] and "edges p = " in said["text"]
    other = classification_statement("0" * 16, path=ledger)
    assert other["source"] == "none" and "not tested" in other["text"]
    assert record["wiring"]["source"] == "this run" and "this run's control, 2 draws" in record["wiring"]["text"]
    one_line_error(sparsenet(*args[:-2], "--label-column", "class", "-o", tmp_path / "run2"), "no column 'class'")
    one_line_error(
        sparsenet(*args[:-2], "--baselines", "svm", "-o", tmp_path / "run3"),
        "--baselines must be one of logistic_all, logistic_wiring, forest, majority, got 'svm'",
    )
    assert not (tmp_path / "run2").exists()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_stack_of_networks_trains_each_member_as_alone(rng, n_classes):
    from conftest import random_mask
    from sparsenet.training.pathway_network import fit_network, fit_stacked

    levels = [random_mask(rng, 30, 80, 0.1), random_mask(rng, 7, 30, 0.3)]
    members = [levels] + [randomise_levels(levels, kind, 0, 1) for kind in ("genes", "edges", "density")]
    X, y = rng.normal(size=(70, 80)), rng.integers(0, n_classes, 70)
    training = PathwayTraining(dropout=0.0, epochs=4, dtype="float64")
    stacked = fit_stacked(members, X, y, n_classes, training, seeds=[3, 4, 5, 6], order_seed=9)
    for j, member in enumerate(members):
        alone = fit_network(member, X, y, n_classes, training, seed=3 + j, order_seed=9)
        np.testing.assert_allclose(stacked[j].params, alone.params, rtol=1e-10, atol=1e-12)


def test_the_control_gives_the_same_nulls_stacked(rng):
    X, y, h = task(rng, n=60)
    settings = study.ClassificationSettings(
        folds=3, repeats=1, training=PathwayTraining(epochs=10, dropout=0.0), baselines=()
    )
    real = study.cross_validate(X, y, h.masks, settings)
    one = study.wiring_control(X, y, h.masks, settings, ("edges",), draws=3, real=real)
    stacked = study.wiring_control(X, y, h.masks, study.replace(settings, stack=2), ("edges",), draws=3, real=real)
    np.testing.assert_allclose(
        stacked["null_models"]["edges"]["roc_auc"]["null_values"],
        one["null_models"]["edges"]["roc_auc"]["null_values"],
        atol=2e-3,
    )


def test_the_final_model_round_trips_and_predicts_what_it_was_trained_to(rng, tmp_path):
    """A classifier.h5 reads back as the same networks (probabilities to the bit), a table in either orientation
    gives the same probabilities, features it lacks are taken at the training mean and flagged, and a table
    with under half of the wired features is refused with the count."""
    from sparsenet.runs.predictions import predict_classes_file
    from sparsenet.training.pathway_model import fit_pathway_model, load_pathway_model, save_pathway_model

    X, y, h = task(rng, n=80)
    model = fit_pathway_model(h, X, y, PathwayTraining(epochs=30), ensemble=2, seed=1)
    save_pathway_model(tmp_path / "m.h5", model)
    again = load_pathway_model(tmp_path / "m.h5")
    assert list(again.classes) == ["case", "control"] and again.hierarchy.fingerprint() == h.fingerprint()
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    accuracy = np.mean(np.asarray(model.classes)[model.predict_proba(X).argmax(axis=1)] == y)
    assert accuracy > 0.8  # it learnt the task it was trained on
    samples = [f"s{i}" for i in range(10)]
    by_rows = ["id," + ",".join(samples)] + [f"g{j}," + ",".join(f"{v:.6f}" for v in X[:10, j]) for j in range(30)]
    (tmp_path / "rows.csv").write_text("\n".join(by_rows) + "\n")
    by_cols = ["id," + ",".join(f"g{j}" for j in range(30))] + [
        f"{s}," + ",".join(f"{v:.6f}" for v in X[i]) for i, s in enumerate(samples)
    ]
    (tmp_path / "cols.csv").write_text("\n".join(by_cols) + "\n")
    a = predict_classes_file(tmp_path / "m.h5", tmp_path / "rows.csv")
    b = predict_classes_file(tmp_path / "m.h5", tmp_path / "cols.csv")
    np.testing.assert_allclose(a.probabilities, model.predict_proba(np.round(X[:10], 6)), rtol=1e-6)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    (tmp_path / "some.csv").write_text("\n".join(by_rows[:21]) + "\n")  # g0..g19: 20 of the 30 wired features
    some = predict_classes_file(tmp_path / "m.h5", tmp_path / "some.csv")
    filled = np.round(X[:10], 6).copy()
    filled[:, 20:] = model.mean[20:]
    np.testing.assert_allclose(some.probabilities, model.predict_proba(filled), rtol=1e-6)
    assert all("67 % of the model's wired features" in f for f in some.flags())
    (tmp_path / "few.csv").write_text("\n".join(by_rows[:11]) + "\n")  # 10 of 30
    with pytest.raises(ValueError, match="hold under 50 % of the model's 30 wired features"):
        predict_classes_file(tmp_path / "m.h5", tmp_path / "few.csv")


def test_the_learning_curve_cuts_the_training_folds_and_ends_at_cross_validation(rng):
    """Its 'all' point is cross_validate's network on the same folds (the same AUCs), its subsets are stratified
    draws of the requested size holding every class, and the held-out samples are each fold's whole test set."""
    X, y, h = task(rng, n=90)
    settings = study.ClassificationSettings(
        folds=3, repeats=1, training=PathwayTraining(epochs=20), ensemble=1, baselines=("logistic_all",)
    )
    curve = study.learning_curve(X, y, h.masks, settings, labels=(12, "all"), draws=2)
    full = study.cross_validate(X, y, h.masks, settings)
    network = full["models"]["network"]["roc_auc"]["mean"]
    assert curve["models"]["network"]["all"]["roc_auc_mean"] == pytest.approx(network)
    assert curve["models"]["logistic_all"]["all"]["roc_auc_mean"] == pytest.approx(
        full["models"]["logistic_all"]["roc_auc"]["mean"]
    )
    assert curve["models"]["network"]["12"]["fits"] == 3 * 2 and curve["models"]["network"]["12"]["samples"] == 12
    codes = study.encode_classes(y)[1]
    train = np.arange(60)
    sub = study._stratified_subset(codes, train, 12, np.random.default_rng(0))
    assert sub.size == 12 and set(codes[sub]) == set(codes[train]) and set(sub) <= set(train)
