"""sparsenet.data.genes: gene labels as labs write them (IDs, symbols, any case) mapped to the masks' IDs, with
ambiguous symbols, genes the model lacks, misspellings and duplicates named; and what a degenerate phenotype
table, a ';'-separated file or a decimal comma get told."""

import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet.data.genes import map_gene_labels, resolve_expression_genes
from sparsenet.data.tables import DataError, Expression, read_rows, read_text_table
from sparsenet.masks.store import Masks, read_masks, shipped_mask_path

from synthetic import CORE_MASKS, core_masks, write_dataset
from conftest import one_line_error, sparsenet


def tiny_masks():
    genes, names = ["g1", "g2", "g3", "g4"], ["abcA", "abcB", "dup", "Dup"]
    return Masks(
        genes,
        list(genes),
        ["p1"],
        ["p1"],
        sp.identity(4, format="csr"),
        sp.csr_matrix(np.ones((1, 4), dtype=np.int8)),
        gene_names=names,
    )


def test_ids_and_symbols_in_any_case_map_and_ambiguous_symbols_are_left_out():
    m = map_gene_labels(["G1", "abca", "ABCB", "dup", "abxA", "g2"], tiny_masks())
    assert m.model_ids == ["g1", "g1", "g2", None, None, "g2"]
    assert m.how == ["id", "symbol", "symbol", None, None, "id"]
    assert m.ambiguous == {"dup": ["g3", "g4"]}  # one symbol (any case), two genes: named, left out
    assert m.unrecognised == [("abxA", "abcA (g1)")]  # one edit from a symbol
    assert m.duplicates == {"g1": ["G1", "abca"], "g2": ["ABCB", "g2"]}
    assert map_gene_labels(["abcA", "g1"], tiny_masks(), mode="id").model_ids == [None, "g1"]
    assert map_gene_labels(["abcA", "g1"], tiny_masks(), mode="symbol").model_ids == ["g1", None]
    said = " ".join(m.warnings("x.tsv"))
    assert "dup (g3/g4)" in said and "abxA (abcA (g1)?)" in said and "g1 as G1 and abca" in said


def test_the_genome_table_tells_a_gene_the_model_lacks_from_a_misspelling():
    masks = read_masks(shipped_mask_path("iJO1366"))
    m = map_gene_labels(["zwf", "zfw", "rpoS", "b003", "thrA", "OD600"], masks)
    assert m.model_ids[0] == "b1852" and m.model_ids[4] == "b0002"
    assert m.not_in_model == ["rpoS"]  # a real E. coli gene the model does not hold: no warning
    assert dict(m.unrecognised) == {"zfw": "zwf (b1852)", "b003": "thrB (b0003)", "OD600": None}


def test_duplicate_rows_are_averaged_kept_first_or_refused():
    masks = tiny_masks()
    values = np.array([[1.0, 2.0, 3.0, 9.0], [5.0, 6.0, 7.0, 9.0]])
    expr = Expression("x.tsv", ["s1", "s2"], ["g1", "abcA", "g2", "other"], values)
    mean, mapping = resolve_expression_genes(expr, masks)
    assert mean.gene_ids == ["g1", "g2", "other"] and np.allclose(mean.values[:, 0], [1.5, 5.5])
    first, _ = resolve_expression_genes(expr, masks, duplicates="first")
    assert np.allclose(first.values[:, 0], [1.0, 5.0])
    with pytest.raises(DataError, match="1 genes appear more than once: g1 as g1 and abcA"):
        resolve_expression_genes(expr, masks, duplicates="error")
    with pytest.raises(DataError, match="no gene label maps to a model gene"):
        resolve_expression_genes(Expression("x.tsv", ["s1"], ["a", "b"], np.zeros((1, 2))), masks)


def test_semicolon_files_and_decimal_commas_get_a_hint(tmp_path):
    semi = tmp_path / "p.csv"
    semi.write_text("sample;mu;project\ns1;0,5;a\n")
    with pytest.raises(DataError, match="looks ';'-separated"):
        read_rows(semi)
    comma = tmp_path / "e.tsv"
    comma.write_text("gene\ts1\nb0002\t0,5\n")
    with pytest.raises(DataError, match=r"decimal comma\? write numbers with a '\.' \(0\.5\)"):
        read_text_table(comma)


def _phenotype_file(path, values, projects):
    expr, _, truth = write_dataset(path.parent / "data", n_samples=len(values))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample", "mu", "project"])
        for s, v, p in zip(truth["samples"], values, projects, strict=True):
            w.writerow([s, v, p])
    return expr


@pytest.mark.parametrize(
    "values, projects, cv, said",
    [
        ([0.5] * 12, ["a", "b", "c"] * 4, "grouped", "phenotype column 'mu' has one value (0.5) in all 12"),
        (list(np.linspace(0.1, 1, 12)), ["a"] * 12, "grouped", "column 'project' has one group ('a')"),
        (list(np.linspace(0.1, 1, 5)), list("abcde"), "kfold", "5 labelled samples: too few for kfold CV"),
    ],
    ids=["constant", "one-group", "too-few"],
)
def test_degenerate_phenotypes_are_one_line_errors_and_write_nothing(tmp_path, values, projects, cv, said):
    phen = tmp_path / "phen.csv"
    expr = _phenotype_file(phen, values, projects)
    out = tmp_path / "run"
    proc = sparsenet(
        "train",
        "--masks",
        CORE_MASKS,
        "--expression",
        expr,
        "--phenotypes",
        phen,
        "--map",
        f"mu={next(p for p in core_masks().phenotype_ids if 'biomass' in p.lower())}",
        "--reference",
        "ref_1,ref_2",
        "--cv",
        cv,
        "--folds",
        "5",
        "--baselines",
        "none",
        "--out",
        out,
    )
    one_line_error(proc, said)
    assert not out.exists()


def test_masks_show_finds_growth_and_writes_the_gene_table(tmp_path):
    table = tmp_path / "genes.csv"
    proc = sparsenet("masks", "show", "--find", "growth", "--gene-table", table)
    assert proc.returncode == 0, proc.stderr
    assert "phenotypes matching 'growth' (2)" in proc.stdout and "BIOMASS_Ec_iJO1366_core_53p95M" in proc.stdout
    rows = list(csv.reader(Path(table).read_text().splitlines()))
    assert rows[0] == ["gene_id", "symbol", "phenotypes_linked"] and ["b1852", "zwf"] in [r[:2] for r in rows]
    assert len(rows) == 1367 and b"\r" not in table.read_bytes()


def test_masks_that_name_no_gene_are_read_by_id(tmp_path):
    """An edge list's masks carry no gene names: the vocabulary and the suspect-column check read them by ID."""
    from sparsenet.data.checks import suspect_gene_columns
    from sparsenet.data.genes import GeneVocabulary
    from sparsenet.masks.edges import masks_from_edges

    (tmp_path / "trn.csv").write_text("regulator,gene_id\ncrp,b0002\nfnr,b0003\ncrp,b0004\n")
    masks = masks_from_edges(tmp_path / "trn.csv", "gene_id", "regulator")
    assert masks.gene_names == []
    vocabulary = GeneVocabulary(masks)
    assert vocabulary.symbol["b0002"] == "thrA"  # the genome's own table names what the masks leave unnamed
    suspects = suspect_gene_columns(["b0002", "b003"], masks.gene_ids)  # no names: a spelling check only
    assert [s[:2] for s in suspects] == [("b003", "b0003")]
