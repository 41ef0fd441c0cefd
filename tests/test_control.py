"""Null-wiring controls: every draw is trained exactly as the real wiring (same folds, seeds, settings),
the empirical p-value and rank are what they claim, and `sparsenet control` writes a report, a plot
and every randomised wiring, any of which trains again with `train --masks`."""

import json
from pathlib import Path

import numpy as np
import pytest

from sparsenet.data.dataset import load_dataset
from sparsenet.data.spec import DataSpec
from sparsenet.stats import nulls as control
from sparsenet.runs import wirings
from sparsenet.config.run_config import build_config
from sparsenet.runs.crossval import Runner
from sparsenet.masks.store import read_masks

from synthetic import core_masks, write_dataset
from conftest import FAST, assert_page, sparsenet, without

pytestmark = pytest.mark.slow  # whole control runs


def _dataset(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data")
    return load_dataset(core_masks(), DataSpec(expr, phen, ["ref_1", "ref_2"], group_by="project"), read_out=True)


def test_a_null_draw_is_trained_exactly_as_the_real_wiring(tmp_path, monkeypatch):
    """With a 'randomisation' that changes nothing, every draw must give the real wiring's held-out predictions:
    the same folds, network seeds, settings and stopping, fold by fold and seed by seed."""
    ds = _dataset(tmp_path)
    monkeypatch.setattr(wirings, "randomise", lambda masks, kind, seed, draw: masks)
    cfg = build_config(
        "default",
        cv="grouped",
        folds=3,
        seed=4,
        seeds=2,
        max_steps=80,
        ensemble=2,
        nulls={"kinds": ["genes"], "draws": 3, "seed": 4},
    )
    results = Runner(ds, cfg, tmp_path / "run").run().results
    for repeat in range(2):
        real, null = results[("grouped", "B", repeat)], results[("grouped", "null:genes", repeat)]
        for r, n in zip(real, null, strict=True):
            np.testing.assert_array_equal(n.test, r.test)
            for d in range(3):
                np.testing.assert_allclose(n.predicted_draws[d], r.predicted, rtol=1e-6, atol=1e-7)
    # and a real randomisation moves them
    monkeypatch.undo()
    results = Runner(ds, cfg, tmp_path / "run2").run().results
    assert not np.allclose(
        results[("grouped", "null:genes", 0)][0].predicted_draws[0], results[("grouped", "B", 0)][0].predicted
    )


def test_empirical_p_and_rank():
    null = np.array([0.1, 0.2, 0.3, 0.5, 0.6])
    c = control.compare(0.4, null, "pearson_r")
    assert c["draws_at_least_as_good"] == 2 and c["rank"] == 3 and c["p"] == pytest.approx(3 / 6)
    c = control.compare(0.7, null, "pearson_r")
    assert c["rank"] == 1 and c["p"] == pytest.approx(1 / 6)  # beats every draw: the smallest p N draws allow
    c = control.compare(0.15, null, "rmse")  # lower is better: 0.1 is at least as good
    assert c["draws_at_least_as_good"] == 1 and c["p"] == pytest.approx(2 / 6)
    assert c["null_mean"] == pytest.approx(0.34) and c["null_quantiles"]["0.5"] == pytest.approx(0.3)


def test_control_command_writes_the_null_distribution_and_runnable_masks(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data")
    out = tmp_path / "ctl"
    args = without(FAST, "--folds", "--max-steps", "--pretrain-samples", "--batch", "--pretrain-lr")
    proc = sparsenet(
        "control",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *args,
        "--folds",
        "3",
        "--max-steps",
        "60",
        "--draws",
        "4",
        "--null",
        "genes,edges,density",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    col = "Growth Rate (1/hr)"
    summary = report["control"]
    assert set(summary["null_models"]) == {"genes", "edges", "density"}
    for kind, entry in summary["null_models"].items():
        r = entry["phenotypes"][col]["pearson_r"]
        assert entry["draws"] == 4 and len(r["null_values"]) == 4 and len(entry["links_moved"]) == 4
        assert r["p"] == pytest.approx((1 + r["draws_at_least_as_good"]) / 5)
        assert r["real"] == pytest.approx(report["results"]["grouped/B"]["over_seeds"][col]["pearson_r"]["mean"])
        assert kind in proc.stdout
    assert {"grouped/B", "grouped/baseline:random_forest", "grouped/baseline:ridge_linked"} == set(report["results"])
    assert (out / "control.png").read_bytes()[:4] == b"\x89PNG"
    assert_page(out, ["run", "checks", "control", "accuracy", "files"])
    draw = out / "null_masks" / "edges-002.h5"
    m = read_masks(draw)
    assert m.attrs["null_model"] == "edges" and m.attrs["null_draw"] == 2
    # links over the folds' networks, with each link's percentile under the null wirings
    proc = sparsenet("links", out, "-o", tmp_path / "links.csv")
    assert proc.returncode == 0, proc.stderr
    import csv

    rows = list(csv.DictReader(Path(tmp_path / "links.csv").read_text().splitlines()))
    assert len(rows) == core_masks().protein_phenotype.nnz and rows[0]["fold_networks"] == str(3 * 5)
    for kind in ("genes", "edges", "density"):
        values = [float(r[f"null_percentile_{kind} [{col}]"]) for r in rows]
        assert all(0 <= v <= 100 for v in values) and len(set(values)) > 10
    same = [float(r[f"folds_same_sign [{col}]"]) for r in rows]
    assert all(0 <= v <= 1 for v in same) and max(same) == 1
    # what train's summary says of these masks, before and after the control's evidence is recorded
    from sparsenet.report.evidence import record, wiring_statement

    evidence = tmp_path / "controls.json"
    fingerprint = report["masks"]["fingerprint"]
    assert "not tested against null wirings" in wiring_statement(fingerprint, evidence)
    entry = record(out, "synthetic data", evidence)
    assert (
        entry["null_models"]["genes"]["pearson_r"]["p"]
        == summary["null_models"]["genes"]["phenotypes"][col]["pearson_r"]["p"]
    )
    said = wiring_statement(fingerprint, evidence)
    assert "synthetic data: " in said and "genes p = " in said
    assert ("biology-guided" in said) == all(
        e["phenotypes"][col]["pearson_r"]["p"] < 0.05 for e in summary["null_models"].values()
    )
    again = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *without(FAST, "--masks"),
        "--masks",
        draw,
        "--strategy",
        "B",
        "--cv",
        "kfold",
        "--baselines",
        "none",
        "--out",
        tmp_path / "rerun",
    )
    assert again.returncode == 0, again.stderr
    bad = sparsenet(
        "control", "--expression", expr, "--phenotypes", phen, *args, "--null", "labels", "--out", tmp_path / "bad"
    )
    assert bad.returncode == 1 and "--null: 'labels' is not one of genes, edges, density" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_null_percentiles_compare_with_the_same_nodes_links():
    from sparsenet.runs.links import null_percentiles

    real = np.array([[5.0, -0.1, 1.0]])  # links 0, 1 into node 0; link 2 into node 1
    nodes = np.array([0, 0, 1])
    draws = [(np.array([[1.0, -2.0, 10.0]]), np.array([0, 0, 1])), (np.array([[3.0, 0.5, 20.0]]), np.array([0, 0, 1]))]
    out = null_percentiles(real, nodes, draws)
    # node 0's null |weights|: 1, 2, 3, 0.5; node 1's: 10, 20
    np.testing.assert_allclose(out, [[100.0, 0.0, 0.0]])


def test_recorded_evidence_joins_null_models_of_one_split_and_keeps_splits_apart(tmp_path):
    from sparsenet.report.evidence import load, record, wiring_statement

    def control_folder(name, scheme, seeds, kind, p, wiring=None):
        metrics = {
            m: {"real": 0.6, "null_mean": 0.5, "null_sd": 0.05, "rank": 3, "draws": 50, "p": p}
            for m in ("pearson_r", "within_20_percent", "rmse")
        }
        report = {
            "masks": {"file": "/somewhere/trn_masks.h5", "fingerprint": "f00d"},
            "settings": {"wiring": wiring},
            "control": {
                "scheme": scheme,
                "network_seeds": seeds,
                "null_models": {kind: {"phenotypes": {"growth": metrics}}},
            },
        }
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(report))
        return tmp_path / name

    evidence = tmp_path / "controls.json"
    record(control_folder("genes", "grouped", [1], "genes", 0.745), "split one", evidence)
    record(control_folder("edges", "grouped", [1], "edges", 0.02), "split one", evidence)
    entry = load(evidence)["f00d"]["split one"]
    assert entry["null_models"]["genes"]["pearson_r"]["p"] == 0.745  # kept when the other null model joined
    assert entry["null_models"]["edges"]["pearson_r"]["p"] == 0.02
    said = wiring_statement("f00d", evidence)
    assert "genes p = 0.745" in said and "edges p = 0.020" in said and "not shown to matter" in said
    record(control_folder("again", "grouped", [1], "edges", 0.5), "split one", evidence)  # a rerun replaces
    assert load(evidence)["f00d"]["split one"]["null_models"]["edges"]["pearson_r"]["p"] == 0.5
    with pytest.raises(ValueError, match="network seeds"):  # another split under the same label is refused
        record(control_folder("lopo", "lopo", [0], "genes", 0.3), "split one", evidence)
    assert load(evidence)["f00d"]["split one"]["scheme"] == "grouped"  # and nothing was written
    record(tmp_path / "lopo", "split two", evidence)
    assert set(load(evidence)["f00d"]) == {"split one", "split two"}
    # a control of each fit's own independent components over the same masks' genes is not the masks' wiring
    ica = {"kind": "ica", "components": 50, "seed": 1, "min_genes": 3}
    record(control_folder("ica", "grouped", [1], "genes", 0.01, ica), "split one", evidence)
    assert load(evidence)["f00d"]["split one"]["null_models"]["genes"]["pearson_r"]["p"] == 0.745
    assert load(evidence)["f00d+ica50"]["split one"]["null_models"]["genes"]["pearson_r"]["p"] == 0.01


def test_recorded_flux_controls_join_predictors_of_one_split_and_record_only_those_asked_for(tmp_path):
    from sparsenet.report.evidence import flux_statement, load, record_flux

    def flux_folder(name, seed, ps):
        def metrics(p):
            return {
                m: {"real": 0.3, "null_mean": 0.1, "null_sd": 0.1, "rank": 9, "draws": 50, "p": p}
                for m in ("pearson_r", "within_20_percent", "rmse", "within_group_r")
            }

        report = {
            "masks": {"file": "/x/iJO1366_masks.h5", "fingerprint": "f00d"},
            "flux_control": {
                "scheme": "grouped",
                "seed": seed,
                "null_model": "genes",
                "predictors": {k: {"phenotypes": {"growth": metrics(p)}} for k, p in ps.items()},
            },
        }
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(report))
        return tmp_path / name

    evidence = tmp_path / "controls.json"
    first = flux_folder("first", 1, {"eflux": 1.0, "flux_ridge": 0.9, "flux_forest": 0.2})
    record_flux(first, "seed 1", evidence, predictors=("eflux", "flux_forest"))
    assert set(load(evidence)["f00d+fluxes"]["seed 1"]["predictors"]) == {"eflux", "flux_forest"}
    assert "not tested" in flux_statement("f00d", "flux_ridge", evidence)
    record_flux(flux_folder("ridge", 1, {"flux_ridge": 0.01}), "seed 1", evidence)  # joins, not replaces
    entry = load(evidence)["f00d+fluxes"]["seed 1"]["predictors"]
    assert entry["flux_forest"]["pearson_r"]["p"] == 0.2 and entry["flux_ridge"]["pearson_r"]["p"] == 0.01
    assert "beyond its gene-permutation null" in flux_statement("f00d", "flux_ridge", evidence)
    with pytest.raises(ValueError, match="seed"):  # another partition under the same label is refused
        record_flux(flux_folder("other", 0, {"eflux": 0.5}), "seed 1", evidence)
    with pytest.raises(ValueError, match="has no flux_forest"):
        record_flux(tmp_path / "ridge", "seed 1b", evidence, predictors=("flux_forest",))
    assert set(load(evidence)["f00d+fluxes"]) == {"seed 1"}  # neither refusal wrote anything


def test_a_tied_null_draw_counts_as_at_least_as_good():
    compare = control.compare
    tied = compare(0.9, np.array([0.9, 0.8, 0.7]), "roc_auc")
    assert tied["draws_at_least_as_good"] == 1 and tied["p"] == pytest.approx(2 / 4) and tied["rank"] == 2
    all_tied = compare(1.0, np.ones(50), "roc_auc")
    assert all_tied["p"] == 1.0 and all_tied["rank"] == 51
    for metric in ("log_loss", "rmse"):  # lower is better: a tie counts too (the flux control's RMSE p as well)
        lower = compare(0.2, np.array([0.2, 0.3]), metric)
        assert lower["draws_at_least_as_good"] == 1 and lower["p"] == pytest.approx(2 / 3)
    assert compare(0.95, np.array([0.9, 0.8]), "roc_auc")["p"] == pytest.approx(1 / 3)
