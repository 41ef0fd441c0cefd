"""A user's own data, as a lab keeps it: every model that trains predicts, phenotypes are found by
name, nothing is dropped in silence, missing values as people write them, outputs that answer a
biologist's questions. Each test replays one trap a new user fell into."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sparsenet.data.checks import data_checks, levels_not_fold_changes, suspect_gene_columns
from sparsenet.data.phenotypes import find_phenotype, read_phenotypes
from sparsenet.data.spec import DataSpec
from sparsenet.data.tables import DataError, align, read_expression
from sparsenet.masks.store import linked_genes

from synthetic import CORE_MASKS, core_masks, write_dataset
from conftest import FAST, one_line_error, sparsenet, without

pytestmark = pytest.mark.slow  # whole train/predict runs on a lab's files

QUICK = [
    *without(FAST, "--max-steps", "--reference"),
    "--max-steps",
    "20",
    "--folds",
    "2",
    "--baselines",
    "none",
    "--reference",
    "none",
]  # lab_files writes fold changes


def lab_files(folder, n_samples=30, mislabelled=0, extra_columns=()):
    """Samples x genes log2 fold changes (b-number columns) and a phenotype table 'sample, mu, batch' as a
    lab writes them; ``mislabelled`` phenotype rows carry IDs the expression file does not have."""
    _, _, truth = write_dataset(folder / "raw", n_samples=n_samples + 2)
    levels, genes = truth["levels"], truth["genes"]
    fc = levels[2:] - levels[:2].mean(axis=0)
    samples = truth["samples"][2:]
    expr = folder / "expr.csv"
    with open(expr, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample"] + genes + [c for c, _ in extra_columns])
        for i, s in enumerate(samples):
            w.writerow([s] + [f"{v:.4f}" for v in fc[i]] + [f"{v:.4f}" for _, v in extra_columns])
    phen = folder / "phen.csv"
    with open(phen, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample", "mu", "batch"])
        for i, s in enumerate(samples):
            sid = f"{s}_x" if i < mislabelled else s
            w.writerow([sid, f"{truth['growth'][i + 2]:.4f}", f"b{i % 5}"])
    return expr, phen, samples


def core_biomass():
    return next(p for p in core_masks().phenotype_ids if "biomass" in p.lower())


# ------------------------------------------------------------------ every model that trains, predicts
@pytest.mark.parametrize(
    "options",
    [
        ["--phenotype", "mu", "--strategy", "B"],  # a target that is no node, read out of all nodes: the trap
        ["--map", "mu=Biomass Objective Function with GAM", "--head", "node", "--strategy", "C", "--ensemble", "1"],
        ["--map", "mu=Biomass_Ecoli_core", "--strategy", "A", "--ensemble", "2"],
        ["--map", "mu=Biomass_Ecoli_core", "--head", "node", "--strategy", "B", "--ensemble", "2"],
        ["--phenotype", "mu", "--strategy", "C", "--ensemble", "2", "--preset", "paper", "--head", "readout"],
        ["--phenotype", "mu", "--masks", "EDGES", "--strategy", "B"],
    ],
    ids=[
        "readout-unmapped-B",
        "node-by-name-C",
        "dense-A-ensemble",
        "node-B-ensemble",
        "paper-C-readout",
        "edge-list-masks",
    ],
)
def test_every_trained_model_predicts(tmp_path, options):
    expr, phen, samples = lab_files(tmp_path)
    if "EDGES" in options:  # a network of the user's own: gene -> a few regulators
        genes = core_masks().gene_ids
        edges = tmp_path / "edges.csv"
        edges.write_text("gene,regulator\n" + "".join(f"{g},R{i % 4}\n" for i, g in enumerate(genes[:60])))
        assert (
            sparsenet(
                "masks", "from-edges", edges, "--source", "gene", "--target", "regulator", "-o", tmp_path / "m.h5"
            ).returncode
            == 0
        )
        options = [tmp_path / "m.h5" if o == "EDGES" else o for o in options]
    args = QUICK + ["--group-by", "batch"]
    if "--masks" in options:
        args = without(args, "--masks")
    out = tmp_path / "run"
    proc = sparsenet("train", "--expression", expr, "--phenotypes", phen, *args, *options, "--out", out)
    assert proc.returncode == 0, proc.stderr
    pred = tmp_path / "p.csv"
    done = sparsenet("predict", out / "model.h5", expr, "-o", pred, "--reference", "none")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(Path(pred).read_text().splitlines()))
    ensemble = int(options[options.index("--ensemble") + 1]) if "--ensemble" in options else 5
    assert rows[0][1].startswith("mu [") and rows[0][1].endswith("] predicted") and len(rows) - 1 == len(samples)
    assert rows[0][2:4] == [
        "mu lower (90 % interval from held-out residuals)",
        "mu upper (90 % interval from held-out residuals)",
    ]
    spread = [f"mu sd over {ensemble} networks (spread, not an error bar)"] if ensemble > 1 else []
    assert rows[0][4:] == spread + ["flag (why to doubt this prediction)"]
    assert all(np.isfinite(float(v)) for r in rows[1:] for v in r[1:-1])
    assert all(float(r[2]) < float(r[1]) < float(r[3]) for r in rows[1:])


# ------------------------------------------------------------------ find what to map to
def test_phenotypes_are_found_by_id_or_name_and_misses_list_the_closest():
    m = core_masks()
    biomass = core_biomass()
    name = m.phenotype_names[m.phenotype_ids.index(biomass)]
    assert find_phenotype(biomass, m) == biomass
    assert find_phenotype(name.upper(), m) == biomass  # a name, any letter case
    for query in ("growth", "mu", "growth rate"):
        with pytest.raises(DataError) as e:
            find_phenotype(query, m)
        assert f"closest: {biomass}" in str(e.value) and "sparsenet masks show" in str(e.value)
    with pytest.raises(DataError, match="closest: EX_ac_e"):
        find_phenotype("EX_ac", m)


def test_two_growth_columns_are_answered_with_the_mapping_to_use(tmp_path):
    """One column a lab names for growth ('mu') is read as growth (tests/test_lab_spreadsheet.py); two ('mu' and
    'growth') leave the choice to the user, with the mapping to write."""
    expr, phen, _ = lab_files(tmp_path)
    lines = phen.read_text().splitlines()
    phen.write_text("\n".join([lines[0] + ",growth"] + [r + ",0.5" for r in lines[1:]]) + "\n")
    proc = sparsenet(
        "train", "--expression", expr, "--phenotypes", phen, *QUICK, "--group-by", "batch", "--out", tmp_path / "run"
    )
    one_line_error(proc, f"--map 'mu={core_biomass()}'")
    assert not (tmp_path / "run").exists()


def test_masks_show_lists_phenotypes_and_genes_with_names(tmp_path):
    proc = sparsenet("masks", "show", CORE_MASKS, "--json", tmp_path / "m.json")
    assert proc.returncode == 0, proc.stderr
    m = core_masks()
    shown = json.loads((tmp_path / "m.json").read_text())
    assert [p["id"] for p in shown["phenotypes"]] == m.phenotype_ids
    assert {g["name"] for g in shown["genes"]} >= {"adhE", "pfkA"} and all(p in proc.stdout for p in m.phenotype_ids)
    counts = {p["id"]: p["linked_genes"] for p in shown["phenotypes"]}
    assert counts[m.phenotype_ids[0]] == m.protein_phenotype.tocsr()[0].nnz
    found = sparsenet("masks", "show", CORE_MASKS, "--find", "pfka")
    assert "pfkA" in found.stdout and "adhE" not in found.stdout
    shipped = sparsenet("masks", "show", "--find", "thrA")  # the default masks carry PRECISE's gene names
    assert "b0002" in shipped.stdout and "thrA" in shipped.stdout


def test_masks_names_adds_names_without_changing_the_wiring(tmp_path):
    from sparsenet.masks.store import read_masks
    from sparsenet.training.checkpoint import mask_fingerprint

    table = tmp_path / "genes.csv"
    m = core_masks()
    table.write_text("locus,symbol\n" + "".join(f"{g},gene{i}\n" for i, g in enumerate(m.gene_ids[:10])))
    out = tmp_path / "named.h5"
    proc = sparsenet("masks", "names", CORE_MASKS, "--table", table, "--name-column", "symbol", "-o", out)
    assert proc.returncode == 0, proc.stderr
    named = read_masks(out)
    assert named.gene_names[:2] == ["gene0", "gene1"] and named.gene_names[10] == m.gene_ids[10]
    assert mask_fingerprint(named) == mask_fingerprint(m) and named.attrs["gene_names_from"] == "genes.csv"
    one_line_error(
        sparsenet("masks", "names", CORE_MASKS, "--table", table, "--name-column", "nope", "-o", out),
        "no column 'nope'",
    )


# ------------------------------------------------------------------ nothing dropped in silence
def test_unmatched_samples_misspelled_genes_and_levels_are_reported(tmp_path):
    m = core_masks()
    named = dict(zip(m.gene_ids, m.gene_names, strict=True))
    first = m.gene_ids[1]  # b0351, left out of the data by write_dataset, written as b351; and b1241 by its name
    typo = first[0] + first[1:].lstrip("0")
    assert typo != first
    expr, phen, samples = lab_files(
        tmp_path, mislabelled=4, extra_columns=[(typo, 0.1), (named[m.gene_ids[0]].upper(), 0.2)]
    )
    out = tmp_path / "run"
    proc = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *QUICK,
        "--map",
        f"mu={core_biomass()}",
        "--group-by",
        "batch",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "4 of 30 phenotype rows have no expression profile and are left out" in err and f"{samples[0]}_x" in err
    described = f"{named[first]} ({first})" if named[first] != first else first
    assert f"{typo} ({described}?)" in err  # its number without leading zeros
    checks = json.loads((out / "report.json").read_text())["data"]["checks"]
    assert checks["phenotype_samples_without_expression"] == [f"{s}_x" for s in samples[:4]]  # all, by name
    assert {(c["column"], c["model_gene"]) for c in checks["suspect_gene_columns"]} == {(typo, described)}
    # a gene's name in other letter case is no suspect any more: it maps, by symbol
    assert checks["gene_labels"]["symbols_mapped"] == {named[m.gene_ids[0]].upper(): m.gene_ids[0]}
    # --strict: the first warning is the error, and nothing is written
    strict = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *QUICK,
        "--map",
        f"mu={core_biomass()}",
        "--group-by",
        "batch",
        "--strict",
        "--out",
        tmp_path / "strict",
    )
    one_line_error(strict, "--strict: stopped")
    assert not (tmp_path / "strict").exists()


def test_levels_given_as_fold_changes_are_pointed_out(tmp_path):
    expr, phen, _ = write_dataset(tmp_path)  # log2 levels (2-8) with references ref_1, ref_2
    m = core_masks()
    e = read_expression(expr, m.gene_ids)
    facts = data_checks(e, align(e.gene_ids, m.gene_ids), m, linked_genes(m), [])
    assert facts["values_look_like_levels"]["median"] > 2 and any("--reference" in w for w in facts["warnings"])
    assert data_checks(e, align(e.gene_ids, m.gene_ids), m, linked_genes(m), ["ref_1", "ref_2"])["warnings"] == []
    rng = np.random.default_rng(0)
    assert levels_not_fold_changes(rng.normal(0, 1, (20, 50))) is None  # fold changes centre on 0
    assert levels_not_fold_changes(np.abs(rng.normal(0, 1, (20, 50)))) is None  # |FC| has a median below 1


def test_suspect_gene_ids_but_not_genes_the_model_lacks():
    model = ["b0002", "b0003", "b1234"]
    found = suspect_gene_columns(["b003", "thrA", "B1234", "b9999", "b0240_2", "xyz"], model, ["thrA", "thrB", "abcD"])
    assert found == [
        ("b003", "b0003", "its number without leading zeros"),
        ("thrA", "b0002", "the name of b0002"),
        ("B1234", "b1234", "the same ID in other letter case"),
    ]


def test_predict_refuses_too_few_model_genes_and_flags_every_sample_of_a_partial_table(tmp_path):
    """Below half of the linked genes predict refuses (as the estimator's min_gene_share); between that and the
    training's share it predicts, warns, and flags every sample with the share (issue 37, item 4)."""
    expr, phen, _ = lab_files(tmp_path)
    out = tmp_path / "run"
    assert (
        sparsenet(
            "train",
            "--expression",
            expr,
            "--phenotypes",
            phen,
            *QUICK,
            "--phenotype",
            "mu",
            "--group-by",
            "batch",
            "--out",
            out,
        ).returncode
        == 0
    )
    rows = list(csv.reader(Path(expr).read_text().splitlines()))
    few = tmp_path / "few.csv"
    with open(few, "w", newline="") as fh:
        csv.writer(fh).writerows([r[:12] for r in rows])  # 11 of the model's genes
    one_line_error(
        sparsenet("predict", out / "model.h5", few, "-o", tmp_path / "p.csv", "--reference", "none"), "below 50 %"
    )
    assert not (tmp_path / "p.csv").exists()
    some = tmp_path / "some.csv"
    keep = int(0.8 * len(rows[0]))
    with open(some, "w", newline="") as fh:
        csv.writer(fh).writerows([r[:keep] for r in rows])  # ~80 % of the genes
    proc = sparsenet("predict", out / "model.h5", some, "-o", tmp_path / "q.csv", "--reference", "none")
    assert proc.returncode == 0, proc.stderr
    table = list(csv.DictReader((tmp_path / "q.csv").read_text().splitlines()))
    flag = next(k for k in table[0] if "flag" in k or "unusual" in k)
    assert table and all("% of the linked genes in the data (trained with" in r[flag] for r in table)


# ------------------------------------------------------------------ missing values as people write them
def test_missing_values_as_people_write_them(tmp_path):
    m = core_masks()
    p = tmp_path / "p.csv"
    p.write_text("sample,Growth Rate (1/hr)\na,0.5\nb,NA\nc,n.d.\nd,\ne,nan\nf,NaN\n")
    ph = read_phenotypes(DataSpec(phenotypes=p), m)
    assert ph.values[0, 0] == 0.5 and np.isnan(ph.values[1:, 0]).all() and ph.missing_cells == 5
    with pytest.raises(DataError, match=r"'NA' is not a number \(missing values are written as -;"):
        read_phenotypes(DataSpec(phenotypes=p, na_values=("-",)), m)
    p.write_text("sample,Growth Rate (1/hr)\na,0.5\nb,?\n")
    with pytest.raises(
        DataError,
        match=r"sample 'b': '\?' is not a number \(missing values are written as empty, NA, "
        r"NaN, nan, n.d.; --na-values changes the list\)",
    ):
        read_phenotypes(DataSpec(phenotypes=p), m)
    assert np.isnan(read_phenotypes(DataSpec(phenotypes=p, na_values=("", "?")), m).values[1, 0])


def test_na_values_option_reaches_the_phenotype_table(tmp_path):
    expr, phen, _ = lab_files(tmp_path)
    text = phen.read_text().splitlines()
    text[3] = ",".join(text[3].split(",")[:1] + ["-"] + text[3].split(",")[2:])
    phen.write_text("\n".join(text) + "\n")
    args = ["--expression", expr, "--phenotypes", phen, *QUICK, "--phenotype", "mu", "--group-by", "batch"]
    one_line_error(sparsenet("train", *args, "--out", tmp_path / "a"), "'-' is not a number")
    proc = sparsenet("train", *args, "--na-values", "empty,NA,-", "--out", tmp_path / "b")
    assert proc.returncode == 0, proc.stderr
    assert "29 samples with phenotypes" in proc.stderr


# ------------------------------------------------------------------ outputs that answer questions
@pytest.fixture(scope="module")
def run_b(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("b")
    expr, phen, _ = lab_files(tmp)
    out = tmp / "run"
    proc = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *without(QUICK, "--baselines"),
        "--phenotype",
        "mu",
        "--group-by",
        "batch",
        "--baselines",
        "mean",
        "--ensemble",
        "3",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_links_have_readout_weights_names_spread_and_true_zeros(run_b):
    out, _ = run_b
    rows = list(csv.DictReader(Path(out / "links.csv").read_text().splitlines()))
    m = core_masks()
    assert len(rows) == m.protein_phenotype.nnz
    names = dict(zip(m.gene_ids, m.gene_names, strict=True))
    assert all(r["gene_name"] == names[r["gene"]] for r in rows)
    assert {
        "readout_weight [mu]",
        "readout_weight_sd [mu]",
        "gene_to_target [mu]",
        "protein_phenotype_weight_sd",
    } <= set(rows[0]) and rows[0]["networks"] == "3"
    from sparsenet.training.checkpoint import load_checkpoint

    ck = load_checkpoint(out / "model.h5")
    heads = np.stack([ck.params[f"{p}head.weight"] for p in ("", "member1:", "member2:")])[:, 0, :]
    node = {p: i for i, p in enumerate(m.phenotype_ids)}
    for r in rows[:50]:
        column = heads[:, node[r["phenotype"]]]
        assert float(r["readout_weight [mu]"]) == pytest.approx(column.mean(), rel=1e-4, abs=1e-9)
        assert float(r["readout_weight_sd [mu]"]) == pytest.approx(column.std(ddof=1), rel=1e-3, abs=1e-9)
    weights = np.array([float(r["protein_phenotype_weight"]) for r in rows])
    tiny = np.abs(weights[weights != 0]).min()
    assert tiny >= 1e-6 * np.abs(weights).max() / 10  # nothing written at the round-off scale


def test_run_output_names_every_file_and_leaves_out_pretraining_for_b(run_b):
    out, proc = run_b
    report = json.loads((out / "report.json").read_text())
    written = {p.name for p in out.iterdir() if p.is_file()}
    assert set(report["files"]) == written
    for name in written:
        assert name in proc.stdout
    assert "pre-training" not in proc.stderr and "recon R2" not in proc.stdout
    assert "wired network, no pre-training (B)" in report["files"]["results_grouped_B.csv"]


def test_boolean_options_are_flags_in_help():
    help_text = sparsenet("train", "--help").stdout
    line = next(ln for ln in help_text.splitlines() if "--keep-zero" in ln)
    assert "<bool>" not in line
