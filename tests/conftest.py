"""What many test modules share: small masks, the command line as a user runs it (``sparsenet``), its fast
options on the synthetic data set (``FAST``), and the one-line error every bad input must give."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from synthetic import CORE_MASKS, ROOT, core_masks, write_dataset


def random_mask(rng, n_out, n_in, density, empty_row=None, empty_col=None):
    m = (rng.random((n_out, n_in)) < density).astype(np.float64)
    if empty_row is not None:
        m[empty_row, :] = 0
    if empty_col is not None:
        m[:, empty_col] = 0
    return sp.csr_matrix(m)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _real_gpu_cupy():
    """CuPy if it is installed and sees a GPU (checked without the engine's cached probe)."""
    try:
        import cupy

        if getattr(cupy, "is_emulator", False):
            return None
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:
        return None


@pytest.fixture(params=["emulator", "gpu"])
def cp(request):
    """The GPU path's array module: the CuPy stand-in whose kernels run on the CUDA emulator
    (always), and real CuPy on a GPU (when one is present). The engine's backend uses it."""
    if request.param == "gpu":
        real = _real_gpu_cupy()
        if real is None:
            pytest.skip("no GPU: CuPy missing or sees no CUDA device")
        yield real
        return
    from cuda_emulator import cupy_standin

    with cupy_standin.install() as module:
        yield module


# ---------------------------------------------------------------- the command line
FAST = [
    "--masks",
    str(CORE_MASKS),
    "--reference",
    "ref_1,ref_2",
    "--folds",
    "3",
    "--pretrain-samples",
    "1200",
    "--batch",
    "200",
    "--pretrain-lr",
    "0.01",
    "--finetune-lr",
    "0.01",
    "--max-steps",
    "50",
    "--device",
    "cpu",
]


def without(args, *options):
    """``args`` minus each named option and its value."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in options:
            skip = True
        else:
            out.append(a)
    return out


def sparsenet(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "sparsenet.cli.main", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def one_line_error(proc, message):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr


# ---------------------------------------------------------------- a small training run
def core_dataset(tmp_path):
    """The synthetic data set on the shipped e_coli_core masks, grouped by project."""
    from sparsenet.data.dataset import load_dataset
    from sparsenet.data.spec import DataSpec

    expr, phen, _ = write_dataset(tmp_path / "data")
    return load_dataset(core_masks(), DataSpec(expr, phen, ["ref_1", "ref_2"], group_by="project"))


def training_config(**kw):
    """A small, fast RunConfig of strategies B and C on two schemes (``kw`` over it)."""
    from sparsenet.config.run_config import RunConfig
    from sparsenet.training.finetune import FinetuneSettings
    from sparsenet.training.pretrain import PretrainSettings

    base = dict(
        strategies=["B", "C"],
        cv=["grouped", "kfold"],
        folds=3,
        seed=5,
        device="cpu",
        pretrain=PretrainSettings(samples=2400, batch=200, lr=0.01, checkpoint_every=3),
        finetune=FinetuneSettings(lr=1e-2, max_steps=60),
        final_model=True,
    )
    base.update(kw)
    return RunConfig(**base)


def assert_page(folder, sections):
    """The run folder's report.html: its sections in order, its figures inline, nothing to fetch."""
    import re

    page = (Path(folder) / "report.html").read_text()
    assert re.findall(r'<section id="([^"]+)"', page) == sections
    assert "data:image/png;base64," in page and "<script" not in page and "https://" not in page
