"""Many networks fitted as one: a stack's members end where fitting each alone ends, stop on their
own, keep their own samples and penalties; per-member input scales through ``scale_index`` have the
right gradients; denormals are flushed inside the CPU kernels only."""

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet.engine import MaskedLinear, Sequential, cpu_kernels, sum_squared_error
from sparsenet.engine.stack import block_diagonal, scale_index, stack_rows
from sparsenet.masks.store import Masks
from sparsenet.training.finetune import FinetuneSettings, predict, scale_fresh_weights
from sparsenet.training.network import Architecture, build_autoencoder, build_encoder
from sparsenet.training.stacked_finetune import EncoderStack, finetune, finetune_stack

from conftest import random_mask
from synthetic import core_masks

ARCH = Architecture("linear", "readout")


def permuted(masks, seed):
    """The masks with their genes permuted: the same topology on other genes (a null draw)."""
    perm = np.random.default_rng(seed).permutation(len(masks.gene_ids))
    return Masks(
        masks.gene_ids,
        masks.protein_ids,
        masks.phenotype_ids,
        masks.phenotype_names,
        masks.gene_protein,
        sp.csr_matrix(masks.protein_phenotype)[:, perm],
    )


def encoder(masks, seed, arch=ARCH, targets=(0,)):
    net = build_autoencoder(masks, "B", seed, "cpu", arch)
    enc, cols = build_encoder(net, arch, list(targets), seed)
    scale_fresh_weights(enc, 0.1, 0)
    return enc, cols


def problem(seed=0, n=60):
    m = core_masks()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(m.gene_ids))).astype(np.float32)
    y = (0.6 + 0.2 * np.tanh(x[:, :15].mean(axis=1, keepdims=True) * 3)).astype(np.float64)
    return m, x, y


SETTINGS = FinetuneSettings(lr=0.01, max_steps=1500, tol=1e-3, window=20, loss="squared", l2=0.03)


def test_scale_index_gradients_match_finite_differences():
    """A masked layer whose nonzeros read scales of their own group (a stack's per-member scales)."""
    rng = np.random.default_rng(3)
    masks = [random_mask(rng, 6, 20, 0.3), random_mask(rng, 4, 20, 0.4)]
    stacked, offsets = stack_rows(masks)
    layer = MaskedLinear(
        stacked,
        activation="softplus",
        input_scale=True,
        scale_index=scale_index(stacked, offsets),
        n_scales=2 * 20,
        dtype=np.float64,
        seed=1,
    )
    net = Sequential([layer])
    layer.params["scale"][...] = rng.uniform(0.5, 1.5, size=40)
    layer.params["bias"][...] = rng.normal(size=10)
    x = rng.normal(size=(7, 20))
    y = rng.normal(size=(7, 10))
    loss, g = sum_squared_error(net.forward(x), y)
    net.backward(g)
    analytic = net.grads.copy()
    eps = 1e-6
    for i in rng.choice(net.params.size, 40, replace=False):
        old = net.params[i]
        net.params[i] = old + eps
        up = sum_squared_error(net.forward(x), y)[0]
        net.params[i] = old - eps
        down = sum_squared_error(net.forward(x), y)[0]
        net.params[i] = old
        assert analytic[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-7)
    # each member's rows read its own scales: member 1's scales do not move member 0's outputs
    before = net.forward(x)[:, :6].copy()
    layer.params["scale"][20:] *= 3
    np.testing.assert_array_equal(net.forward(x)[:, :6], before)


def test_block_diagonal_is_one_dense_block_per_member():
    mask, rows, cols = block_diagonal([(1, 4), (2, 3)])
    assert mask.toarray().tolist() == [[1, 1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1]]
    assert rows.tolist() == [0, 1, 3] and cols.tolist() == [0, 4, 7]


def test_members_of_a_stack_end_where_each_alone_ends():
    """Differently wired members fitted together give each member's parameters and losses of fitting it
    alone (the same code path with one member), and stop on their own."""
    m, x, y = problem()
    wirings = [m, permuted(m, 1), permuted(m, 2), m]
    alone = []
    for k, w in enumerate(wirings):
        e, c = encoder(w, 10 + k)
        [(losses, reason)] = finetune_stack([e], [c], x, y, SETTINGS, False)
        alone.append((e.params.copy(), losses, reason))
    together = [encoder(w, 10 + k) for k, w in enumerate(wirings)]
    results = finetune_stack([e for e, _ in together], [c for _, c in together], x, y, SETTINGS, False)
    steps = {len(r[0]) for r in results}
    assert len(steps) > 1  # the members stopped at different steps
    for (e, _), (losses, reason), (params, losses_alone, reason_alone) in zip(together, results, alone, strict=True):
        assert reason == reason_alone == "tolerance" and len(losses) == len(losses_alone)
        np.testing.assert_allclose(losses, losses_alone, rtol=1e-6)
        np.testing.assert_allclose(e.params, params, rtol=1e-5, atol=1e-7)


def as_float64(encoder):
    """The encoder with float64 parameters: the same network, computed in float64 (a reference)."""
    for layer in encoder.layers:
        layer.set_dtype(np.float64)
    encoder._flatten()
    return encoder


def test_the_stack_matches_its_float64_reference():
    """The stacked float32 fine-tuner against the same loop run in float64 on the one network (a stack of one
    trained in place): the same losses, step by step, and the same predictions, to float32 round-off."""
    m, x, y = problem(seed=4)
    a, cols = encoder(m, 3)
    b, _ = encoder(m, 3)
    reference = as_float64(a)
    assert reference.params.dtype == np.float64
    settings = FinetuneSettings(lr=0.01, max_steps=300, tol=0.0, loss="squared", l2=0.03)
    losses_ref, _ = finetune(reference, x.astype(np.float64), y, cols, settings, False)
    [(losses_b, _)] = finetune_stack([b], [cols], x, y, settings, False)
    np.testing.assert_allclose(losses_b, losses_ref, rtol=2e-3)
    np.testing.assert_allclose(
        predict(b, x, cols), predict(reference, x.astype(np.float64), cols), rtol=2e-3, atol=1e-4
    )
    assert np.abs(losses_ref - losses_b).max() > 0  # two arithmetics compared, not one run twice


def test_each_member_trains_on_its_own_samples_with_its_own_penalty():
    """Inner folds and penalty-path points as members: member k sees only its samples (moving the others'
    targets changes nothing) and its penalty."""
    m, x, y = problem(seed=5)
    train = np.ones((3, len(x)), dtype=bool)
    train[1, :20] = False
    train[2, 20:40] = False
    l2 = np.array([0.03, 0.3, 0.003])

    def fit(yy):
        members = [encoder(m, 20 + k) for k in range(3)]
        finetune_stack([e for e, _ in members], [c for _, c in members], x, yy, SETTINGS, False, train=train, l2=l2)
        return [e.params.copy() for e, _ in members]

    base = fit(y)
    y2 = y.copy()
    y2[:20] *= 1.5  # member 1 does not train on these
    moved = fit(y2)
    np.testing.assert_array_equal(moved[1], base[1])
    assert not np.allclose(moved[0], base[0]) and not np.allclose(moved[2], base[2])
    # alone with the same samples and penalty: the same parameters
    e, c = encoder(m, 21)
    finetune_stack([e], [c], x[train[1]], y[train[1]], FinetuneSettings(**{**SETTINGS.__dict__, "l2": 0.3}), False)
    np.testing.assert_allclose(e.params, base[1], rtol=1e-4, atol=1e-6)


def test_a_stack_takes_the_node_head_and_frozen_scales():
    m, x, y = problem(seed=6)
    node = Architecture("linear", "node")
    members = [encoder(m, 30 + k, node, targets=(0,)) for k in range(2)]
    for e, _ in members:
        e.layers[0].params["bias"][...] = 0.5
    before = [e.layers[0].params["scale"].copy() for e, _ in members]
    out = finetune_stack([e for e, _ in members], [c for _, c in members], x, y, SETTINGS, pretrained=True)
    assert all(np.isfinite(losses).all() for losses, _ in out)
    for (e, _), b in zip(members, before, strict=True):
        np.testing.assert_array_equal(e.layers[0].params["scale"], b)  # kept: pre-trained gene -> protein
        assert e.layers[0].frozen == set()


def test_stack_rejects_what_it_cannot_stack():
    m = core_masks()
    net = build_autoencoder(m, "A", 0, "cpu", ARCH)
    enc, cols = build_encoder(net, ARCH, [0], 0)
    with pytest.raises(ValueError, match="masked first layer with an input scale"):
        EncoderStack([enc], [cols])


def test_denormals_are_flushed_inside_the_kernels_only():
    inside, after = cpu_kernels.mxcsr_while_flushing()
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("MXCSR is x86-64's")
    assert inside & 0x8040 == 0x8040  # flush-to-zero and denormals-are-zero while a work item runs
    assert after & 0x8040 == 0  # and the caller's floating-point state is left as it was
    tiny = np.float32(1e-39)  # a denormal: NumPy outside the kernels keeps it
    assert tiny * np.float32(2) > 0


def penalised_objective(encoder, cols, x, y, l2):
    """The fine-tuning objective per observation: data loss + l2 |p|^2 / 2 over the tuned parameters."""
    from sparsenet.training.stacked_finetune import StackObjective

    stack = EncoderStack([encoder], [cols])
    objective = StackObjective(stack, x, y, "squared", None, l2)
    data = float(objective.data_gradient()[0])
    p = stack.net.params.astype(np.float64)
    return (data + 0.5 * float((objective.penalty.astype(np.float64) * p * p).sum())) / objective.n[0]


def test_lbfgs_reaches_the_long_run_adam_objective():
    """The fine-tuner made for small full-batch problems: L-BFGS gets to (or below) where Adam gets after
    20,000 steps, within 1e-4 relative, in a fraction of the steps."""
    from dataclasses import replace

    m, x, y = problem(seed=8)
    long_adam = FinetuneSettings(lr=0.01, max_steps=20000, tol=0.0, loss="squared", l2=0.03)
    a, cols = encoder(m, 41)
    finetune_stack([a], [cols], x, y, long_adam, False)
    b, _ = encoder(m, 41)
    [(losses, reason)] = finetune_stack(
        [b], [cols], x, y, replace(long_adam, optimizer="lbfgs", lbfgs_tol=1e-7, max_steps=3000), False
    )
    adam, lbfgs = penalised_objective(a, cols, x, y, 0.03), penalised_objective(b, cols, x, y, 0.03)
    assert lbfgs <= adam * (1 + 1e-4), (lbfgs, adam)
    assert len(losses) < 3000 and reason in ("tolerance", "line search")


def test_readout_only_tuning_keeps_the_pretrained_nodes():
    m, x, y = problem(seed=9)
    e, cols = encoder(m, 51)
    before = [layer.params[name].copy() for layer in e.layers[:1] for name in layer.params]
    head = e.layers[1].params["weight"].copy()
    from dataclasses import replace

    finetune_stack([e], [cols], x, y, replace(SETTINGS, tune="readout", max_steps=200), pretrained=True)
    for b, (layer, name) in zip(before, [(e.layers[0], n) for n in e.layers[0].params], strict=True):
        np.testing.assert_array_equal(layer.params[name], b)  # the phenotype layer, scale included: as it was
    assert not np.allclose(e.layers[1].params["weight"], head)  # the read-out learned
    assert all(layer.trainable for layer in e.layers) and not e.layers[0].frozen  # released afterwards


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_penalty_anchored_at_the_pretrained_weights_keeps_them(optimizer):
    """A strong penalty toward the pre-trained weights holds the phenotype layer near them (toward zero it
    would shrink them), while the read-out is still pulled toward zero."""
    from dataclasses import replace

    m, x, y = problem(seed=10)
    strong = replace(SETTINGS, l2=50.0, max_steps=300, optimizer=optimizer)
    anchored, cols = encoder(m, 61)
    start = anchored.layers[0].params["weight"].copy()
    free, _ = encoder(m, 61)
    finetune_stack([anchored], [cols], x, y, replace(strong, anchor="pretrained"), pretrained=True)
    finetune_stack([free], [cols], x, y, strong, pretrained=True)
    near = np.abs(anchored.layers[0].params["weight"] - start).max()
    assert near < 0.1 * np.abs(start).max()
    assert np.abs(free.layers[0].params["weight"]).max() < 0.5 * np.abs(start).max()


def test_denoising_pretraining_corrupts_the_input_not_the_target():
    from sparsenet.training.pretrain import PretrainSettings, corrupted, pretrain, reconstruction_step
    from sparsenet.masks.store import linked_genes
    from sparsenet.data.standardise import ArraySource

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 30)).astype(np.float32)
    out = corrupted(x, 0.25, np.random.default_rng(1), np)
    dropped = out == 0
    assert 0.15 < dropped.mean() < 0.35 and np.array_equal(out[~dropped], x[~dropped])
    m = core_masks()
    data = rng.normal(size=(200, len(m.gene_ids))).astype(np.float32)
    nets = []
    for noise in (0.0, 0.3, 0.3):
        net = build_autoencoder(m, "C", 3, "cpu", Architecture("linear", "readout"))
        pretrain(
            net,
            ArraySource(data),
            np.arange(200),
            PretrainSettings(samples=2000, batch=100, lr=0.01, noise=noise),
            linked_genes(m),
            seed=4,
        )
        nets.append(net.params.copy())
    assert not np.allclose(nets[0], nets[1]) and np.array_equal(nets[1], nets[2])  # denoising differs; seeded
    # the loss is against the clean target: a target equal to the input gives the plain step's loss
    net = build_autoencoder(m, "C", 3, "cpu", Architecture("linear", "readout"))
    from sparsenet.engine.layer import cpu_feature_major

    xb = cpu_feature_major(data[:50])
    assert reconstruction_step(net, xb) == pytest.approx(reconstruction_step(net, xb, target=xb))
