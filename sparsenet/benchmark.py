"""Time one DeepMetabolism autoencoder training step, sparse (strategy C's network) against
dense (strategy A: every layer fully connected), on the same device in one run."""

from __future__ import annotations

import datetime
import os
import platform
import time

import numpy as np
import scipy.sparse as sp

from . import backend
from .engine import Adam, DenseLinear, MaskedLinear, OneToOne, Sequential, Softplus
from .training.pretrain import reconstruction_step

N_GENES, N_PHENOTYPES, N_LINKS = 1366, 110, 16135  # the paper's iJO1366 network


def random_phenotype_mask(n_out=N_PHENOTYPES, n_in=N_GENES, links=N_LINKS, seed=0) -> sp.csr_matrix:
    """A random protein->phenotype mask with ``links`` links and uneven row degrees."""
    rng = np.random.default_rng(seed)
    weights = rng.gamma(0.7, size=n_out)
    degree = np.minimum(n_in, np.maximum(1, np.floor(weights / weights.sum() * links))).astype(int)
    while degree.sum() < links:  # top up to exactly ``links``
        degree[rng.choice(np.flatnonzero(degree < n_in))] += 1
    rows = np.repeat(np.arange(n_out), degree)
    cols = np.concatenate([rng.choice(n_in, d, replace=False) for d in degree])
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_out, n_in))


def sparse_autoencoder(mask, device="cpu", seed=0) -> Sequential:
    n_out, n_in = mask.shape
    # the gene->protein one-to-one layer is the phenotype layer's input scale (the same function)
    # the decoder's softplus, the last one-to-one layer and the loss run fused in the step
    return Sequential(
        [
            MaskedLinear(mask, activation="softplus", seed=seed, input_scale=True),
            MaskedLinear(mask.T, seed=seed + 1),
            Softplus(),
            OneToOne(n_in),
        ]
    ).to(device)


def dense_autoencoder(n_in, n_out, device="cpu", seed=0) -> Sequential:
    return Sequential(
        [
            DenseLinear(n_in, n_in, bias=False, seed=seed),
            DenseLinear(n_in, n_out, seed=seed + 1),
            Softplus(),
            DenseLinear(n_out, n_in, seed=seed + 2),
            Softplus(),
            DenseLinear(n_in, n_in, bias=False, seed=seed + 3),
        ]
    ).to(device)


def step_flops(batch, n_in, n_out, nnz, dense: bool) -> int:
    """Multiply-adds x 2 of forward + input gradient + weight gradient (no input grad of layer 1)."""
    w = [n_in * n_in, n_in * n_out, n_out * n_in, n_in * n_in] if dense else [n_in, nnz, nnz, n_in]
    return int(2 * batch * (3 * sum(w) - w[0]))


def _synchronize(device):
    if device == "gpu":
        backend.cupy_or_none().cuda.Device().synchronize()


def time_training_step(net, x, device, repeats=20, warmup=3) -> list[float]:
    opt = Adam(net.params, net.grads, lr=1e-4)

    def step():  # the pre-training step sparsenet train runs (input validated once, when loaded)
        reconstruction_step(net, x)
        opt.step()

    for _ in range(warmup):
        step()
    _synchronize(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        _synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def device_name(device: str) -> str:
    if device == "gpu":
        cp = backend.cupy_or_none()
        return cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def dense_vs_sparse(device="auto", batch=5000, repeats=20, mask=None, mask_source=None, seed=0) -> dict:
    device = backend.resolve_device(device)
    if mask is None:
        mask, mask_source = random_phenotype_mask(seed=seed), "random (16,135 links, uneven degrees)"
    n_out, n_in = mask.shape
    rng = np.random.default_rng(seed)
    x_host = np.clip(rng.normal(scale=3.0, size=(batch, n_in)), -10, 10).astype(np.float32) / 10
    xp = backend.xp_for(device)
    x = xp.asarray(np.asfortranarray(x_host))  # the training loader's feature-major layout
    sparse_times = time_training_step(sparse_autoencoder(mask, device, seed), x, device, repeats)
    dense_repeats = max(3, repeats // 4)
    dense_times = time_training_step(dense_autoencoder(n_in, n_out, device, seed), x, device, dense_repeats)
    s, d = float(np.median(sparse_times)), float(np.median(dense_times))
    return {
        "device": device_name(device),
        "backend": device,
        "batch": batch,
        "genes": n_in,
        "phenotypes": n_out,
        "links": int(mask.nnz),
        "mask": mask_source,
        "sparse_step_s": s,
        "dense_step_s": d,
        "speedup": d / s,
        "sparse_flops": step_flops(batch, n_in, n_out, int(mask.nnz), dense=False),
        "dense_flops": step_flops(batch, n_in, n_out, int(mask.nnz), dense=True),
        "sparse_repeats": len(sparse_times),
        "dense_repeats": len(dense_times),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _array_bytes(args) -> int:
    """Bytes a launch must move at least: every array argument read or written once."""
    seen, total = set(), 0
    for a in args:
        if hasattr(a, "nbytes") and not isinstance(a, np.generic) and id(a) not in seen:  # arrays, not scalars
            seen.add(id(a))
            total += int(a.nbytes)
    return total


def peak_bandwidth(device: str):
    """The GPU's DRAM bandwidth in bytes/s from its memory clock and bus width, or None."""
    if device != "gpu":
        return None
    try:
        cp = backend.cupy_or_none()
        attrs = cp.cuda.Device().attributes
        return 2 * attrs["MemoryClockRate"] * 1e3 * attrs["GlobalMemoryBusWidth"] / 8
    except Exception:
        return None


def kernel_profile(mask, batch=5000, repeats=10, seed=0, device="gpu", launch_kernels=True) -> dict:
    """Each CUDA kernel of the sparse pre-training step: launches, time (CUDA events), the bytes
    it must move and the bandwidth achieved. ``launch_kernels=False`` records the launches and
    their bytes without running them (the bytes model of a step, on any machine with CuPy or
    the test suite's stand-in)."""
    from .engine.cuda import launch

    cp = backend.cupy_or_none()
    n_out, n_in = mask.shape
    rng = np.random.default_rng(seed)
    x = cp.asarray(
        np.asfortranarray(np.clip(rng.normal(scale=3.0, size=(batch, n_in)), -10, 10).astype(np.float32) / 10)
    )
    net = sparse_autoencoder(mask, "gpu", seed)
    opt = Adam(net.params, net.grads, lr=1e-4)
    records = []
    original = launch._kernel

    def recorded(filename, name):
        kernel = original(filename, name)

        def call(grid, block, args, **kw):
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            if launch_kernels:
                kernel(grid, block, args, **kw)
            end.record()
            records.append((name, start, end, _array_bytes(args)))

        return call

    def step():
        reconstruction_step(net, x)
        opt.step()

    launch._kernel = recorded
    try:
        for _ in range(2):
            step()
        cp.cuda.Device().synchronize()
        records.clear()
        t0 = time.perf_counter()
        for _ in range(repeats):
            step()
        cp.cuda.Device().synchronize()
        step_s = (time.perf_counter() - t0) / repeats
    finally:
        launch._kernel = original
    kernels = {}
    for name, start, end, nbytes in records:
        k = kernels.setdefault(name, {"launches": 0, "seconds": 0.0, "bytes": 0})
        k["launches"] += 1
        k["seconds"] += cp.cuda.get_elapsed_time(start, end) / 1e3
        k["bytes"] += nbytes
    for k in kernels.values():
        k["launches"] //= repeats
        k["seconds"] /= repeats
        k["bytes"] //= repeats
        k["GB_per_s"] = k["bytes"] / k["seconds"] / 1e9 if k["seconds"] > 0 else None
    total_bytes = sum(k["bytes"] for k in kernels.values())
    peak = peak_bandwidth(device)
    return {
        "device": device_name(device) if launch_kernels else "bytes model only",
        "batch": batch,
        "genes": n_in,
        "phenotypes": n_out,
        "links": int(mask.nnz),
        "kernels": kernels,
        "kernel_bytes_per_step": total_bytes,
        "step_s": step_s if launch_kernels else None,
        "peak_bandwidth_bytes_per_s": peak,
        "floor_s": total_bytes / peak if peak else None,
    }


def format_kernel_profile(p: dict) -> str:
    rows = [("kernel", "launches", "ms/step", "MB moved", "GB/s")]
    for name, k in sorted(p["kernels"].items(), key=lambda kv: -kv[1]["seconds"]):
        rows.append(
            (
                name,
                str(k["launches"]),
                f"{k['seconds'] * 1e3:.3f}",
                f"{k['bytes'] / 1e6:.1f}",
                "-" if k["GB_per_s"] is None else f"{k['GB_per_s']:.0f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    tail = f"kernels move {p['kernel_bytes_per_step'] / 1e6:.0f} MB per step"
    if p["floor_s"]:
        tail += (
            f"; at the DRAM peak ({p['peak_bandwidth_bytes_per_s'] / 1e12:.2f} TB/s) that is "
            f"{p['floor_s'] * 1e3:.3f} ms"
        )
    if p["step_s"]:
        tail += f"; measured step {p['step_s'] * 1e3:.3f} ms (kernels + CuPy array ops + launch gaps)"
    return "\n".join(lines + [tail])


def format_table(r: dict) -> str:
    rows = [
        ("network", "step (ms)", "GFLOP/step", "GFLOP/s"),
        (
            "sparse (C)",
            f"{r['sparse_step_s'] * 1e3:.1f}",
            f"{r['sparse_flops'] / 1e9:.2f}",
            f"{r['sparse_flops'] / r['sparse_step_s'] / 1e9:.1f}",
        ),
        (
            "dense (A)",
            f"{r['dense_step_s'] * 1e3:.1f}",
            f"{r['dense_flops'] / 1e9:.2f}",
            f"{r['dense_flops'] / r['dense_step_s'] / 1e9:.1f}",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"device: {r['device']}  batch: {r['batch']}  mask: {r['mask']}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(f"speedup (dense / sparse): {r['speedup']:.1f}x")
    return "\n".join(lines)
