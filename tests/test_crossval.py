"""Issue 8: baselines on the network's folds, no held-out leak into fitted statistics, seeds aggregated,
leave-one-group-out, and an autoencoder whose output can take both signs."""

import numpy as np
import pytest

from sparsenet.data.dataset import load_dataset
from sparsenet.data.spec import DataSpec
from sparsenet.data.standardise import InputTransform, fit_input_transform
from sparsenet.runs import baselines
from sparsenet.runs import crossval
from sparsenet.training.network import linked_genes
from sparsenet.config.run_config import RunConfig
from sparsenet.runs.crossval import Runner
from sparsenet.runs.folds import leave_one_group_out
from sparsenet.stats.summary import aggregate, paired
from sparsenet.training.finetune import FinetuneSettings
from sparsenet.training.network import Architecture, build_autoencoder
from sparsenet.training.pretrain import PretrainSettings, pretrain
from synthetic import core_masks, write_dataset


def _dataset(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data")
    return load_dataset(core_masks(), DataSpec(expr, phen, ["ref_1", "ref_2"], group_by="project"))


def _config(**kw):
    base = dict(
        strategies=["B", "C"],
        cv=["grouped"],
        folds=3,
        seed=2,
        device="cpu",
        inputs="standardise",
        architecture=Architecture("linear", "readout"),
        pretrain=PretrainSettings(samples=800, batch=200, lr=0.01),
        finetune=FinetuneSettings(lr=1e-2, max_steps=30),
        baselines=["mean", "ridge", "ridge_linked"],
        final_model=False,
    )
    base.update(kw)
    return RunConfig(**base)


def test_baselines_see_exactly_the_networks_folds(tmp_path, monkeypatch):
    ds = _dataset(tmp_path)
    seen = []
    real = baselines.fit_predict

    def spy(name, x_train, y_train, groups_train, x_test, seed):
        seen.append((name, x_train.copy(), x_test.copy()))
        return real(name, x_train, y_train, groups_train, x_test, seed)

    monkeypatch.setattr(crossval.baselines, "fit_predict", spy)
    (tmp_path / "r" / "state").mkdir(parents=True)
    results = Runner(ds, _config(), tmp_path / "r").run().results
    x = ds.inputs.take(ds.labelled)
    linked = linked_genes(ds.masks)
    assert 0 < linked.sum() < linked.size
    net_tests = [r.test for r in results[("grouped", "B", 0)]]
    for name, genes in (("mean", slice(None)), ("ridge", slice(None)), ("ridge_linked", linked)):
        calls = [c for c in seen if c[0] == name]
        assert len(calls) == len(net_tests)
        for (_, x_train, x_test), test, rec in zip(
            calls, net_tests, results[("grouped", f"baseline:{name}", 0)], strict=True
        ):
            np.testing.assert_array_equal(rec.test, test)
            np.testing.assert_array_equal(x_test, x[test][:, genes])
            np.testing.assert_array_equal(x_train, np.delete(x, test, axis=0)[:, genes])  # every other labelled sample
    mean_pred = np.concatenate([r.predicted for r in results[("grouped", "baseline:mean", 0)]])
    train_means = np.concatenate([np.full(len(t), np.nanmean(np.delete(ds.y[:, 0], t))) for t in net_tests])
    np.testing.assert_allclose(mean_pred[:, 0], train_means)


def test_standardisation_is_fitted_on_training_samples_only(tmp_path):
    ds = _dataset(tmp_path)
    runner = Runner(ds, _config(), tmp_path / "r")
    test = np.arange(0, ds.labelled.size, 4)
    held_out = {ds.labelled_ids[i] for i in test}
    fold_fit = runner.fit("C", np.setdiff1d(np.arange(ds.labelled.size), test), held_out, 0, 2, "fold")
    transform, rows = fold_fit.transform, fold_fit.pool_rows
    pool_ids = ds.pretrain_source.sample_ids
    assert not held_out & {pool_ids[r] for r in rows}
    everything = ds.pretrain_source.all().astype(np.float64)
    training = everything[rows]
    np.testing.assert_allclose(transform.mean, training.mean(axis=0), atol=1e-6)
    sd = training.std(axis=0)
    np.testing.assert_allclose(transform.sd, np.where(sd < 1e-3, 1.0, sd), rtol=1e-5)
    # the held-out samples move the statistics: a transform fitted with them would differ
    assert np.abs(everything.mean(axis=0) - transform.mean).max() > 1e-3


def test_input_transform_round_trip_and_streamed_statistics(rng):
    x = rng.normal(2.0, 3.0, size=(50, 7))
    x[:, 3] = 1.5  # constant gene: scale 1
    src = type("S", (), {"take": lambda self, r: x[np.asarray(r)]})()
    t = fit_input_transform(src, np.arange(50), "standardise", chunk=7)
    np.testing.assert_allclose(t.mean, x.mean(axis=0))
    assert t.sd[3] == 1.0
    z = t.apply(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(t.invert(z), x, rtol=1e-5, atol=1e-5)
    assert np.array_equal(InputTransform("raw", t.mean, t.sd).apply(x), x.astype(np.float32))
    with pytest.raises(ValueError, match="inputs must be one of"):
        fit_input_transform(src, np.arange(50), "zscore")


def test_seeds_repeat_on_the_same_folds_and_aggregate(tmp_path):
    ds = _dataset(tmp_path)
    (tmp_path / "r" / "state").mkdir(parents=True)
    results = Runner(ds, _config(seeds=2, strategies=["B"]), tmp_path / "r").run().results
    a, b = results[("grouped", "B", 0)], results[("grouped", "B", 1)]
    assert [tuple(r.test) for r in a] == [tuple(r.test) for r in b]
    assert not np.allclose(np.concatenate([r.predicted for r in a]), np.concatenate([r.predicted for r in b]))
    per_seed = [
        {"phenotypes": {"g": {"pearson_r": r, "within_20_percent": w, "rmse": e}}}
        for r, w, e in ((0.5, 40.0, 0.3), (0.7, 60.0, 0.1), (0.6, 50.0, 0.2))
    ]
    agg = aggregate(per_seed)["g"]
    assert agg["pearson_r"]["mean"] == pytest.approx(0.6)
    assert agg["pearson_r"]["sd"] == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1))
    assert agg["within_20_percent"]["per_seed"] == [40.0, 60.0, 50.0]
    worse = aggregate(
        [
            {"phenotypes": {"g": {"pearson_r": r - 0.3, "within_20_percent": w - 20, "rmse": e + 0.2}}}
            for r, w, e in ((0.5, 40.0, 0.3), (0.7, 60.0, 0.1), (0.6, 50.0, 0.2))
        ]
    )["g"]
    p = paired(agg, worse)
    assert p["pearson_r"]["difference_mean"] == pytest.approx(0.3) and p["pearson_r"]["better_in"] == "3/3"
    assert p["pearson_r"]["verdict"] == "better" and p["rmse"]["verdict"] == "better"
    assert paired(worse, agg)["within_20_percent"]["verdict"] == "worse"
    noisy = aggregate(
        [{"phenotypes": {"g": {"pearson_r": r, "within_20_percent": 0.0, "rmse": 0.0}}} for r in (0.52, 0.69, 0.61)]
    )["g"]
    assert paired(noisy, agg)["pearson_r"]["verdict"] == "within noise"


def test_leave_one_group_out():
    groups = ["a", "b", "a", "c", "b", "a"]
    folds = leave_one_group_out(groups)
    assert [f.tolist() for f in folds] == [[0, 2, 5], [1, 4], [3]]
    with pytest.raises(ValueError, match="at least 2 groups"):
        leave_one_group_out(["a", "a"])


def test_linear_decoder_reconstructs_both_signs(rng):
    """The paper's decoder ends in d * softplus(.): one sign per gene. The linear decoder does not."""
    masks = core_masks()
    from sparsenet.training.network import linked_genes

    linked = linked_genes(masks)
    x = (rng.normal(size=(300, 2)) @ rng.normal(size=(2, len(masks.gene_ids)))).astype(np.float32) * 0.3
    src = type("S", (), {"take": lambda self, r: x[np.asarray(r)].copy()})()
    r2 = {}
    for decoder in ("softplus", "linear"):
        net = build_autoencoder(masks, "C", 0, "cpu", Architecture(decoder, "node"))
        pretrain(net, src, np.arange(300), PretrainSettings(samples=60_000, batch=300, lr=0.01), linked, 0)
        out = np.asarray(net.forward(x))[:, linked]
        r2[decoder] = 1 - ((out - x[:, linked]) ** 2).sum() / ((x[:, linked] - x[:, linked].mean(0)) ** 2).sum()
        signs = np.sign(out).astype(int)
        mixed = np.mean([len(set(signs[:, j])) > 1 for j in range(out.shape[1])])
        if decoder == "softplus":
            assert mixed == 0.0  # every linked gene's reconstruction keeps one sign
        else:
            assert mixed > 0.5
    assert r2["linear"] > 0.6 and r2["linear"] > r2["softplus"] + 0.3


def test_early_stopping_chooses_from_inner_folds_and_leaves_the_encoder(rng):
    from sparsenet.training.finetune import step_grid
    from sparsenet.training.stacked_finetune import choose_steps
    from sparsenet.training.network import build_encoder

    masks = core_masks()
    net = build_autoencoder(masks, "B", 0, "cpu", Architecture("linear", "readout"))
    encoder, columns = build_encoder(net, Architecture("linear", "readout"), [0], 0)
    x = rng.normal(scale=0.3, size=(40, len(masks.gene_ids))).astype(np.float32)
    y = (0.5 + 0.1 * np.tanh(x[:, :5].sum(axis=1)))[:, None]
    before = encoder.params.copy()
    settings = FinetuneSettings(lr=1e-2, max_steps=200)
    folds = [np.arange(i, 40, 4) for i in range(4)]
    steps, grid, curve = choose_steps(encoder, x, y, columns, settings, False, folds)
    np.testing.assert_array_equal(encoder.params, before)
    assert list(grid) == list(step_grid(200)) and grid[0] == 25 and grid[-1] == 200
    assert steps == grid[int(np.argmin(curve))] and curve.shape == grid.shape and np.isfinite(curve).all()
    # the curve is the mean over inner folds of the held-out loss after that many steps, from the same start
    from sparsenet.training.stacked_finetune import finetune
    from dataclasses import replace

    tail = []
    for test in folds:
        encoder.params[...] = before
        train = np.setdiff1d(np.arange(40), test)
        finetune(encoder, x[train], y[train], columns, replace(settings, max_steps=int(grid[1]), tol=0.0), False)
        p = np.asarray(encoder.forward(x[test]))[:, 0]
        tail.append(np.mean(np.abs((y[test, 0] - p) / y[test, 0])))
    assert curve[1] == pytest.approx(np.mean(tail), rel=1e-3)


def test_ensemble_is_the_mean_of_its_members_and_member_zero_is_the_single_network(tmp_path):
    from sparsenet.training.finetune import predict
    from sparsenet.training.network import Ensemble

    ds = _dataset(tmp_path)
    train = np.arange(0, ds.labelled.size, 2)
    test = np.arange(1, ds.labelled.size, 2)
    held_out = {ds.labelled_ids[i] for i in test}
    [single] = Runner(ds, _config(ensemble=1), tmp_path / "one").fit("C", train, held_out, 11, 2, "fold").fitted
    two = Runner(ds, _config(ensemble=2), tmp_path / "two").fit("C", train, held_out, 11, 2, "fold")
    transform, [pair] = two.transform, two.fitted
    assert isinstance(pair.encoder, Ensemble) and len(pair.encoder.members) == 2 and len(pair.nets) == 2
    np.testing.assert_array_equal(pair.encoder.members[0].params, single.encoder.params)
    assert not np.array_equal(pair.encoder.members[0].params, pair.encoder.members[1].params)
    x = transform.apply(ds.inputs.take(ds.labelled[test]))
    members = [predict(m, x, pair.columns) for m in pair.encoder.members]
    np.testing.assert_allclose(predict(pair.encoder, x, pair.columns), np.mean(members, axis=0), rtol=1e-6)
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble([])


def test_the_penalty_chosen_by_inner_cv_never_sees_the_held_out_fold(tmp_path):
    """--l2 auto: each fold's penalty comes from inner folds of its training samples; changing the held-out
    samples' phenotypes changes nothing of it, and the choice is one of the path's."""
    from dataclasses import replace

    from sparsenet.training.penalty import L2_PATH

    ds = _dataset(tmp_path)
    cfg = _config(
        strategies=["B"], baselines=[], finetune=FinetuneSettings(lr=1e-2, max_steps=60, l2="auto", loss="squared")
    )
    test = np.arange(0, ds.labelled.size, 4)
    train = np.setdiff1d(np.arange(ds.labelled.size), test)
    held_out = {ds.labelled_ids[i] for i in test}
    rec = Runner(ds, cfg, tmp_path / "a").fit("B", train, held_out, 0, 2, "fold").fitted[0].record
    moved = replace(ds, y=ds.y.copy())
    moved.y[test] *= 3
    again = Runner(moved, cfg, tmp_path / "b").fit("B", train, held_out, 0, 2, "fold").fitted[0].record
    assert rec.l2_chosen in L2_PATH and list(rec.l2_path) == list(L2_PATH)
    assert again.l2_chosen == rec.l2_chosen
    np.testing.assert_array_equal(again.l2_inner_loss, rec.l2_inner_loss)
    assert len(set(np.round(rec.l2_inner_loss, 9))) > 1  # the penalties were told apart


def test_a_fold_record_reads_back_as_written_and_a_flat_file_of_0_6_reads_as_one(tmp_path):
    """Every field of a fold record (the training record's too) survives the state file; the flat layout 0.6.0
    wrote (plain keys, stop as an attribute) reads as the same record, so a run folder from then resumes; a file
    with a field no record has is refused with the fix."""
    import h5py

    from sparsenet.runs.fold_state import FoldRecord, read_fold, write_fold
    from sparsenet.training.fitting import TrainingRecord

    rng = np.random.default_rng(0)
    training = TrainingRecord(
        pretrain_seconds=1.5,
        pretrain_losses=rng.random(4),
        finetune_seconds=2.0,
        finetune_losses=rng.random(6),
        stop="tolerance",
        l2_chosen=0.03,
        l2_path=np.array([0.01, 0.03]),
        l2_inner_loss=rng.random(2),
        l2_path_steps=np.array([5, 6]),
        inner_steps=np.array([10, 20]),
        inner_loss=rng.random(2),
    )
    rec = FoldRecord(
        np.array([3, 1, 4]),
        training,
        predicted=rng.random((3, 2)),
        link_weights=rng.random((2, 2, 5)),
        wiring_nodes=7,
        wiring_links=40,
        reconstruction={"r2": 0.5, "pca_r2": 0.25},
        recon_sample=rng.random((2, 9)),
        flux_failed="[]",
    )
    write_fold(tmp_path / "f.h5", rec)
    back = read_fold(tmp_path / "f.h5")
    for name in ("test", "predicted", "link_weights", "recon_sample"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rec, name))
    assert (back.wiring_nodes, back.wiring_links, back.flux_failed) == (7, 40, "[]")
    assert back.reconstruction == rec.reconstruction
    assert back.predicted_draws is None and back.subset_keys is None
    for name in ("pretrain_seconds", "finetune_seconds", "stop", "l2_chosen"):
        assert getattr(back.training, name) == getattr(training, name)
    for name in (
        "pretrain_losses",
        "finetune_losses",
        "l2_path",
        "l2_inner_loss",
        "l2_path_steps",
        "inner_steps",
        "inner_loss",
    ):
        np.testing.assert_array_equal(getattr(back.training, name), getattr(training, name))

    with h5py.File(tmp_path / "old.h5", "w") as f:  # what 0.6.0's write_fold made of a baseline's fold
        f.attrs["stop"] = "fitted"
        for k, v in {
            "test": [0, 2],
            "predicted": [[0.1], [0.2]],
            "pretrain_seconds": 0.0,
            "finetune_seconds": 0.25,
            "pretrain_losses": np.zeros(0),
            "finetune_losses": np.zeros(0),
        }.items():
            f.create_dataset(k, data=np.asarray(v))
    old = read_fold(tmp_path / "old.h5")
    assert (old.training.stop, old.training.finetune_seconds, old.training.l2_chosen) == ("fitted", 0.25, None)
    np.testing.assert_array_equal(old.predicted, [[0.1], [0.2]])

    with h5py.File(tmp_path / "odd.h5", "w") as f:
        f.create_dataset("test", data=[0])
        f.create_dataset("weights_of_something", data=[1.0])
    with pytest.raises(ValueError, match="weights_of_something unknown.*delete the run's state/"):
        read_fold(tmp_path / "odd.h5")
