"""Pre-training, fine-tuning, checkpoints, resumable cross-validation on the shipped e_coli_core masks."""

import numpy as np
import pytest

from sparsenet.engine import DenseLinear, Sequential, sum_squared_error
from sparsenet.runs.crossval import Runner
from sparsenet.training.checkpoint import Checkpoint, check_same_masks, load_checkpoint, save_checkpoint
from sparsenet.training.finetune import FinetuneSettings, scale_fresh_weights, tuned_parameters
from sparsenet.training.stacked_finetune import finetune
from sparsenet.training.network import build_autoencoder, linked_genes
from sparsenet.training.pretrain import PretrainSettings, pretrain
from sparsenet.data.normalise import Normalisation

from conftest import core_dataset, training_config
from synthetic import core_masks


@pytest.mark.parametrize("layout", ["feature_major", "c_order"])
def test_weighted_squared_error_against_float64(rng, layout):
    p = rng.normal(size=(37, 9)).astype(np.float32)
    y = rng.normal(size=(37, 9)).astype(np.float32)
    w = (rng.random(9) < 0.5).astype(np.float32)
    if layout == "feature_major":
        p, y = np.asfortranarray(p), np.asfortranarray(y)
    value, grad = sum_squared_error(p, y, w)
    d = p.astype(np.float64) - y
    assert value == pytest.approx(float((w * d * d).sum()), rel=1e-5)
    np.testing.assert_allclose(grad, 2 * w * d, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="feature_weight"):
        sum_squared_error(p, y, w[:3])


def test_linked_genes_are_those_reaching_a_phenotype():
    m = core_masks()
    linked = linked_genes(m)
    degree = np.asarray(m.protein_phenotype.sum(axis=0)).ravel()
    assert np.array_equal(linked, degree > 0) and 0 < linked.sum() < linked.size


def test_pretraining_lowers_the_loss_and_leaves_unlinked_genes_alone(rng):
    m = core_masks()
    net = build_autoencoder(m, "C", seed=0)
    linked = linked_genes(m)
    last_before = net.layers[-1].params["weight"].copy()

    class Source:
        n_samples = 40
        data = rng.normal(scale=0.2, size=(40, len(m.gene_ids))).astype(np.float32)

        def take(self, rows):
            return self.data[rows]

    losses = pretrain(net, Source(), np.arange(40), PretrainSettings(samples=4000, batch=100, lr=0.01), linked, 0)
    assert losses.size == 40 and losses[-5:].mean() < 0.5 * losses[:5].mean()
    after = net.layers[-1].params["weight"]
    assert np.array_equal(after[~linked], last_before[~linked])  # no gradient: left out of the loss
    assert not np.array_equal(after[linked], last_before[linked])


def _pairs(m, rng, n=60):
    x = rng.normal(scale=0.2, size=(n, len(m.gene_ids))).astype(np.float32)
    y = (0.5 + 0.2 * np.tanh(3 * x[:, :20].mean(axis=1)))[:, None]
    return x, y


@pytest.mark.parametrize("tune, first_changes", [("phenotype", False), ("all", True)])
def test_finetuning_fits_and_respects_which_layers_are_tuned(rng, tune, first_changes):
    m = core_masks()
    net = build_autoencoder(m, "C", seed=0)
    enc = Sequential(net.layers[: net.n_encoder])
    first = enc.layers[0].params["scale"].copy()  # gene->protein weights (one-to-one, folded in)
    phen = enc.layers[0].params["weight"].copy()
    x, y = _pairs(m, rng)
    idx = [next(i for i, p in enumerate(m.phenotype_ids) if "biomass" in p.lower())]
    losses, reason = finetune(enc, x, y, idx, FinetuneSettings(lr=1e-2, max_steps=400, tune=tune), pretrained=True)
    assert losses[-1] < 0.5 * losses[0]
    assert reason in ("tolerance", "step limit")
    assert (not np.array_equal(enc.layers[0].params["scale"], first)) == first_changes
    assert not np.array_equal(enc.layers[0].params["weight"], phen)  # protein->phenotype always tuned
    assert not enc.layers[0].frozen  # restored afterwards


def test_finetune_stops_by_tolerance_when_asked(rng):
    m = core_masks()
    net = build_autoencoder(m, "B", seed=0)
    enc = Sequential(net.layers[: net.n_encoder])
    x, y = _pairs(m, rng)
    loose = finetune(enc, x, y, [0], FinetuneSettings(lr=1e-3, max_steps=5000, tol=0.5, window=20), False)
    assert loose[1] == "tolerance" and loose[0].size < 5000
    strict = finetune(enc, x, y, [0], FinetuneSettings(lr=1e-3, max_steps=30, tol=0.0, window=20), False)
    assert strict[1] == "step limit" and strict[0].size == 30


def test_l2_penalty_converges_to_the_closed_form_ridge_solution(rng):
    """A linear read-out fine-tuned with the squared loss and ``l2`` minimises
    sum((y - yhat) / ybar)^2 + l2 * n / 2 * |theta|^2 over weights and bias: the float64 normal equations give it."""
    n, d = 60, 8
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (1.0 + x @ rng.normal(scale=0.3, size=d) + rng.normal(scale=0.1, size=n))[:, None]
    l2 = 0.5
    enc = Sequential([DenseLinear(d, 1, seed=1)])
    finetune(enc, x, y, [0], FinetuneSettings(lr=3e-3, max_steps=6000, tol=0.0, loss="squared", l2=l2), False)
    a = np.hstack([x.astype(np.float64), np.ones((n, 1))]) / abs(y.mean())
    theta = np.linalg.solve(2 * a.T @ a + l2 * n * np.eye(d + 1), 2 * a.T @ (y[:, 0] / abs(y.mean())))
    got = np.append(enc.layers[0].params["weight"].ravel(), enc.layers[0].params["bias"])
    np.testing.assert_allclose(got, theta, atol=2e-3)
    unpenalised = np.linalg.lstsq(a, y[:, 0] / abs(y.mean()), rcond=None)[0]
    assert np.abs(got - unpenalised).max() > 0.1  # the penalty made a difference this test can see


def test_l2_penalty_leaves_frozen_parameters_alone(rng):
    m = core_masks()
    net = build_autoencoder(m, "C", seed=0)
    enc = Sequential(net.layers[: net.n_encoder])
    scale = enc.layers[0].params["scale"].copy()
    x, y = _pairs(m, rng)
    weight = np.abs(enc.layers[0].params["weight"]).sum()
    finetune(enc, x, y, [0], FinetuneSettings(lr=1e-2, max_steps=300, tol=0.0, tune="phenotype", l2=10.0), True)
    np.testing.assert_array_equal(enc.layers[0].params["scale"], scale)  # frozen: no gradient, no penalty
    assert np.abs(enc.layers[0].params["weight"]).sum() < 0.1 * weight  # tuned: pulled towards zero
    names = [id(p) for p, _ in tuned_parameters(enc)]
    assert id(enc.layers[0].params["scale"]) in names  # finetune unfroze it again afterwards


def test_fresh_weights_are_scaled_and_pretrained_ones_are_not():
    m = core_masks()
    net = build_autoencoder(m, "C", seed=0)
    enc = Sequential(net.layers[: net.n_encoder] + [DenseLinear(len(m.phenotype_ids), 1, seed=3)])
    before = [{k: v.copy() for k, v in layer.params.items()} for layer in enc.layers]
    scale_fresh_weights(enc, 0.1, first_fresh=net.n_encoder)
    for k, v in before[0].items():
        np.testing.assert_array_equal(enc.layers[0].params[k], v)  # pre-trained: as it was
    np.testing.assert_allclose(enc.layers[-1].params["weight"], 0.1 * before[-1]["weight"], rtol=1e-6)
    np.testing.assert_array_equal(enc.layers[-1].params["bias"], before[-1]["bias"])
    scale_fresh_weights(enc, 0.5)
    np.testing.assert_allclose(enc.layers[0].params["weight"], 0.5 * before[0]["weight"], rtol=1e-6)
    np.testing.assert_array_equal(enc.layers[0].params["scale"], before[0]["scale"])  # the one-to-one start stays 1


def test_checkpoint_round_trip_and_mask_check(tmp_path):
    m = core_masks()
    net = build_autoencoder(m, "C", seed=3)
    norm = Normalisation(["r1"], np.arange(len(m.gene_ids), dtype=float))
    ck = Checkpoint(
        "C",
        net.state_dict(),
        m,
        norm,
        [m.phenotype_ids[0]],
        ["Growth"],
        {"seed": 3},
        {"stage": "final"},
        {"losses": np.arange(4.0)},
    )
    save_checkpoint(tmp_path / "c.h5", ck)
    back = load_checkpoint(tmp_path / "c.h5")
    assert back.strategy == "C" and back.targets == ck.targets and back.config == {"seed": 3}
    for k, v in ck.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    np.testing.assert_array_equal(back.normalisation.reference_profile, norm.reference_profile)
    check_same_masks(back, m, "c.h5")
    other = core_masks()
    other.protein_phenotype = other.protein_phenotype[:-1]
    other.phenotype_ids = other.phenotype_ids[:-1]
    with pytest.raises(ValueError, match="different masks"):
        check_same_masks(back, other, "c.h5")
    (tmp_path / "bad.h5").write_bytes((tmp_path / "c.h5").read_bytes()[:3000])
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(tmp_path / "bad.h5")


def _dataset(tmp_path):
    return core_dataset(tmp_path)


def _config(**kw):
    return training_config(**kw)


def _run(ds, cfg, out, progress=None):
    (out / "state").mkdir(parents=True, exist_ok=True)
    return Runner(ds, cfg, out, progress).run()


class Killed(Exception):
    pass


@pytest.mark.slow  # a whole cross-validation, killed and resumed
def test_same_seed_same_numbers_and_resume_after_kill(tmp_path):
    ds = _dataset(tmp_path)
    cfg = _config()
    first = _run(ds, cfg, tmp_path / "a")
    full, final = first.results, first.final
    again = _run(ds, cfg, tmp_path / "b").results
    for key in full:
        for r1, r2 in zip(full[key], again[key], strict=True):
            np.testing.assert_array_equal(r1.predicted, r2.predicted)

    def kill_midway(stage):  # dies inside the 2nd fold's pre-training; progress comes at checkpoints (3, 6, 9, ...)
        if stage.kind == "pretrain" and "fold 2" in stage.label and stage.done == 9:
            raise Killed()

    with pytest.raises(Killed):
        _run(ds, cfg, tmp_path / "c", kill_midway)
    partial = list((tmp_path / "c" / "state").glob("*.partial.h5"))
    assert len(partial) == 1 and load_checkpoint(partial[0]).progress["step"] == 6

    reported = {}

    def count(stage):
        if stage.kind == "pretrain":
            reported.setdefault(stage.label, []).append(stage.done)

    second = _run(ds, cfg, tmp_path / "c", count)
    resumed, final2 = second.results, second.final
    steps = -(-cfg.pretrain.samples // cfg.pretrain.batch)
    # grouped fold 1 was done; fold 2 restarts after step 6; the rest run whole (fold 3, 3 kfold, final C)
    assert len(reported) == 1 + 1 + 3 + 1
    assert all(max(done) == steps for done in reported.values())
    fold2 = next(done for label, done in reported.items() if "grouped" in label and "fold 2" in label)
    assert min(fold2) == 9 and min(min(done) for done in reported.values()) == 3
    for key in full:
        for r1, r2 in zip(full[key], resumed[key], strict=True):
            np.testing.assert_allclose(r1.predicted, r2.predicted, rtol=1e-6)
    for k in final.params:
        np.testing.assert_allclose(final.params[k], final2.params[k], rtol=1e-6)


def test_strategies_share_folds_and_only_c_reconstructs(tmp_path):
    ds = _dataset(tmp_path)
    results = _run(ds, _config(strategies=["A", "B", "C"], cv=["grouped"], final_model=False), tmp_path / "r").results
    tests = {s: [tuple(r.test) for r in results[("grouped", s, 0)]] for s in "ABC"}
    assert tests["A"] == tests["B"] == tests["C"]
    groups = np.asarray(ds.groups)
    for fold in tests["C"]:
        held = set(groups[list(fold)])
        rest = set(np.delete(groups, list(fold)))
        assert not held & rest
    assert all(r.reconstruction is not None for r in results[("grouped", "C", 0)])
    assert not any(r.reconstruction is not None for r in results[("grouped", "B", 0)])
