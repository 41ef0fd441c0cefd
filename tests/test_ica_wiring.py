"""--wiring ica: each fit wired to the independent components of its own pre-training pool. Planted
modules are found; a held-out profile never shapes the wiring it is scored by; the run predicts."""

import json

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet.data.dataset import load_dataset
from sparsenet.data.spec import DataSpec
from sparsenet.config.run_config import ConfigError, build_config
from sparsenet.runs.crossval import Runner
from sparsenet.runs.folds import make_folds
from sparsenet.masks.ica import IcaSettings, component_genes, ica_masks

from synthetic import core_masks, write_dataset
from conftest import FAST, sparsenet, without

pytestmark = pytest.mark.slow  # whole train and control runs


MODULES = ((2, 12), (30, 45), (60, 75))  # columns of the synthetic data with a shared activity (ICA's gene sets)


def planted(n_samples=160, n_genes=300, modules=((0, 25), (40, 70), (100, 120)), seed=0):
    """Expression = independent heavy-tailed module activities on their genes + Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n_samples, n_genes))
    for a, b in modules:
        x[:, a:b] += 3 * rng.laplace(0, 1, (n_samples, 1)) * rng.uniform(0.8, 1.2, b - a)
    return x - x.mean(axis=0), modules


def test_component_genes_are_the_tail_outside_the_normal_bulk():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, 2000)
    w[[5, 50, 500]] = [30.0, -25.0, 20.0]
    assert component_genes(w, cutoff=0.14 * 2000).tolist() == [5, 50, 500]
    assert component_genes(rng.normal(0, 1, 2000), cutoff=0.14 * 2000).size == 0


def test_ica_finds_planted_modules():
    x, modules = planted()
    genes = [f"g{i}" for i in range(x.shape[1])]
    base = replace(
        core_masks(),
        gene_ids=genes,
        protein_ids=genes,
        gene_protein=sp.identity(len(genes), format="csr"),
        gene_names=[],
    )
    m = ica_masks(x, base, IcaSettings(components=6, seed=0))
    sets = [set(m.protein_phenotype[i].indices) for i in range(m.protein_phenotype.shape[0])]
    for a, b in modules:
        best = max(len(s & set(range(a, b))) / len(s | set(range(a, b))) for s in sets)
        assert best > 0.8, (a, b, sets)
    assert m.gene_ids == genes and m.attrs["kind"] == "ica" and m.attrs["ica_pool_samples"] == x.shape[0]
    again = ica_masks(x, base, IcaSettings(components=6, seed=0))
    assert (again.protein_phenotype != m.protein_phenotype).nnz == 0  # seeded


def test_a_held_out_profile_never_shapes_its_folds_wiring(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data", n_samples=48, modules=MODULES)
    ds = load_dataset(core_masks(), DataSpec(expr, phen, ["ref_1", "ref_2"], group_by="project"), read_out=True)
    cfg = build_config(
        "default", cv="grouped", folds=3, seed=1, max_steps=20, ensemble=1, wiring="ica", ica_components=4
    )
    runner = Runner(ds, cfg, tmp_path / "run")
    test = make_folds(ds, "grouped", 3, 1)[0]
    held_out = {ds.labelled_ids[i] for i in test}
    train = np.setdiff1d(np.arange(ds.labelled.size), test)
    rows = runner.pool_rows(held_out, [ds.labelled_ids[i] for i in train])
    assert not held_out & {runner.pool.sample_ids[r] for r in rows}
    wiring = runner.wirings.of_pool(rows)
    # the same pool in another order: the same wiring (cached by the pool, not its order)
    assert runner.wirings.of_pool(rows[::-1]) is wiring
    # what the fold's fit is wired with is what fold_masks gives its pool: held-out rows play no part
    fitted = runner.fit("B", train, held_out, 1, 1, "t")
    assert fitted.fitted[0].encoder is not None and set(fitted.pool_rows) == set(rows)
    # a pool that includes the held-out profiles gives another wiring (the test could fail)
    everything = np.arange(len(runner.pool.sample_ids))
    other = runner.wirings.of_pool(everything)
    assert other is not wiring and other.attrs["ica_pool_samples"] == everything.size
    assert wiring.attrs["ica_pool_samples"] == rows.size


def test_train_with_ica_wiring_writes_a_model_that_predicts(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data", n_samples=48, modules=MODULES)
    out = tmp_path / "run"
    args = without(FAST, "--max-steps") + ["--max-steps", "30", "--ensemble", "1", "--baselines", "ridge_linked"]
    proc = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *args,
        "--wiring",
        "ica",
        "--ica-components",
        "4",
        "--phenotype",
        "Growth Rate (1/hr)",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    assert "independent components" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["wiring"]["kind"] == "ica"
    assert set(report["results"]) >= {"grouped/B", "grouped/baseline:ridge_linked"}
    own = report["results"]["grouped/B"]["own_wiring_per_fold"]  # each fold's components and links
    folds = report["results"]["grouped/B"]["folds"]
    assert len(own["phenotype_nodes"]) == len(own["links"]) == folds and 1 <= min(own["phenotype_nodes"]) <= 4
    from sparsenet.training.checkpoint import load_checkpoint

    ck = load_checkpoint(out / "model.h5")
    assert all(p.startswith("IC") for p in ck.masks.phenotype_ids) and ck.config["wiring"]["kind"] == "ica"
    pred = tmp_path / "pred.csv"
    proc = sparsenet("predict", out / "model.h5", expr, "-o", pred)
    assert proc.returncode == 0, proc.stderr
    assert pred.read_text().count("\n") > 10
    across = sparsenet("links", out, "-o", tmp_path / "links.csv")
    assert across.returncode == 1 and "every fold has its own wiring" in across.stderr
    final = sparsenet("links", out / "model.h5", "-o", tmp_path / "links.csv")
    assert final.returncode == 0, final.stderr
    assert (tmp_path / "links.csv").read_text().count("\n") > 3


def test_ica_wiring_needs_the_read_out_head():
    with pytest.raises(ConfigError, match="--wiring ica"):
        build_config("paper", wiring="ica")
    with pytest.raises(ConfigError, match="--wiring must be one of"):
        build_config("default", wiring="modules")


def test_control_of_an_ica_wiring_randomises_each_folds_own_wiring(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data", n_samples=48, modules=MODULES)
    out = tmp_path / "control"
    args = without(FAST, "--max-steps", "--folds") + [
        "--max-steps",
        "30",
        "--folds",
        "3",
        "--ensemble",
        "1",
        "--baselines",
        "ridge_linked",
    ]
    proc = sparsenet(
        "control",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *args,
        "--wiring",
        "ica",
        "--ica-components",
        "4",
        "--phenotype",
        "Growth Rate (1/hr)",
        "--draws",
        "3",
        "--null",
        "genes,edges",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    summary = report["control"]["null_models"]
    assert set(summary) == {"genes", "edges"}
    r = summary["genes"]["phenotypes"]["Growth Rate (1/hr)"]["pearson_r"]
    assert r["draws"] == 3 and 1 <= r["rank"] <= 4
    assert not (out / "null_masks").exists()  # drawn per fold from that fold's wiring, not written once
    from sparsenet.runs.fold_state import read_fold

    real = read_fold(out / "state" / "grouped-B-s0-fold00.h5")
    null = read_fold(out / "state" / "grouped-null-genes-s0-fold00.h5")
    assert real.wiring_nodes >= 1 and null.predicted_draws.shape[0] == 3
    assert not np.allclose(null.predicted_draws[0], real.predicted)
