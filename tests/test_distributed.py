"""Fits fanned out over Dask (a local cluster of 2 processes here): the same numbers as the serial
run, a killed worker loses nothing, a bad scheduler address is one line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sparsenet.runs.crossval import Runner
from sparsenet.runs.plan import Executor, Plan
from synthetic import ROOT, write_dataset
from conftest import FAST, core_dataset as _dataset, one_line_error, training_config as _config

pytestmark = pytest.mark.slow  # local Dask clusters and whole runs


def test_plan_on_two_workers_gives_the_serial_numbers(tmp_path):
    ds = _dataset(tmp_path)
    cfg = _config(strategies=["B", "C"], cv=["grouped"])
    serial = Runner(ds, cfg, tmp_path / "serial").run()
    with Executor(workers=2) as executor:
        assert executor.description.startswith("2 local Dask workers")
        runner = Runner(ds, cfg, tmp_path / "dask")
        plan = Plan([runner])
        n = len(runner.models()) * 3 + 1  # B, C and the baselines on 3 folds, the final model
        assert plan.n_tasks == n
        seen = []
        distributed = executor.run(plan, seen.append)
    results, finals = distributed.results, distributed.finals
    assert set(results[0]) == set(serial.results)
    for key in serial.results:
        for a, b in zip(serial.results[key], results[0][key], strict=True):
            np.testing.assert_array_equal(a.predicted, b.predicted)
            np.testing.assert_array_equal(a.training.finetune_losses, b.training.finetune_losses)
    for k in serial.final.params:
        np.testing.assert_array_equal(serial.final.params[k], finals[0].params[k])
    assert (seen[-1].kind, seen[-1].done, seen[-1].total) == ("tasks", n, n)  # progress: tasks done / total


def _train(tmp, out, *extra):
    expr, phen = tmp / "data" / "expression.csv", tmp / "data" / "phenotypes.csv"
    args = [
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *FAST,
        "--strategy",
        "B,C",
        "--baselines",
        "all",
        "--ensemble",
        "1",
        "--out",
        out,
        *extra,
    ]
    return [sys.executable, "-m", "sparsenet.cli.main", *map(str, args)]


def _results(out):
    """Every results file of a run, byte for byte: each model's held-out predictions (networks and every
    baseline) and the final model's link weights."""
    return {p.name: p.read_bytes() for p in sorted(Path(out).glob("*.csv"))}


def _metrics(out):
    report = json.loads((Path(out) / "report.json").read_text())
    return {k: v["phenotypes"] for k, v in report["results"].items()}


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    write_dataset(tmp / "data")
    proc = subprocess.run(_train(tmp, tmp / "serial"), capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return tmp


def test_cli_workers_give_byte_identical_results(serial_run):
    tmp = serial_run
    proc = subprocess.run(_train(tmp, tmp / "two", "--workers", "2"), capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "2 local Dask workers" in proc.stderr + proc.stdout
    serial, two = _results(tmp / "serial"), _results(tmp / "two")
    baselines = [f"results_grouped_baseline_{b}.csv" for b in ("mean", "ridge", "ridge_linked", "knn", "random_forest")]
    assert set(baselines + ["results_grouped_B.csv", "results_grouped_C.csv", "links.csv"]) <= set(serial)
    assert serial == two, [name for name in serial if serial[name] != two.get(name)]
    assert _metrics(tmp / "serial") == _metrics(tmp / "two")
    from sparsenet.training.checkpoint import load_checkpoint

    one, other = load_checkpoint(tmp / "serial" / "model.h5"), load_checkpoint(tmp / "two" / "model.h5")
    assert one.params.keys() == other.params.keys()
    for k in one.params:
        np.testing.assert_array_equal(one.params[k], other.params[k])


def _children(pid):
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def test_a_killed_worker_loses_nothing(serial_run):
    tmp = serial_run
    out = tmp / "killed"
    proc = subprocess.Popen(
        _train(tmp, out, "--workers", "2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    state = out / "state"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not list(state.glob("grouped-*fold*.h5")):
        time.sleep(0.2)
    workers = [
        p
        for p in _children(proc.pid)
        if any(w in Path(f"/proc/{p}/cmdline").read_bytes() for w in (b"spawn", b"forkserver"))
    ]
    assert proc.poll() is None and workers, "the run ended before a worker could be killed"
    os.kill(workers[0], signal.SIGKILL)  # mid-run: some folds done, others running on that worker
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert _results(tmp / "serial") == _results(out)


def test_bad_scheduler_address_is_one_line_and_writes_nothing(tmp_path):
    write_dataset(tmp_path / "data")
    out = tmp_path / "run"
    proc = subprocess.run(
        _train(tmp_path, out, "--scheduler", "tcp://127.0.0.1:9"), capture_output=True, text=True, cwd=ROOT
    )
    one_line_error(proc, "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")
    assert not out.exists()
    proc = subprocess.run(
        _train(tmp_path, out, "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    one_line_error(proc, "not both")


def test_without_dask_fanning_out_is_one_clear_error(monkeypatch):
    from sparsenet.runs import plan

    monkeypatch.setattr(plan, "_has_distributed", lambda: False)
    with pytest.raises(ValueError, match="pip install 'dask\\[distributed\\]'"):
        Executor(workers=2)
    assert Executor().description == "serial"  # the default needs no Dask
