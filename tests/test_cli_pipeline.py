"""sparsenet train / predict / links / robustness / data spline as a user runs them, on small real files."""

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import FAST, assert_page, one_line_error, sparsenet, without
from synthetic import CORE_MASKS, ROOT, core_masks, write_dataset

pytestmark = pytest.mark.slow  # every command run end to end as a user runs it


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    expr, phen, truth = write_dataset(tmp / "data")
    out = tmp / "run"
    proc = sparsenet(
        "train", "--expression", expr, "--phenotypes", phen, *FAST, "--strategy", "A,B,C", "--cv", "both", "--out", out
    )
    assert proc.returncode == 0, proc.stderr
    return {"out": out, "expr": expr, "phen": phen, "truth": truth, "stdout": proc.stdout, "tmp": tmp}


def test_train_writes_the_run_folder(trained):
    out = trained["out"]
    report = json.loads((out / "report.json").read_text())
    models = [
        *"ABC",
        "baseline:mean",
        "baseline:ridge",
        "baseline:ridge_linked",
        "baseline:knn",
        "baseline:random_forest",
    ]
    assert set(report["results"]) == {f"{cv}/{m}" for cv in ("grouped", "kfold") for m in models}
    # the networks and every baseline are in the printed table and were scored on the same held-out samples
    for m in models:
        assert f"grouped  {m} " in trained["stdout"], m
    grouped = [
        list(csv.reader((out / f"results_grouped_{m.replace(':', '_')}.csv").read_text().splitlines())) for m in models
    ]
    assert all([r[:3] for r in g] == [r[:3] for r in grouped[0]] for g in grouped)
    c = report["results"]["grouped/C"]
    assert {"pearson_r", "within_20_percent", "rmse"} <= set(c["phenotypes"]["Growth Rate (1/hr)"])
    assert "r2_mean" in c["reconstruction_held_out"] and "reconstruction_held_out" not in report["results"]["grouped/A"]
    assert report["data"]["model_genes_missing"] == 2 and report["data"]["data_genes_unused"] == 3
    for name in (
        "predicted_vs_observed.png",
        "training_curves.png",
        "reconstruction_grouped.png",
        "model.h5",
        "links.csv",
        "results_grouped_C.csv",
        "results_kfold_A.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    assert (out / "predicted_vs_observed.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.reader(Path(out / "results_grouped_C.csv").read_text().splitlines()))
    assert rows[0] == ["sample_id", "fold", "group", "observed Growth Rate (1/hr)", "predicted Growth Rate (1/hr)"]
    assert len(rows) - 1 == len(trained["truth"]["samples"]) - 2  # every labelled sample once
    observed = {r[0]: float(r[3]) for r in rows[1:]}
    truth = dict(zip(trained["truth"]["samples"], trained["truth"]["growth"], strict=True))
    assert all(abs(observed[s] - truth[s]) < 1e-4 for s in observed)
    assert "Growth Rate" in trained["stdout"] and "report.json" in trained["stdout"]
    # the metrics in the report are those of the CSV
    pred = np.array([float(r[4]) for r in rows[1:]])
    obs = np.array([float(r[3]) for r in rows[1:]])
    assert c["phenotypes"]["Growth Rate (1/hr)"]["pearson_r"] == pytest.approx(np.corrcoef(obs, pred)[0, 1], abs=1e-5)


def test_predict_matches_the_final_model(trained):
    from sparsenet.training.checkpoint import encoder_from_checkpoint, load_checkpoint
    from sparsenet.data.dataset import load_dataset
    from sparsenet.data.spec import DataSpec

    out = trained["tmp"] / "pred.csv"
    proc = sparsenet("predict", trained["out"] / "model.h5", trained["expr"], "-o", out)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(Path(out).read_text().splitlines()))
    assert rows[0][0] == "sample_id" and len(rows) - 1 == len(trained["truth"]["samples"])
    ck = load_checkpoint(trained["out"] / "model.h5")
    encoder, columns = encoder_from_checkpoint(ck)
    assert ck.config["inputs"] == "standardise" and ck.config["architecture"]["head"] == "readout"  # the default preset
    ds = load_dataset(core_masks(), DataSpec(trained["expr"], trained["phen"], ["ref_1", "ref_2"]))
    x = ds.inputs.all()
    sd = np.where(x.std(axis=0) < 1e-3, 1.0, x.std(axis=0))
    standardised = (x - ck.extra["input_mean"].astype(np.float32)) / ck.extra["input_sd"].astype(np.float32)
    expected = np.asarray(encoder.forward(standardised))[:, columns[0]]
    np.testing.assert_allclose(ck.extra["input_mean"], x.mean(axis=0), rtol=1e-5, atol=1e-6)  # fitted on all samples
    np.testing.assert_allclose(ck.extra["input_sd"], sd, rtol=1e-4)
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], expected, rtol=1e-4)


def test_links_table_covers_every_link(trained):
    out = trained["tmp"] / "links.csv"
    proc = sparsenet("links", trained["out"] / "model.h5", "-o", out)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(Path(out).read_text().splitlines()))
    m = core_masks()
    assert len(rows) == m.protein_phenotype.nnz
    assert {r["phenotype"] for r in rows} <= set(m.phenotype_ids)
    assert out.read_text() == (trained["out"] / "links.csv").read_text()


def test_resume_with_other_settings_is_refused(trained):
    proc = sparsenet(
        "train",
        "--expression",
        trained["expr"],
        "--phenotypes",
        trained["phen"],
        *FAST,
        "--seed",
        "9",
        "--out",
        trained["out"],
        "--resume",
    )
    one_line_error(proc, "different settings")
    proc = sparsenet(
        "train", "--expression", trained["expr"], "--phenotypes", trained["phen"], *FAST, "--out", trained["out"]
    )
    one_line_error(proc, "already exists")


def test_resume_of_a_finished_run_recomputes_nothing(trained):
    before = (trained["out"] / "results_grouped_C.csv").read_text()
    proc = sparsenet(
        "train",
        "--expression",
        trained["expr"],
        "--phenotypes",
        trained["phen"],
        *FAST,
        "--strategy",
        "A,B,C",
        "--cv",
        "both",
        "--out",
        trained["out"],
        "--resume",
    )
    assert proc.returncode == 0, proc.stderr
    assert (trained["out"] / "results_grouped_C.csv").read_text() == before


def _bad(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_train_bad_input(tmp_path):
    m = core_masks()
    expr, phen, _ = write_dataset(tmp_path / "d")
    g = m.gene_ids
    cases = [
        (["--expression", tmp_path / "none.csv", "--phenotypes", phen], "no such file"),
        (["--expression", _bad(tmp_path, "empty.csv", ""), "--phenotypes", phen], "empty table"),
        (
            ["--expression", _bad(tmp_path, "rag.csv", f"gene,a,b\n{g[0]},1,2\n{g[1]},3\n"), "--phenotypes", phen],
            "ragged",
        ),
        (["--expression", _bad(tmp_path, "nan.csv", f"gene,ref_1,ref_2\n{g[0]},1,nan\n"), "--phenotypes", phen], "NaN"),
        (
            ["--expression", _bad(tmp_path, "ids.csv", "gene,ref_1,ref_2\nzz,1,2\n"), "--phenotypes", phen],
            "no gene IDs or symbols in common",
        ),
        (
            ["--expression", _bad(tmp_path, "dup.csv", f"gene,ref_1,ref_1\n{g[0]},1,2\n"), "--phenotypes", phen],
            "duplicate sample ID",
        ),
        (
            ["--expression", expr, "--phenotypes", _bad(tmp_path, "p.csv", "id,project,Growth Rate (1/hr)\nq,a,1\n")],
            "no sample with an observed phenotype",
        ),
        (["--expression", _bad(tmp_path, "c.h5", "garbage" * 50), "--phenotypes", phen], "corrupt HDF5"),
        (["--expression", expr], "give both --expression and --phenotypes"),
        (["--expression", expr, "--phenotypes", phen, "--strategy", "D"], "--strategy"),
        (["--expression", expr, "--phenotypes", phen, "--baselines", "forest"], "--baselines: 'forest' is not one of"),
        (["--expression", expr, "--phenotypes", phen, "--preset", "fast"], "--preset must be one of default, paper"),
        (["--expression", expr, "--phenotypes", phen, "--inputs", "zscore"], "--inputs must be one of"),
        (["--expression", expr, "--phenotypes", phen, "--cv", "lopo", "--group-by", "nosuch"], "no column 'nosuch'"),
    ]
    for args, message in cases:
        out = tmp_path / "run"
        proc = sparsenet("train", *FAST, *args, "--out", out)
        one_line_error(proc, message)
        assert not out.exists(), message  # no partial outputs


def test_predict_bad_input(trained, tmp_path):
    other = tmp_path / "other.h5"
    import shutil

    shutil.copy(ROOT / "data" / "iJO1366_masks.h5", other)
    one_line_error(
        sparsenet("predict", trained["out"] / "model.h5", trained["expr"], "-o", tmp_path / "p.csv", "--masks", other),
        "different masks",
    )
    bad = tmp_path / "bad.h5"
    bad.write_bytes((trained["out"] / "model.h5").read_bytes()[:2000])
    one_line_error(sparsenet("predict", bad, trained["expr"], "-o", tmp_path / "p.csv"), "corrupt")
    one_line_error(
        sparsenet("predict", trained["out"] / "model.h5", trained["expr"], "-o", tmp_path / "nope" / "p.csv"),
        "does not exist",
    )
    assert not (tmp_path / "p.csv").exists()


def test_data_spline_then_train_on_it(tmp_path):
    m = core_masks()
    genes = m.gene_ids[:30]
    rng = np.random.default_rng(0)
    times = [0, 1, 2, 4, 8, 8]
    with open(tmp_path / "ts.csv", "w") as fh:
        fh.write("gene," + ",".join(f"t{i}" for i in range(6)) + "\n")
        for gname in genes:
            fh.write(gname + "," + ",".join(f"{v:.4f}" for v in rng.normal(size=6)) + "\n")
    with open(tmp_path / "ph.csv", "w") as fh:
        fh.write("sample,time,Growth Rate (1/hr)\n")
        for i, t in enumerate(times):
            fh.write(f"t{i},{t},{0.2 + 0.05 * t}\n")
    out = tmp_path / "syn"
    proc = sparsenet(
        "data",
        "spline",
        tmp_path / "ts.csv",
        tmp_path / "ph.csv",
        "--time",
        "time",
        "-n",
        "25",
        "-o",
        out,
        "--masks",
        CORE_MASKS,
    )
    assert proc.returncode == 0, proc.stderr
    ph = list(csv.DictReader(Path(out / "phenotypes.csv").read_text().splitlines()))
    assert len(ph) == 25 and float(ph[0]["time"]) == 0 and float(ph[-1]["time"]) == 8
    np.testing.assert_allclose(
        [float(r["Growth Rate (1/hr)"]) for r in ph], [0.2 + 0.05 * float(r["time"]) for r in ph], atol=1e-4
    )  # a line stays a line
    again = sparsenet("data", "spline", tmp_path / "ts.csv", tmp_path / "ph.csv", "--time", "time", "-o", out)
    one_line_error(again, "already exists")
    run = sparsenet(
        "train",
        "--expression",
        out / "expression.csv",
        "--phenotypes",
        out / "phenotypes.csv",
        *without(FAST, "--reference", "--finetune-lr"),
        "--reference",
        "none",  # and the strategy's default fine-tuning rate
        "--cv",
        "kfold",
        "--strategy",
        "B",
        "--out",
        tmp_path / "run",
    )
    assert run.returncode == 0, run.stderr


def test_robustness_command(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "d")
    out = tmp_path / "rob"
    proc = sparsenet(
        "robustness",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *FAST,
        "--percent",
        "50",
        "--where",
        "pretrain,finetune",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads((out / "robustness.json").read_text())
    assert [(n["where"], n["percent"]) for n in r["noisy"]] == [("pretrain", 50), ("finetune", 50)]
    assert (out / "robustness.png").exists() and "noise in" in proc.stdout
    assert_page(out, ["run", "checks", "robustness", "files"])
    # noise changes the numbers
    assert r["noisy"][1]["pearson_r"] != r["clean"]["pearson_r"]
    # the clean and the fine-tuning-noise runs share one pre-training per fold and ensemble member (the default
    # preset's 5); the noisy pool has its own
    assert len(list((out / "state" / "pretrain").glob("pretrain-*.h5"))) == 2 * 3 * 5


def test_hdf5_pretraining_file_streams(tmp_path):
    expr, phen, truth = write_dataset(tmp_path / "d")
    with h5py.File(tmp_path / "pool.h5", "w") as f:
        f["expression"] = truth["levels"]
        f["sample_ids"] = np.array([f"p{i}".encode() for i in range(len(truth["samples"]))])
        f["gene_ids"] = np.array([g.encode() for g in truth["genes"]])
    proc = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *FAST,
        "--pretrain-data",
        tmp_path / "pool.h5",
        "--cv",
        "kfold",
        "--strategy",
        "C",
        "--out",
        tmp_path / "run",
    )
    assert proc.returncode == 0, proc.stderr
    # the pool shares no sample with the folds: one pre-training per ensemble member (the default preset's 5)
    # serves every fold and the final model
    assert len(list((tmp_path / "run" / "state").glob("pretrain-*.h5"))) == 5


def test_train_seeds_and_leave_one_project_out(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "d")
    out = tmp_path / "run"
    proc = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *FAST,
        "--strategy",
        "B,C",
        "--cv",
        "lopo",
        "--seeds",
        "2",
        "--baselines",
        "mean,ridge",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    col = "Growth Rate (1/hr)"
    for key in ("lopo/B", "lopo/C", "lopo/baseline:ridge"):
        res = report["results"][key]
        assert res["folds"] == 6 and res["seeds"] == [0, 1]  # one fold per project (6 in the data)
        per_seed = [s["phenotypes"][col]["pearson_r"] for s in res["per_seed"]]
        agg = res["over_seeds"][col]["pearson_r"]
        assert agg["per_seed"] == pytest.approx(per_seed, abs=1e-6)
        assert agg["mean"] == pytest.approx(np.mean(per_seed), abs=1e-6)
        assert agg["sd"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-6)
    pairs = {(c["model"], c["against"]) for c in report["comparisons"]}
    assert pairs == {("C", "B"), ("B", "baseline:ridge"), ("C", "baseline:ridge")}
    assert "±" in proc.stdout and "paired over 2 seeds" in proc.stdout
