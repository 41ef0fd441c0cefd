"""The label-free growth ranking (`sparsenet rank`, issue 37 item 6): ranks within groups, E-Flux's own growth,
no label read, and its recorded null stated."""

import numpy as np

from conftest import core_masks, one_line_error, sparsenet
from synthetic import CORE_MASKS
from test_lab_spreadsheet import lab_sheets


def test_ranks_within_groups_put_the_fastest_first_and_skip_what_did_not_solve():
    from sparsenet.studies.growth_ranking import ranks_within

    values = np.array([0.2, 0.5, np.nan, 0.5, 0.9, 0.1])
    groups = ["a", "a", "a", "b", "b", "a"]
    assert ranks_within(values, groups).tolist() == [2, 1, 0, 2, 1, 3]
    assert ranks_within(np.array([1.0, 1.0, 0.5]), ["x"] * 3).tolist() == [1, 1, 3]  # ties share the better rank


def test_rank_is_eflux_growth_ranked_within_groups_and_reads_no_label(tmp_path):
    from sparsenet.data.genes import GeneVocabulary, resolve_expression_genes
    from sparsenet.data.tables import align, read_expression
    from sparsenet.masks.model_io import load_model
    from sparsenet.studies.growth_ranking import eflux_growth

    expression, samples = lab_sheets(tmp_path)
    args = ["rank", "--expression", expression, "--samples", samples, "--group-by", "batch", "--masks", CORE_MASKS]
    done = sparsenet(*args, "-o", tmp_path / "r.csv")
    assert done.returncode == 0, done.stderr
    rows = [r.split(",") for r in (tmp_path / "r.csv").read_text().splitlines()]
    assert rows[0] == ["sample_id", "group", "eflux_growth", "rank_in_group", "group_size", "status"]
    body = rows[1:]
    growth = np.array([float(r[2]) for r in body])
    for g in {r[1] for r in body}:
        mine = [r for r in body if r[1] == g]
        order = sorted(mine, key=lambda r: -float(r[2]))
        assert [int(r[3]) for r in order] == list(range(1, len(mine) + 1))  # 1: the fastest of its group
    masks = core_masks()
    vocabulary = GeneVocabulary(masks)
    expr, _ = resolve_expression_genes(read_expression(expression, vocabulary.labels()), masks, vocabulary=vocabulary)
    al = align(expr.gene_ids, masks.gene_ids)
    levels = np.full((expr.n_samples, len(masks.gene_ids)), np.nan)
    levels[:, al.columns >= 0] = expr.values[:, al.columns[al.columns >= 0]]
    own, _, _ = eflux_growth(load_model("e_coli_core")[0], masks.gene_ids, levels)
    np.testing.assert_allclose(growth, own, rtol=1e-5)
    assert growth.std() > 0  # the samples' expression moves E-Flux's growth
    # no label used: other growth rates in the samples table give the same ranking, byte for byte
    table = samples.read_bytes().decode("cp1252").splitlines()
    changed = [table[0]] + [",".join([r.split(",")[0], "0.1", *r.split(",")[2:]]) for r in table[1:]]
    samples.write_bytes(("\n".join(changed) + "\n").encode("cp1252"))
    again = sparsenet(*args, "-o", tmp_path / "again.csv")
    assert again.returncode == 0 and (tmp_path / "again.csv").read_bytes() == (tmp_path / "r.csv").read_bytes()
    one_line_error(
        sparsenet(*args[:-4], "--group-by", "lab", "--masks", CORE_MASKS, "-o", tmp_path / "x.csv"),
        "no column 'lab' (--group-by)",
    )


def test_the_recorded_null_of_the_ijo1366_ranking_is_stated():
    """benchmarks/eflux_ranking_null.py recorded PRECISE's ranking against 50 gene-permuted mappings; rank states
    it, with the network's within-project r beside it."""
    from sparsenet.masks.store import read_masks, shipped_mask_path
    from sparsenet.report.evidence import ranking_statement
    from sparsenet.training.checkpoint import mask_fingerprint

    said = ranking_statement(mask_fingerprint(read_masks(shipped_mask_path("iJO1366"))))
    assert said.startswith("recorded: PRECISE") and "50 gene-permuted mappings" in said and "~0.58" in said
    assert "not tested" in ranking_statement("0" * 16)
