"""benchmarks/gpu_validate.sh, as the lent GPU machine will run it, rehearsed here: every stage small, on the
CPU, with only the packages that machine has (an import of anything else fails as it would there)."""

import pytest
import json
import subprocess
import sys

from sparsenet.data import precise

from synthetic import ROOT

pytestmark = pytest.mark.slow  # the GPU machine's validation script rehearsed whole


def test_gpu_validation_runs_with_only_the_gpu_machines_packages(tmp_path):
    folder = precise.precise_files(progress=lambda m: None)["log_tpm.csv"].parent
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_validate.sh", "--dry-run", str(folder), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "gpu_dry_run.json").read_text())
    assert set(summary["stages"]) == {"tests", "bench_ijo1366", "bench_random", "stacks", "train", "paper"}
    assert all(s["exit"] == 0 for s in summary["stages"].values())
    assert summary["stages"]["stacks"]["result"]["stacks"]["5"]["stacked_ms_per_step"] > 0
    assert "cobra" not in proc.stdout + proc.stderr and "dask" not in json.dumps(summary["refused_imports"])


def test_gpu_validation_needs_the_precise_files(tmp_path):
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_validate.sh", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1 and "log_tpm.csv: no such file" in proc.stderr
