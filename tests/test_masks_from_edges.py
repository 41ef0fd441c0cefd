"""sparsenet masks from-edges: any bipartite network as a masks file that sparsenet train reads."""

import csv
import json

import numpy as np
import pytest

from sparsenet.masks.edges import masks_from_edges
from sparsenet.masks.store import read_masks
from synthetic import core_masks, write_dataset
from conftest import FAST, one_line_error, sparsenet, without

pytestmark = pytest.mark.slow  # whole train runs on edge-list masks


def write_edges(path, rows, header=("regulator", "gene_id", "effect")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


def regulatory_network(genes, n_regulators=5, seed=0):
    """A random regulator -> gene network over ``genes`` (each regulator 4-12 targets)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_regulators):
        for g in rng.choice(genes, rng.integers(4, 13), replace=False):
            rows.append((f"Reg{r}", g, "+" if rng.random() < 0.6 else "-"))
    return rows


def test_masks_from_edges_links_each_node_to_its_inputs(tmp_path):
    rows = [("crp", "b0001", "+"), ("crp", "b0002", "-"), ("fnr", "b0002", "+"), ("arcA", "b0003", "+")]
    m = masks_from_edges(write_edges(tmp_path / "trn.csv", rows), source="gene_id", target="regulator")
    assert m.gene_ids == ["b0001", "b0002", "b0003"] and m.phenotype_ids == ["arcA", "crp", "fnr"]
    dense = m.protein_phenotype.toarray()
    expected = np.array([[0, 0, 1], [1, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(m.gene_protein.toarray(), np.eye(3))
    assert m.attrs["edges"] == 4 and m.attrs["source_column"] == "gene_id" and len(m.attrs["edges_sha256"]) == 64


def test_from_edges_then_train_on_the_regulatory_network(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data")
    genes = core_masks().gene_ids
    edges = write_edges(tmp_path / "trn.csv", regulatory_network(genes))
    masks = tmp_path / "trn_masks.h5"
    proc = sparsenet("masks", "from-edges", edges, "--source", "gene_id", "--target", "regulator", "-o", masks)
    assert proc.returncode == 0, proc.stderr
    m = read_masks(masks)
    assert len(m.phenotype_ids) == 5 and m.attrs["kind"] == "edge list"
    assert "5 nodes (regulator)" in proc.stdout
    # growth is no node of a regulatory network: the read-out head (the default preset) predicts it
    out = tmp_path / "run"
    args = without(FAST, "--masks") + [
        "--masks",
        masks,
        "--ensemble",
        "1",
        "--baselines",
        "ridge",
        "--phenotype",
        "Growth Rate (1/hr)",
    ]
    proc = sparsenet("train", "--expression", expr, "--phenotypes", phen, *args, "--out", out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert "grouped/B" in report["results"] and "grouped/baseline:ridge" in report["results"]  # the default: B
    proc = sparsenet(
        "train", "--expression", expr, "--phenotypes", phen, *args, "--head", "node", "--out", tmp_path / "node"
    )
    one_line_error(proc, "maps to no phenotype reaction")


@pytest.mark.parametrize(
    "rows,header,args,message",
    [
        (
            [("crp", "b1")],
            ("regulator", "gene_id"),
            ["--source", "gene", "--target", "regulator"],
            "no column 'gene' for --source; the columns are regulator, gene_id",
        ),
        ([], None, ["--source", "gene_id", "--target", "regulator"], "empty file"),
        ([], ("regulator", "gene_id"), ["--source", "gene_id", "--target", "regulator"], "a header but no edges"),
        (
            [("crp", "b1"), ("b2", "b2")],
            ("regulator", "gene_id"),
            ["--source", "gene_id", "--target", "regulator"],
            "line 3: self-loop 'b2' -> 'b2'",
        ),
        (
            [("crp", "b1"), ("fnr", "b1"), ("crp", "b1")],
            ("regulator", "gene_id"),
            ["--source", "gene_id", "--target", "regulator"],
            "line 4: duplicate edge 'b1' -> 'crp' (first on line 2)",
        ),
        (
            [("crp", "")],
            ("regulator", "gene_id"),
            ["--source", "gene_id", "--target", "regulator"],
            "line 2: empty 'gene_id'",
        ),
        (
            [("crp", "b1")],
            ("regulator", "gene_id"),
            ["--source", "gene_id", "--target", "gene_id"],
            "name the same column",
        ),
    ],
)
def test_bad_edge_lists_get_one_line(tmp_path, rows, header, args, message):
    edges = write_edges(tmp_path / "edges.csv", rows, header)
    out = tmp_path / "m.h5"
    proc = sparsenet("masks", "from-edges", edges, *args, "-o", out)
    one_line_error(proc, message)
    assert not out.exists()


def test_self_loops_can_be_allowed_and_tsv_is_read(tmp_path):
    path = tmp_path / "edges.tsv"
    path.write_text("a\tb\nx\tx\ny\tx\n")
    m = masks_from_edges(path, source="a", target="b", allow_self_loops=True)
    assert m.gene_ids == ["x", "y"] and m.phenotype_ids == ["x"] and m.protein_phenotype.nnz == 2


def test_two_wirings_combine_into_one(tmp_path):
    from sparsenet.masks.combine import combine
    from sparsenet.masks.edges import masks_from_edges
    from synthetic import core_masks

    core = core_masks()
    edges = tmp_path / "e.csv"
    genes = core.gene_ids[:5] + ["bNEW1", "bNEW2"]
    edges.write_text(
        "gene,regulator\n"
        + "".join(f"{g},R{i % 2}\n" for i, g in enumerate(genes))
        + f"{genes[0]},{core.phenotype_ids[0]}\n"
    )
    trn = masks_from_edges(edges, "gene", "regulator")
    both = combine(core, trn, ("core", "trn"))
    assert both.gene_ids == core.gene_ids + ["bNEW1", "bNEW2"]
    assert both.protein_phenotype.nnz == core.protein_phenotype.nnz + trn.protein_phenotype.nnz
    assert both.phenotype_ids[0] == f"core:{core.phenotype_ids[0]}"
    assert f"trn:{core.phenotype_ids[0]}" in both.phenotype_ids
    # every node keeps its genes
    pp = both.protein_phenotype.tocsr()
    row = both.phenotype_ids.index("R1")
    assert sorted(both.gene_ids[j] for j in pp.indices[pp.indptr[row] : pp.indptr[row + 1]]) == sorted(genes[1::2])
    assert both.gene_names[0] == core.gene_names[0]
