"""Fine-tuning speed, every ratio measured in one run on this machine.

    python benchmarks/finetune_speed.py [--baseline-rev REV | --no-baseline] [--device cpu|gpu] [--steps 500]
                                        [--train-pairs 0] [--json FILE] [--precise DIR]

1. One fine-tuning step of the default network (iJO1366 masks, read-out head, squared loss, L2 0.03)
   at the default run's batch (a fold's ~150 training samples of PRECISE, or 160 synthetic samples
   when PRECISE is not fetched): the previous code (``--baseline-rev``, checked out in a temporary
   git worktree and run in a subprocess on the same data), the stack of one now, and PyTorch running
   the same network masked-dense (when torch is installed), alternating, medians.
   Of that step, the time inside the masked layers' sparse kernels (forward, and backward: weight
   gradient and input gradient), timed around each call in a separate fit: what is left when every
   other cost of a step (Python, the one-to-one layers, the loss, Adam) is gone, so the most any
   change that keeps these kernels could gain.
2. K = 1, 5, 50 networks stacked against K separate fits (each the stack of one), the same steps.
3. ``--train-pairs N``: the whole default ``sparsenet train`` of the previous code and of this one,
   alternating N times (paired), wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OLD_STEP = r"""
import sys, time, json, numpy as np
from sparsenet.masks.store import read_masks, shipped_mask_path
from sparsenet.training.network import build_autoencoder, build_encoder, Architecture
from sparsenet.training.finetune import finetune, FinetuneSettings, scale_fresh_weights
d = np.load(sys.argv[1]); x, y, steps = d["x"], d["y"], int(sys.argv[2])
masks = read_masks(shipped_mask_path("iJO1366"))
arch = Architecture("linear", "readout")
idx = [masks.phenotype_ids.index("BIOMASS_Ec_iJO1366_core_53p95M")]
out = []
for rep in range(int(sys.argv[3])):
    net = build_autoencoder(masks, "B", 1, "cpu", arch)
    enc, cols = build_encoder(net, arch, idx, 1)
    scale_fresh_weights(enc, 0.1, 0)
    s = FinetuneSettings(lr=0.01, max_steps=steps, tol=0.0, loss="squared", l2=0.03, init_scale=0.1)
    t = time.perf_counter()
    losses, _ = finetune(enc, x, y, cols, s, False)
    out.append((time.perf_counter() - t) / len(losses))
print(json.dumps(out[1:] if len(out) > 1 else out))
"""


def problem(folder=None):
    """A fold's standardised training inputs and growth rates from PRECISE (its cache, or ``folder``
    holding log_tpm.csv and sample_table.csv), else synthetic ones."""
    from sparsenet.data import precise

    where = Path(folder) if folder is not None else precise.cache_dir()
    if all((where / f).exists() for f in precise.DEFAULT_RUN):
        from sparsenet.data.dataset import load_dataset
        from sparsenet.data.spec import DataSpec
        from sparsenet.data.standardise import fit_input_transform
        from sparsenet.runs.folds import make_folds
        from sparsenet.masks.store import read_masks, shipped_mask_path

        files = {f: where / f for f in precise.DEFAULT_RUN}
        ds = load_dataset(
            read_masks(shipped_mask_path("iJO1366")),
            DataSpec(
                files["log_tpm.csv"],
                files["sample_table.csv"],
                precise.REFERENCE_SAMPLES,
                columns=[precise.GROWTH_COLUMN],
                group_by="project",
            ),
            read_out=True,
        )
        test = make_folds(ds, "grouped", 10, 1)[0]
        train = np.setdiff1d(np.arange(ds.labelled.size), test)
        keep = {ds.labelled_ids[i] for i in test}
        rows = np.array([i for i, s in enumerate(ds.pretrain_source.sample_ids) if s not in keep])
        tr = fit_input_transform(ds.pretrain_source, rows, "standardise")
        return tr.apply(ds.inputs.take(ds.labelled)[train]), ds.y[train], "PRECISE, grouped fold 1 of --seed 1"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 1366)).astype(np.float32)
    return x, (0.5 + 0.2 * np.tanh(x[:, :20].mean(axis=1, keepdims=True) * 3)), "synthetic, 160 samples"


def encoders(k, seed=1, device="cpu"):
    from sparsenet.masks.store import read_masks, shipped_mask_path
    from sparsenet.training.finetune import scale_fresh_weights
    from sparsenet.training.network import Architecture, build_autoencoder, build_encoder

    masks = read_masks(shipped_mask_path("iJO1366"))
    arch = Architecture("linear", "readout")
    idx = [masks.phenotype_ids.index("BIOMASS_Ec_iJO1366_core_53p95M")]
    out = []
    for j in range(k):
        net = build_autoencoder(masks, "B", seed + 1_000_003 * j, device, arch)
        enc, cols = build_encoder(net, arch, idx, seed + 1_000_003 * j)
        scale_fresh_weights(enc, 0.1, 0)
        out.append((enc, cols))
    return out


def stack_fit(x, y, k, steps, device="cpu"):
    """Seconds of one stacked fine-tuning of k networks for ``steps`` steps, building the stack included."""
    from sparsenet.training.finetune import FinetuneSettings
    from sparsenet.training.stacked_finetune import finetune_stack

    members = encoders(k, device=device)
    s = FinetuneSettings(lr=0.01, max_steps=steps, tol=0.0, loss="squared", l2=0.03, init_scale=0.1)
    t = time.perf_counter()
    finetune_stack([e for e, _ in members], [c for _, c in members], x, y, s, False)
    return time.perf_counter() - t


def stack_step(x, y, k, steps, device="cpu"):
    """Seconds of one step of a stack of k networks: the difference between fits of 2 * steps and steps
    steps, so that building the stack (the same for both) is not counted as stepping."""
    return (stack_fit(x, y, k, 2 * steps, device) - stack_fit(x, y, k, steps, device)) / steps


def kernel_step(x, y, steps):
    """(seconds a step inside the CPU masked-layer kernels, seconds a step in all) for one network, from
    a fit whose calls to those kernels are timed one by one."""
    from sparsenet.engine import cpu_kernels

    spent = [0.0]
    originals = {name: getattr(cpu_kernels, name) for name in ("masked_forward", "masked_backward")}

    def timed(kernel):
        def call(*args):
            t = time.perf_counter()
            kernel(*args)
            spent[0] += time.perf_counter() - t

        return call

    try:
        for name, kernel in originals.items():
            setattr(cpu_kernels, name, timed(kernel))
        total = stack_fit(x, y, 1, steps)  # compiled already: main's first fit
    finally:
        for name, kernel in originals.items():
            setattr(cpu_kernels, name, kernel)
    return spent[0] / steps, total / steps


def torch_step(x, y, steps, device="cpu"):
    """The same network in PyTorch, masked-dense (weights times a fixed 0/1 mask), Adam, full batch."""
    try:
        import torch
    except ImportError:
        return None
    from sparsenet.masks.store import read_masks, shipped_mask_path

    torch.set_num_threads(os.cpu_count() or 1)
    dev = torch.device("cuda" if device == "gpu" else "cpu")
    masks = read_masks(shipped_mask_path("iJO1366"))
    mask = torch.tensor(masks.protein_phenotype.toarray(), dtype=torch.float32, device=dev)
    n_genes, n_nodes = mask.shape[1], mask.shape[0]
    g = torch.Generator().manual_seed(0)
    w = (torch.rand(n_nodes, n_genes, generator=g) * 0.02 - 0.01).to(dev).mul_(mask).requires_grad_()
    b = torch.zeros(n_nodes, device=dev, requires_grad=True)
    s = torch.ones(n_genes, device=dev, requires_grad=True)
    r = (torch.rand(1, n_nodes, generator=g) * 0.02 - 0.01).to(dev).requires_grad_()
    c = torch.zeros(1, device=dev, requires_grad=True)
    xt, yt = torch.tensor(x, device=dev), torch.tensor(np.asarray(y, np.float32), device=dev)
    scale = yt.mean()
    opt = torch.optim.Adam([w, b, s, r, c], lr=0.01)
    n = yt.numel()

    def step():
        opt.zero_grad()
        h = torch.nn.functional.softplus((xt * s) @ (w * mask).t() + b)
        loss = (((h @ r.t() + c - yt) / scale) ** 2).sum()
        penalty = 0.5 * 0.03 * n * sum((p * p).sum() for p in (w, b, s, r, c))
        (loss + penalty).backward()
        opt.step()

    for _ in range(20):
        step()
    if device == "gpu":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "gpu":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def old_step(rev, x, y, steps, repeats):
    """The previous code's one-network step, in a worktree of ``rev``, on the same data."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True, capture_output=True
        )
        try:
            np.savez(Path(tmp) / "data.npz", x=x, y=y)
            env = dict(os.environ, PYTHONPATH=str(tree))
            done = subprocess.run(
                [sys.executable, "-c", OLD_STEP, str(Path(tmp) / "data.npz"), str(steps), str(repeats + 1)],
                capture_output=True,
                text=True,
                env=env,
                cwd=tree,
                check=True,
            )
            return json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


def train_pairs(rev, pairs):
    """Wall seconds of the whole default ``sparsenet train`` at ``rev`` and here, alternating."""
    times = {"previous": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True, capture_output=True
        )
        try:
            for i in range(pairs):
                for label, where in (("previous", tree), ("now", ROOT)):
                    env = dict(os.environ, PYTHONPATH=str(where))
                    t = time.perf_counter()
                    subprocess.run(
                        [sys.executable, "-m", "sparsenet.cli.main", "train", "--out", str(Path(tmp) / f"{label}{i}")],
                        cwd=where,
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                    times[label].append(time.perf_counter() - t)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-rev", default="114594b", help="the previous code (default: before the stack)")
    ap.add_argument("--no-baseline", action="store_true", help="no previous code (a machine without git history)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    ap.add_argument("--precise", type=Path, help="folder with PRECISE's log_tpm.csv and sample_table.csv")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stacks", default="1,5,50", help="stack sizes K to time against K separate fits")
    ap.add_argument("--train-pairs", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    x, y, data = problem(args.precise)
    device = args.device
    wait = os.environ.get("OMP_WAIT_POLICY")  # sparsenet sets PASSIVE unless told; every subprocess inherits it
    print(f"data: {data}; batch {len(x)}; {os.cpu_count()} cores; device {device}; OMP_WAIT_POLICY {wait}")
    stack_fit(x, y, 1, 30, device)  # compile
    old, now, torch_ = [], [], []
    for _ in range(args.repeats):  # alternating, so drift in the machine's speed hits every candidate alike
        if not args.no_baseline and device == "cpu":
            old += old_step(args.baseline_rev, x, y, args.steps, 1)
        now.append(stack_step(x, y, 1, args.steps, device))
        t = torch_step(x, y, args.steps, device)
        if t is not None:
            torch_.append(t)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python", *sys.argv]),
        "cores": os.cpu_count(),
        "data": data,
        "batch": len(x),
        "steps": args.steps,
        "device": device,
        "omp_wait_policy": wait,
        "baseline_rev": None if args.no_baseline else args.baseline_rev,
        "one_step_ms": {
            "previous": 1e3 * float(np.median(old)) if old else None,
            "now": 1e3 * float(np.median(now)),
            "pytorch_masked_dense": 1e3 * float(np.median(torch_)) if torch_ else None,
        },
    }
    one = result["one_step_ms"]
    print(f"one step of the default network, batch {len(x)}, penalty included (median of {args.repeats}):")
    if one["previous"]:
        print(
            f"  previous code {one['previous']:.3f} ms; now {one['now']:.3f} ms: "
            f"{one['previous'] / one['now']:.1f}x faster"
        )
    else:
        print(f"  now {one['now']:.3f} ms")
    if one["pytorch_masked_dense"]:
        print(
            f"  PyTorch masked-dense {one['pytorch_masked_dense']:.3f} ms: now "
            f"{one['pytorch_masked_dense'] / one['now']:.1f}x faster"
        )
    if device == "cpu":
        kernel, whole = kernel_step(x, y, args.steps)
        result["one_step_ms"]["in_masked_kernels"] = 1e3 * kernel
        result["one_step_ms"]["timed_fit_per_step"] = 1e3 * whole
        print(
            f"  of a step ({1e3 * whole:.3f} ms in a fit timing its kernels), {1e3 * kernel:.3f} ms "
            f"({100 * kernel / whole:.0f} %) is inside the masked layers' sparse kernels"
            + (
                f": a step with nothing else would be {one['previous'] / (1e3 * kernel):.1f}x "
                "faster than the previous "
                f"code's"
                if one["previous"]
                else ""
            )
        )
    stacked = {}
    sizes = [int(k) for k in args.stacks.split(",")]
    for k in sizes:
        steps = max(100, args.steps // k)
        together = stack_step(x, y, k, steps, device)
        alone = stack_step(x, y, 1, steps, device) * k
        setup = stack_fit(x, y, k, 1, device)
        stacked[k] = {
            "stacked_ms_per_step": 1e3 * together,
            "separate_ms_per_step": 1e3 * alone,
            "building_the_stack_ms": 1e3 * setup,
        }
        print(
            f"  K = {k:2d}: stacked {1e3 * together:8.3f} ms a step, K separate fits {1e3 * alone:8.3f} ms: "
            f"{alone / together:.1f}x (building the stack: {1e3 * setup:.0f} ms)"
        )
    result["stacks"] = stacked
    if 1 in stacked and sizes[-1] != 1:
        big = sizes[-1]
        result["largest_stacked_over_one"] = stacked[big]["stacked_ms_per_step"] / stacked[1]["stacked_ms_per_step"]
        print(
            f"  {big} stacked: {result['largest_stacked_over_one']:.1f}x the time of one network's step"
            + (
                f", {stacked[big]['stacked_ms_per_step'] / one['previous']:.1f}x the previous code's one"
                if one["previous"]
                else ""
            )
        )
    if args.train_pairs:
        times = train_pairs(args.baseline_rev, args.train_pairs)
        result["default_train_seconds"] = times
        ratio = np.array(times["previous"]) / np.array(times["now"])
        print(
            f"default sparsenet train: previous {np.round(times['previous'], 1)} s, now "
            f"{np.round(times['now'], 1)} s; "
            f"{ratio.mean():.2f}x faster (paired, {args.train_pairs} pairs)"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
