"""The GPU path of whole training steps against the CPU path in float64: the loss value and
every gradient (not only parameters after Adam, whose update hides a gradient's scale).

Runs on the CUDA emulator every CI run and on a real GPU when one is present (``cp`` fixture).
The networks are the ones training uses (``build_autoencoder``/``build_encoder``), so every
GPU branch is exercised: the fused decoder + softplus + one-to-one + loss step, the folded
input scale, the unfused losses, the fine-tuning losses, frozen and untrainable layers
(``want_params=False``) and the first layer's skipped input gradient (``want_dx=False``).
The mutation tests at the end show that doubling a gradient or a loss in any GPU-only branch,
or an Adam kernel that ignores its moments, makes these checks fail.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet import backend
from sparsenet.engine import OneToOne, MaskedLinear
from sparsenet.masks.store import Masks
from sparsenet.training.finetune import FinetuneSettings
from sparsenet.training.stacked_finetune import finetune
from sparsenet.training.network import Architecture, build_autoencoder, build_encoder, linked_genes
from sparsenet.training.pretrain import reconstruction_step
from synthetic import core_masks

CUDA_DIR = Path(__file__).resolve().parents[1] / "sparsenet" / "engine" / "cuda"


def as_float64(net):
    """The same CPU network with float64 parameters, in place: the reference."""
    for layer in net.layers:
        layer.set_dtype(np.float64)
    net._flatten()
    return net


def masks_with_gene_protein_rules(rng):
    """Core masks with a many-to-many gene -> protein layer (the unfolded four-layer network)."""
    m = core_masks()
    n = len(m.gene_ids)
    gp = sp.csr_matrix(((rng.random((n, n)) < 0.02) | np.eye(n, dtype=bool)).astype(float))
    return Masks(m.gene_ids, m.protein_ids, m.phenotype_ids, m.phenotype_names, gp, m.protein_phenotype)


@pytest.fixture(autouse=True)
def small_tiles(request, monkeypatch):
    """Batch tiles of 16 samples on the GPU path, so the 50-sample batches here span four tiles
    (the last one partial) and every per-tile partial and its reduction is exercised."""
    if "cp" in request.fixturenames:
        request.getfixturevalue("cp")
        from sparsenet.engine.cuda import launch

        monkeypatch.setattr(launch, "TILE", 16)


def data(rng, n_genes, n=50):
    return (rng.normal(size=(n, n_genes)) / 3).astype(np.float32)


NETWORKS = {  # name -> (masks, strategy, architecture)
    "softplus decoder (fused GPU loss)": ("core", "B", Architecture("softplus", "node")),
    "linear decoder": ("core", "C", Architecture("linear", "readout")),
    "gene-protein rules (unfused)": ("rules", "B", Architecture("softplus", "node")),
    "dense A": ("core", "A", Architecture("softplus", "node")),
}


def network(name, device, seed=3):
    masks_kind, strategy, arch = NETWORKS[name]
    rng = np.random.default_rng(7)
    masks = core_masks() if masks_kind == "core" else masks_with_gene_protein_rules(rng)
    net = build_autoencoder(masks, strategy, seed=seed, device="cpu", architecture=arch)
    for layer in net.layers:  # non-zero biases, so their gradients are not trivially alike
        if "bias" in layer.params:
            layer.params["bias"][...] = rng.normal(size=layer.params["bias"].shape) * 0.3
    net.to(device)
    return net, masks, arch


def check_reconstruction_step(name):
    """One pre-training step (the function training runs), GPU against float64 CPU."""
    net_gpu, masks, _ = network(name, "gpu")
    net_ref = as_float64(network(name, "cpu")[0])
    rng = np.random.default_rng(11)
    x = data(rng, len(masks.gene_ids))
    weight = linked_genes(masks).astype(np.float32)
    xp = backend.xp_for("gpu")
    v_gpu = float(reconstruction_step(net_gpu, xp.asarray(x), xp.asarray(weight)))  # a device scalar
    v_ref = reconstruction_step(net_ref, x.astype(np.float64), weight.astype(np.float64))
    np.testing.assert_allclose(v_gpu, v_ref, rtol=1e-5, err_msg=f"{name}: loss value")
    g_gpu, g_ref = backend.to_numpy(net_gpu.grads), net_ref.grads
    for key, sl in net_ref.slices.items():
        np.testing.assert_allclose(
            g_gpu[sl], g_ref[sl], rtol=2e-4, atol=2e-4 * np.abs(g_ref).max(), err_msg=f"{name}: gradient of {key}"
        )


def check_finetune_step(name, loss, pretrained, l2=0.0):
    """One fine-tuning step through ``finetune`` itself: its loss value and the encoder's gradients (with
    ``l2``, the penalty's gradient included)."""
    net_gpu, masks, arch = network(name, "gpu")
    net_ref = network(name, "cpu")[0]
    rng = np.random.default_rng(13)
    x = data(rng, len(masks.gene_ids))
    targets = [0, 3]
    y = rng.uniform(0.2, 1.5, size=(len(x), 2)).astype(np.float32)
    y[5, 1] = np.nan  # a phenotype not measured
    settings = FinetuneSettings(lr=1e-2, max_steps=1, loss=loss, tune="auto", l2=l2)
    out = {}
    for label, net in (("gpu", net_gpu), ("ref", net_ref)):
        encoder, columns = build_encoder(net, arch, targets, seed=5)
        if label == "ref":
            as_float64(encoder)
        losses, _ = finetune(encoder, x, y, columns, settings, pretrained=pretrained)
        out[label] = losses[0], backend.to_numpy(encoder.grads).astype(np.float64)
    np.testing.assert_allclose(out["gpu"][0], out["ref"][0], rtol=1e-5, err_msg=f"{name}: {loss} loss value")
    scale = np.abs(out["ref"][1]).max()
    np.testing.assert_allclose(
        out["gpu"][1], out["ref"][1], rtol=2e-4, atol=2e-4 * scale, err_msg=f"{name}: {loss} loss gradients"
    )


def check_engine_network():
    """A network of the engine's layers outside training's shapes: a one-to-one layer with a bias in
    front and behind, a standalone Softplus, the unfused SSE, and the gradient of the input."""
    from sparsenet.engine import Sequential, Softplus, sum_squared_error
    from conftest import random_mask

    rng = np.random.default_rng(19)
    enc = random_mask(rng, 30, 200, 0.1)

    def net(device):
        layers = [
            OneToOne(200, bias=True),
            MaskedLinear(enc, activation="softplus", seed=1),
            MaskedLinear(enc.T, seed=2),
            Softplus(),
            OneToOne(200, bias=True, init=0.7),
        ]
        biases = np.random.default_rng(23)  # the same network on both devices
        for layer in (layers[0], layers[-1]):
            layer.params["bias"][...] = biases.normal(size=200) * 0.2
        return Sequential(layers).to(device)

    x = (rng.normal(size=(60, 200)) / 3).astype(np.float32)
    gpu, ref = net("gpu"), as_float64(net("cpu"))
    xp = backend.xp_for("gpu")
    results = {}
    for label, model, xx in (("gpu", gpu, xp.asarray(x)), ("ref", ref, x.astype(np.float64))):
        value, g = sum_squared_error(model.forward(xx), xx)
        dx = model.backward(g, want_input_grad=True)
        results[label] = (
            float(value),
            backend.to_numpy(model.grads).astype(np.float64),
            backend.to_numpy(dx).astype(np.float64),
        )
    np.testing.assert_allclose(results["gpu"][0], results["ref"][0], rtol=1e-5, err_msg="engine network: loss")
    for i, what in ((1, "parameter gradients"), (2, "input gradient")):
        a, b = results["gpu"][i], results["ref"][i]
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * np.abs(b).max(), err_msg=f"engine network: {what}")


def check_pathway_network():
    """The classifier's network (training.pathway_network): tanh levels with dropout between them and a dense
    read-out through the binary cross-entropy. The dropout kernel draws the same mask on both devices, so
    the step's loss and every gradient match the float64 CPU step."""
    from conftest import random_mask
    from sparsenet.engine import binary_cross_entropy_with_logits
    from sparsenet.training.pathway_network import PathwayTraining, build_network

    rng = np.random.default_rng(31)
    levels = [random_mask(rng, 40, 120, 0.1), random_mask(rng, 9, 40, 0.3)]
    x = rng.normal(size=(50, 120)).astype(np.float32)
    y = (rng.random((50, 1)) < 0.5).astype(np.float32)
    gpu = build_network(levels, 2, PathwayTraining(dropout=0.3, device="gpu"), seed=4)
    ref = build_network(levels, 2, PathwayTraining(dropout=0.3, dtype="float64"), seed=4)
    xp = backend.xp_for("gpu")
    results = {}
    for label, model, xx, yy in (("gpu", gpu, xp.asarray(x), xp.asarray(y)), ("ref", ref, x.astype(np.float64), y)):
        value, g = binary_cross_entropy_with_logits(model.forward(xx), yy)
        model.backward(g)
        results[label] = float(value), backend.to_numpy(model.grads).astype(np.float64)
    np.testing.assert_allclose(results["gpu"][0], results["ref"][0], rtol=1e-5, err_msg="pathway network: loss")
    np.testing.assert_allclose(
        results["gpu"][1], results["ref"][1], rtol=1e-4, atol=1e-6, err_msg="pathway network: gradients"
    )


def check_adam_steps():
    """A few Adam steps on a real network's flat buffer with a new gradient each step."""
    from sparsenet.engine import Adam

    net_gpu, _, _ = network("linear decoder", "gpu")
    net_ref = as_float64(network("linear decoder", "cpu")[0])
    xp = backend.xp_for("gpu")
    rng = np.random.default_rng(17)
    opt_gpu = Adam(net_gpu.params, net_gpu.grads, lr=1e-2, weight_decay=0.3)
    opt_ref = Adam(net_ref.params, net_ref.grads, lr=1e-2, weight_decay=0.3)
    for _ in range(4):
        g = rng.normal(size=net_ref.grads.size) * rng.uniform(0.1, 10, size=net_ref.grads.size)
        net_ref.grads[...] = g
        net_gpu.grads[...] = xp.asarray(g, dtype=np.float32)
        opt_gpu.step()
        opt_ref.step()
    for a, b, what in ((opt_gpu.m, opt_ref.m, "m"), (opt_gpu.v, opt_ref.v, "v"), (net_gpu.params, net_ref.params, "p")):
        np.testing.assert_allclose(backend.to_numpy(a), b, rtol=1e-4, atol=1e-6, err_msg=f"Adam {what}")


def stack_members(device, dtype=np.float32, k=3):
    """K encoders of the default kind (folded input scale, read-out) on differently wired masks: the core
    masks and copies with the genes permuted (a null draw's shape), each from its own seed."""
    from sparsenet.training.stacked_finetune import EncoderStack

    m = core_masks()
    rng = np.random.default_rng(29)
    encoders, columns = [], []
    for j in range(k):
        perm = np.arange(len(m.gene_ids)) if j == 0 else rng.permutation(len(m.gene_ids))
        masks = Masks(
            m.gene_ids,
            m.protein_ids,
            m.phenotype_ids,
            m.phenotype_names,
            m.gene_protein,
            sp.csr_matrix(m.protein_phenotype)[:, perm],
        )
        net = build_autoencoder(masks, "B", seed=3 + j, device="cpu", architecture=Architecture("linear", "readout"))
        enc, cols = build_encoder(net, Architecture("linear", "readout"), [0, 3], seed=5 + j)
        enc.layers[0].params["bias"][...] = rng.normal(size=enc.layers[0].params["bias"].shape) * 0.3
        encoders.append(enc)
        columns.append(cols)
    stack = EncoderStack(encoders, columns, "cpu")
    if dtype == np.float64:
        as_float64(stack.net)
    stack.net.to(device)
    return stack


def check_stacked_step(loss):
    """One step of a stack of differently wired networks (per-member scales through ``scale_index``, the
    block-diagonal read-out, each member's own training samples): every member's loss and every
    gradient, GPU against float64 CPU."""
    from sparsenet.engine import kernels

    rng = np.random.default_rng(31)
    x = data(rng, len(core_masks().gene_ids))
    y = rng.uniform(0.2, 1.5, size=(len(x), 2)).astype(np.float32)
    known = np.ones((3, 2, len(x)), dtype=np.float32)
    known[1, :, :10] = 0  # member 1 leaves out ten samples (an inner fold)
    known[2, 1, 5] = 0  # a phenotype not measured
    known[0, :, 20:25] = 2.5  # member 0 weighs five samples more
    out = {}
    for label, device, dtype in (("gpu", "gpu", np.float32), ("ref", "cpu", np.float64)):
        stack = stack_members(device, dtype)
        xp = backend.xp_for(device)
        net = stack.net
        o = net.forward(xp.asarray(x, dtype=dtype))
        cols = xp.asarray(np.stack([mm.columns for mm in stack.members]))
        gradT = xp.zeros((net.out_features, len(x)), dtype=dtype)
        values = xp.zeros(3, dtype=np.float64)
        kernels.for_module(xp).member_losses(
            0 if loss == "squared" else 1,
            backend.feature_major(o).T,
            cols,
            xp.asarray(y.T, dtype=dtype),
            xp.asarray(known, dtype=dtype),
            xp.asarray(np.full((3, 2), 0.8), dtype=dtype),
            gradT,
            values,
        )
        net.backward(gradT.T)
        out[label] = backend.to_numpy(values), backend.to_numpy(net.grads).astype(np.float64), net.slices
    np.testing.assert_allclose(out["gpu"][0], out["ref"][0], rtol=1e-5, err_msg=f"stack: {loss} loss per member")
    g, ref = out["gpu"][1], out["ref"][1]
    for key, sl in out["ref"][2].items():
        np.testing.assert_allclose(
            g[sl], ref[sl], rtol=2e-4, atol=2e-4 * np.abs(ref).max(), err_msg=f"stack: {loss} gradient of {key}"
        )


def check_adam_members():
    """Adam for a stack: a per-parameter penalty inside the update, and stopped members held still."""
    from sparsenet.engine import Adam

    rng = np.random.default_rng(37)
    n = 3000
    xp = backend.xp_for("gpu")
    p0 = rng.normal(size=n)
    penalty = rng.uniform(0, 5, size=n)
    anchor = np.where(np.arange(n) % 2 == 0, p0 + rng.normal(size=n), 0.0)  # half pulled toward other values
    ref = [p0.copy(), np.zeros(n), np.zeros(n)]
    gpu = xp.asarray(p0, dtype=np.float32)
    opt = Adam(
        gpu,
        xp.zeros(n, dtype=np.float32),
        lr=1e-2,
        penalty=xp.asarray(penalty, dtype=np.float32),
        anchor=xp.asarray(anchor, dtype=np.float32),
    )
    opt_ref = Adam(ref[0], ref[1], lr=1e-2, penalty=penalty, anchor=anchor)
    held = np.arange(n) % 3 == 0  # a third of the parameters stop after two steps
    for step in range(5):
        g = rng.normal(size=n) * rng.uniform(0.1, 10, size=n)
        active = ~held if step >= 2 else None
        ref[1][...] = g
        opt.grads[...] = xp.asarray(g, dtype=np.float32)
        opt.step(active=None if active is None else xp.asarray(active))
        opt_ref.step(active=active)
        if step == 1:
            after_two = backend.to_numpy(gpu).copy()
    for a, b, what in ((opt.m, opt_ref.m, "m"), (opt.v, opt_ref.v, "v"), (gpu, ref[0], "p")):
        np.testing.assert_allclose(backend.to_numpy(a), b, rtol=1e-4, atol=1e-6, err_msg=f"Adam members {what}")
    assert np.array_equal(backend.to_numpy(gpu)[held], after_two[held])  # stopped: held exactly
    assert not np.allclose(backend.to_numpy(gpu)[~held], after_two[~held])


def all_checks():
    for name in NETWORKS:
        check_reconstruction_step(name)
    check_stacked_step("squared")
    check_stacked_step("relative")
    check_adam_members()
    check_finetune_step("softplus decoder (fused GPU loss)", "relative", pretrained=True)
    check_finetune_step("linear decoder", "squared", pretrained=False)
    check_finetune_step("gene-protein rules (unfused)", "relative", pretrained=True)
    check_engine_network()
    check_pathway_network()
    check_adam_steps()


def test_engine_network_matches_float64_cpu(cp):
    check_engine_network()


def test_pathway_network_with_dropout_matches_float64_cpu(cp):
    check_pathway_network()


@pytest.mark.parametrize("name", list(NETWORKS))
def test_reconstruction_step_matches_float64_cpu(cp, name):
    check_reconstruction_step(name)


@pytest.mark.parametrize(
    "name,loss,pretrained,l2",
    [
        ("softplus decoder (fused GPU loss)", "relative", True, 0.0),  # frozen input scale (want_params=False branch)
        ("softplus decoder (fused GPU loss)", "squared", False, 0.0),
        ("linear decoder", "squared", False, 0.0),  # read-out head
        ("linear decoder", "squared", False, 0.5),  # the default preset's L2 penalty
        ("softplus decoder (fused GPU loss)", "relative", True, 0.5),  # penalty, frozen scale left out
        ("gene-protein rules (unfused)", "relative", True, 0.0),  # untrainable first layer
        ("dense A", "relative", False, 0.0),
    ],
)
def test_finetune_step_matches_float64_cpu(cp, name, loss, pretrained, l2):
    check_finetune_step(name, loss, pretrained, l2)


def test_adam_on_a_network_matches_float64_cpu(cp):
    check_adam_steps()


@pytest.mark.parametrize("loss", ["squared", "relative"])
def test_a_stack_of_networks_matches_float64_cpu(cp, loss):
    check_stacked_step(loss)


def test_adam_for_a_stack_matches_float64_cpu(cp):
    check_adam_members()


def test_the_emulator_ran_every_kernel(cp):
    if not getattr(cp, "is_emulator", False):
        pytest.skip("counts launches on the emulator")
    all_checks()
    from sparsenet.engine.cuda import launch
    from cuda_emulator.emulator import parse_kernels

    ran, every = set(), set()
    for source in CUDA_DIR.glob("*.cu"):
        every |= set(parse_kernels(source.read_text()))
        ran |= {name for name, _, _ in launch._module(source.name).module.launches}
    assert ran == every, f"kernels no check runs: {sorted(every - ran)}"


# ---------------------------------------------------------------- mutation checks
def _on_device(a):
    return backend.get_array_module(a) is not np


def _patch_everywhere(monkeypatch, original, replacement):
    """Replace ``original`` in every sparsenet module that holds a reference to it."""
    for modname, mod in list(sys.modules.items()):
        if modname.startswith("sparsenet") and mod is not None:
            for attr, value in list(vars(mod).items()):
                if value is original:
                    monkeypatch.setattr(mod, attr, replacement)


def _double_loss_output(monkeypatch, which):
    from sparsenet.engine import losses

    for fname in (
        "sum_squared_error",
        "sum_abs_relative_error",
        "scaled_squared_error",
        "softplus_scaled_squared_error",
    ):
        original = getattr(losses, fname)

        def mutated(*args, _original=original, **kwargs):
            result = _original(*args, **kwargs)
            if not _on_device(result[1]):
                return result
            value, grad, *rest = result
            return (value * 2, grad, *rest) if which == "value" else (value, grad * 2, *rest)

        _patch_everywhere(monkeypatch, original, mutated)


def _double_one_to_one_weight_gradient(monkeypatch):
    original = OneToOne.backward

    def mutated(self, grad_out, want_input_grad=True):
        out = original(self, grad_out, want_input_grad)
        if _on_device(grad_out):
            self.grads["weight"][...] *= 2
        return out

    monkeypatch.setattr(OneToOne, "backward", mutated)


def _double_input_scale_gradient(monkeypatch):
    original = MaskedLinear._param_grads_from_tiles

    def mutated(self, xp, dw_tiles, db_tiles):
        original(self, xp, dw_tiles, db_tiles)
        if xp is not np and "scale" in self.grads:
            self.grads["scale"][...] *= 2

    monkeypatch.setattr(MaskedLinear, "_param_grads_from_tiles", mutated)


SOURCE_MUTATIONS = {  # name -> (file, original text, mutated text)
    "sddmm doubles dW": (
        "masked_linear.cu",
        "if (lane == 0) dw_tiles[(size_t)blockIdx.y * nnz + k] = acc;",
        "if (lane == 0) dw_tiles[(size_t)blockIdx.y * nnz + k] = 2.0f * acc;",
    ),
    "sddmm drops the last sample of a tile": (
        "masked_linear.cu",
        "b1 = min(batch, b0 + tile);\n    const float* dz",
        "b1 = min(batch, b0 + tile) - 1;\n    const float* dz",
    ),
    "slope_rowsum doubles db": (
        "masked_linear.cu",
        "db_tiles[(size_t)blockIdx.x * n_out + j] = acc;",
        "db_tiles[(size_t)blockIdx.x * n_out + j] = 2.0f * acc;",
    ),
    "fused loss doubles grad_z": ("masked_linear.cu", "grad_zT[row + b] = gz;", "grad_zT[row + b] = 2.0f * gz;"),
    "fused loss doubles the loss": (
        "masked_linear.cu",
        "loss += (double)(wj * diff * diff);",
        "loss += (double)(2.0f * wj * diff * diff);",
    ),
    "fused loss doubles grad_d": (
        "masked_linear.cu",
        "grad_d_tiles[out] = acc_d;",
        "grad_d_tiles[out] = 2.0f * acc_d;",
    ),
    "fused loss doubles db": ("masked_linear.cu", "db_tiles[out] = acc_b;", "db_tiles[out] = 2.0f * acc_b;"),
    "fused loss, linear decoder: wrong output": (
        "activation.cuh",
        "*slope = 1.0f;\n            return z;",
        "*slope = 1.0f;\n            return 2.0f * z;",
    ),
    "scale_gradient doubles ds": ("masked_linear.cu", "ds[j] = (float)acc;", "ds[j] = (float)(2.0 * acc);"),
    "slope_rowsum drops the slope": ("masked_linear.cu", "g *= slopeT[row + b];", "g *= 1.0f;"),
    "masked_forward doubles its output": ("masked_linear.cu", "outT[o] = acc;", "outT[o] = 2.0f * acc;"),
    "adam ignores m": ("adam.cu", "- lr * (mi / bias1)", "- lr * (gi / bias1)"),
    "adam ignores weight decay": ("adam.cu", "p[i] = decay * p[i]", "p[i] = p[i]"),
    "adam ignores v": ("adam.cu", "(sqrtf(vi / bias2) + eps)", "(fabsf(gi) / sqrtf(bias2) + eps)"),
    "stacked adam ignores the penalty": ("adam.cu", "g[i] + penalty[i] * (has_anchor ? pk - anchor[i] : pk)", "g[i]"),
    "stacked adam ignores the anchor": ("adam.cu", "has_anchor ? pk - anchor[i] : pk", "pk"),
    "stacked adam moves stopped members": ("adam.cu", "if (has_active && !active[i]) continue;", ""),
    "stacked adam ignores v": ("adam.cu", "(sqrtf(vk / bias2) + eps)", "(fabsf(gk) / sqrtf(bias2) + eps)"),
    "softplus slope wrong": (
        "activation.cuh",
        "*slope = logistic(z, &e);",
        "logistic(z, &e);\n            *slope = 1.0f / (1.0f + e);",
    ),
}


def _double_member_loss_gradient(monkeypatch):
    from sparsenet.engine.cuda import launch

    original = launch.member_losses

    def doubled(kind, outT, columns, yT, known, scale, gradT, values):
        original(kind, outT, columns, yT, known, scale, gradT, values)
        gradT *= 2

    monkeypatch.setattr(launch, "member_losses", doubled)


PYTHON_MUTATIONS = {
    "GPU stacked loss gradient doubled": _double_member_loss_gradient,
    "GPU loss gradient doubled": lambda mp: _double_loss_output(mp, "grad"),
    "GPU loss value doubled": lambda mp: _double_loss_output(mp, "value"),
    "GPU OneToOne weight gradient doubled": _double_one_to_one_weight_gradient,
    "GPU input-scale gradient doubled": _double_input_scale_gradient,
}


@pytest.fixture
def mutated_sources(cp, monkeypatch, tmp_path):
    from sparsenet.engine.cuda import launch

    def apply(filename, old, new):
        for src in list(CUDA_DIR.glob("*.cu")) + list(CUDA_DIR.glob("*.cuh")):
            (tmp_path / src.name).write_text(src.read_text())
        text = (tmp_path / filename).read_text()
        assert text.count(old) == 1, f"mutation target not found once in {filename}: {old}"
        (tmp_path / filename).write_text(text.replace(old, new))
        monkeypatch.setattr(launch, "SOURCES", tmp_path)
        launch._module.cache_clear()

    yield apply
    launch._module.cache_clear()


@pytest.mark.slow  # every check re-run per mutation
@pytest.mark.parametrize("mutation", list(SOURCE_MUTATIONS))
def test_a_broken_kernel_fails_the_checks(mutated_sources, mutation):
    mutated_sources(*SOURCE_MUTATIONS[mutation])
    with pytest.raises(AssertionError):
        all_checks()


@pytest.mark.slow  # every check re-run per mutation
@pytest.mark.parametrize("mutation", list(PYTHON_MUTATIONS))
def test_a_broken_gpu_branch_fails_the_checks(cp, monkeypatch, mutation):
    PYTHON_MUTATIONS[mutation](monkeypatch)
    with pytest.raises(AssertionError):
        all_checks()


@pytest.mark.slow  # a whole pre-training on the emulated device
def test_pretraining_on_the_device_sees_the_cpu_batches(cp):
    """Pre-training with the rows buffered on the device (batches gathered there) follows the CPU
    run step by step: same batches, same losses."""
    from sparsenet.training.pretrain import PretrainSettings, pretrain

    masks = core_masks()
    rng = np.random.default_rng(29)
    pool = data(rng, len(masks.gene_ids), n=90)

    class Pool:
        def take(self, idx):
            return pool[np.asarray(idx)]

    settings = PretrainSettings(samples=700, batch=64, lr=1e-2, checkpoint_every=50)
    rows = np.arange(5, 90)
    linked = linked_genes(masks)
    runs = {}
    for device in ("cpu", "gpu"):
        net = build_autoencoder(masks, "C", seed=2, device=device, architecture=Architecture("linear", "readout"))
        runs[device] = pretrain(net, Pool(), rows, settings, linked, seed=4), backend.to_numpy(net.params)
    assert runs["gpu"][0].shape == (11,)
    np.testing.assert_allclose(runs["gpu"][0], runs["cpu"][0], rtol=1e-4)
    np.testing.assert_allclose(runs["gpu"][1], runs["cpu"][1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("act", ["softplus", "relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_every_activation_and_loss_matches_float64_cpu(cp, act, loss):
    """Each activation fused in MaskedLinear and as a layer, each new loss with per-sample and
    per-feature weights: GPU value and gradients (parameters and input) against float64 CPU."""
    from sparsenet import (
        MaskedLinear,
        ReLU,
        Sequential,
        Sigmoid,
        Softplus,
        Tanh,
        binary_cross_entropy_with_logits,
        mean_squared_error,
    )
    from conftest import random_mask

    layers = {"softplus": Softplus, "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
    rng = np.random.default_rng(31)
    enc, dec = random_mask(rng, 9, 40, 0.3, empty_row=1), random_mask(rng, 5, 9, 0.5)
    fn = mean_squared_error if loss == "mse" else binary_cross_entropy_with_logits
    x = rng.normal(size=(50, 40)) * 3  # large enough that relu's zeros and the saturated ends occur
    y = rng.random(size=(50, 5)) if loss == "bce" else rng.normal(size=(50, 5))
    sw, fw = rng.uniform(0.5, 2, size=50), rng.uniform(0.5, 2, size=5)
    xp = backend.xp_for("gpu")
    out = {}
    for device in ("gpu", "ref"):
        net = Sequential([MaskedLinear(enc, activation=act, seed=1), layers[act](), MaskedLinear(dec, seed=2)])
        if device == "gpu":
            net.to("gpu")
            args = [xp.asarray(a, dtype=np.float32) for a in (x, y, sw, fw)]
        else:
            net = Sequential(net.layers, dtype=np.float64)
            args = [x, y, sw, fw]
        value, g = fn(net.forward(args[0]), args[1], sample_weight=args[2], feature_weight=args[3])
        dx = net.backward(g, want_input_grad=True)
        out[device] = (
            float(value),
            backend.to_numpy(net.grads).astype(np.float64),
            backend.to_numpy(dx).astype(np.float64),
        )
    np.testing.assert_allclose(out["gpu"][0], out["ref"][0], rtol=1e-5)
    for i in (1, 2):
        b = out["ref"][i]
        np.testing.assert_allclose(out["gpu"][i], b, rtol=1e-3, atol=1e-4 * np.abs(b).max())
