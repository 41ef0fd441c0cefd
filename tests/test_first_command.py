"""The first command, in the fast suite (issue 38, item 8): `sparsenet train` end to end on a tiny data set
(the shipped e_coli_core masks and the synthetic data of the tests), as a subprocess, as a user runs it: it
must exit 0, print its accuracy table and write the run folder with report.html. Whole runs of every option
are the slow suite's (tests/test_cli_pipeline.py)."""

import json

from conftest import FAST, sparsenet, without
from synthetic import write_dataset


def test_train_runs_end_to_end_on_a_tiny_data_set(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data", n_samples=24)
    out = tmp_path / "run"
    proc = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *without(FAST, "--max-steps", "--pretrain-samples"),
        "--max-steps",
        "20",
        "--ensemble",
        "1",
        "--baselines",
        "mean,ridge",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert {"grouped/B", "grouped/baseline:mean", "grouped/baseline:ridge"} <= set(report["results"])
    assert "grouped  B " in proc.stdout
    for name in ("model.h5", "report.html", "results_grouped_B.csv"):
        assert (out / name).exists(), name
    # written once: the final model with its intervals; the page from the report in memory is the page that
    # `sparsenet report` builds from the files
    from sparsenet.training.checkpoint import load_checkpoint

    assert "interval_observed" in load_checkpoint(out / "model.h5").extra
    page = (out / "report.html").read_bytes()
    assert sparsenet("report", out).returncode == 0
    assert (out / "report.html").read_bytes() == page
