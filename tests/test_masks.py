"""Masks from COBRA models: the screen against the original authors' mask, pruning equals
the exhaustive screen, the shipped files regenerate exactly, HDF5 round trip, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet.masks.build import build_masks
from sparsenet.masks.model_io import ModelError, load_model
from sparsenet.masks.screen import ScreenSettings, screen
from sparsenet.masks.store import read_masks, shipped_mask_path, write_masks

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "deepmetabolism-toy"
REFERENCE_MATCHED = {
    "EX_ac_e",
    "EX_for_e",
    "EX_h_e",
    "EX_o2_e",
    "EX_pyr_e",
    "BIOMASS_Ecoli_core_w_GAM",
    "EX_etoh_e",
    "EX_acald_e",
    "EX_co2_e",
    "EX_lac__D_e",
    "EX_akg_e",
    "EX_succ_e",
    "EX_h2o_e",
    "EX_glu__L_e",
    "EX_glc__D_e",
}


@pytest.fixture(scope="module")
def core():
    return load_model("e_coli_core")[0]


def gene_rows(model, results, gene_ids):
    index = {g: i for i, g in enumerate(gene_ids)}
    rows = {}
    for r in results:
        v = np.zeros(len(gene_ids))
        for rid in r.essential:
            for g in model.reactions.get_by_id(rid).genes:
                v[index[g.id]] = 1
        rows[r.reaction_id] = v
    return rows


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference folder not present")
def test_exhaustive_screen_reproduces_the_authors_mask_rows():
    model = load_model(str(REFERENCE / "e_coli_core.xml"))[0]
    results = screen(model, ScreenSettings(uptake_flux=-100, exhaustive=True, keep_zero_optimum=True), processes=1)
    rows = gene_rows(model, results, [g.id for g in model.genes])  # the authors kept s0001: 137 columns
    ref = np.loadtxt(REFERENCE / "toy_protein_phenotype_rule.csv", delimiter=",")
    assert ref.shape == (21, 137)
    matched = {pid for pid, v in rows.items() if any(np.array_equal(v, r) for r in ref)}
    assert matched >= REFERENCE_MATCHED


@pytest.mark.parametrize("uptake_flux", [-10.0, -100.0])
def test_pruned_screen_equals_exhaustive_for_every_phenotype(core, uptake_flux):
    pruned = screen(core, ScreenSettings(uptake_flux=uptake_flux, keep_zero_optimum=True), processes=1)
    full = screen(core, ScreenSettings(uptake_flux=uptake_flux, keep_zero_optimum=True, exhaustive=True), processes=2)
    assert len(pruned) == len(core.exchanges) + 1
    assert sum(r.lps for r in pruned) < sum(r.lps for r in full)
    for a, b in zip(pruned, full, strict=True):
        assert a.reaction_id == b.reaction_id
        assert a.essential == b.essential, a.reaction_id


def test_shipped_e_coli_core_masks_regenerate_exactly(core, tmp_path):
    shipped = read_masks(shipped_mask_path("e_coli_core"))
    attrs = shipped.attrs
    settings = ScreenSettings(
        uptake=attrs["uptake_reaction"],
        uptake_flux=attrs["uptake_flux"],
        threshold=attrs["essentiality_threshold"],
        zero_tol=attrs["zero_tolerance"],
    )
    fresh = build_masks(core, settings, processes=1)
    path = tmp_path / "m.h5"
    write_masks(path, fresh)
    again = read_masks(path)
    assert again.gene_ids == shipped.gene_ids and again.phenotype_ids == shipped.phenotype_ids
    assert (again.protein_phenotype != shipped.protein_phenotype).nnz == 0
    assert (again.gene_protein != shipped.gene_protein).nnz == 0
    assert "s0001" not in again.gene_ids


def test_masks_file_holds_provenance_and_feeds_the_engine():
    from sparsenet import MaskedLinear

    m = read_masks(shipped_mask_path("e_coli_core"))
    for key in (
        "model_id",
        "model_sha256",
        "cobra_version",
        "lp_solver",
        "essentiality_threshold",
        "uptake_reaction",
        "uptake_flux",
        "date",
    ):
        assert key in m.attrs
    layer = MaskedLinear(m.protein_phenotype, activation="softplus")
    assert layer.shape == (len(m.phenotype_ids), len(m.protein_ids))
    assert sp.issparse(m.gene_protein) and m.gene_protein.nnz == len(m.gene_ids)


def test_shipped_ijo1366_masks_summary():
    path = shipped_mask_path("iJO1366")
    m = read_masks(path)
    s = m.summary()
    assert s["genes"] == 1366 and "s0001" not in m.gene_ids
    assert s["phenotypes_screened"] == 326
    assert "EX_meoh_e" in s["fragile"] and "EX_meoh_e" not in m.phenotype_ids
    assert s["phenotypes"] == s["phenotypes_screened"] - s["phenotypes_zero_optimum"] - s["phenotypes_fragile"]
    assert any(p.startswith("BIOMASS_Ec_iJO1366") for p in m.phenotype_ids)


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "sparsenet.cli.main", *args], capture_output=True, text=True, cwd=cwd or ROOT
    )


@pytest.mark.slow  # a knockout screen through the command line
def test_cli_builds_masks_and_json(tmp_path):
    out, js = tmp_path / "core.h5", tmp_path / "core.json"
    proc = run_cli("masks", "build", "e_coli_core", "-o", str(out), "--json", str(js))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(js.read_text())
    for key in ("genes", "proteins", "phenotypes", "gene_protein_links", "protein_phenotype_links", "seconds"):
        assert key in summary
    assert summary["protein_phenotype_links"] == read_masks(out).protein_phenotype.nnz


@pytest.mark.slow  # a COBRA model read per case, through the command line
@pytest.mark.parametrize(
    "args,message",
    [
        (["no_such_model.xml"], "no such model file"),
        (["e_coli_core", "--uptake", "EX_nothing"], "uptake reaction 'EX_nothing' does not exist"),
        (["e_coli_core", "--uptake-flux", "-100000"], "infeasible"),
        (["BAD_FILE"], "cannot read the model"),
    ],
)
def test_cli_bad_input_one_line_no_output(tmp_path, args, message):
    bad = tmp_path / "bad.xml"
    bad.write_text("<not sbml")
    args = [str(bad) if a == "BAD_FILE" else a for a in args]
    out = tmp_path / "m.h5"
    proc = run_cli("masks", "build", *args, "-o", str(out))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".m.h5*"))


def test_model_without_biomass_is_rejected(core):
    model = core.copy()
    model.remove_reactions([r for r in model.reactions if "biomass" in r.id.lower()])
    with pytest.raises(ModelError, match="no biomass reaction"):
        screen(model, ScreenSettings())
