"""sparsenet bench --dense-vs-sparse runs both networks and writes the promised JSON keys."""

import pytest
import json
import subprocess
import sys
from pathlib import Path

from sparsenet.benchmark import N_LINKS, random_phenotype_mask, step_flops

pytestmark = pytest.mark.slow  # the benchmark command run whole

ROOT = Path(__file__).resolve().parents[1]


def test_random_mask_has_the_papers_size_and_uneven_degrees():
    m = random_phenotype_mask()
    assert m.shape == (110, 1366) and m.nnz == N_LINKS
    degrees = m.getnnz(axis=1)
    assert degrees.min() >= 1 and degrees.max() > 3 * degrees.mean() ** 0.5


def test_bench_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparsenet.cli.main",
            "bench",
            "--dense-vs-sparse",
            "--device",
            "cpu",
            "--batch",
            "64",
            "--repeats",
            "2",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    for key in ("device", "batch", "sparse_step_s", "dense_step_s", "speedup", "sparse_flops", "dense_flops"):
        assert key in r
    assert r["batch"] == 64 and r["speedup"] == r["dense_step_s"] / r["sparse_step_s"]
    assert r["sparse_flops"] == step_flops(64, r["genes"], r["phenotypes"], r["links"], dense=False)
    assert "speedup" in proc.stdout


def test_bench_rejects_missing_mask_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sparsenet.cli.main", "bench", "--mask", str(tmp_path / "none.h5")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1 and "no such masks file" in proc.stderr and "Traceback" not in proc.stderr
