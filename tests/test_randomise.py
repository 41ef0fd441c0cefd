"""Null wirings preserve what they claim: gene permutations keep the topology, edge rewiring keeps every
node's degree and the linked genes, density keeps the number of links; draws are seeded and carry
their provenance."""

import numpy as np
import pytest
import scipy.sparse as sp

from sparsenet.masks.randomise import KINDS, curveball, moved_share, randomise
from sparsenet.masks.store import read_masks, shipped_mask_path, write_masks

from synthetic import core_masks


@pytest.fixture(scope="module")
def ijo():
    return read_masks(shipped_mask_path("iJO1366"))


def degrees(m):
    m = sp.csr_matrix(m)
    return m.getnnz(axis=1), m.getnnz(axis=0)


def test_gene_permutation_keeps_the_topology_on_other_genes(ijo):
    r = randomise(ijo, "genes", seed=1, draw=3)
    rows, cols = degrees(ijo.protein_phenotype)
    r_rows, r_cols = degrees(r.protein_phenotype)
    np.testing.assert_array_equal(r_rows, rows)  # each phenotype keeps its number of genes
    assert sorted(r_cols) == sorted(cols)  # the same multiset of gene degrees, on other genes
    assert not np.array_equal(r_cols, cols)
    # the same topology: node-by-node overlaps (shared genes) are a permutation-invariant
    a, b = sp.csr_matrix(ijo.protein_phenotype, dtype=np.int32), sp.csr_matrix(r.protein_phenotype, dtype=np.int32)
    np.testing.assert_array_equal((a @ a.T).toarray(), (b @ b.T).toarray())
    assert r.gene_ids == ijo.gene_ids and r.attrs["null_model"] == "genes" and r.attrs["null_links_moved"] > 0.8


def test_edge_rewiring_keeps_every_degree_and_the_linked_genes(ijo):
    r = randomise(ijo, "edges", seed=1, draw=3)
    for before, after in zip(degrees(ijo.protein_phenotype), degrees(r.protein_phenotype), strict=True):
        np.testing.assert_array_equal(after, before)
    assert r.protein_phenotype.nnz == ijo.protein_phenotype.nnz and r.protein_phenotype.max() == 1
    moved = r.attrs["null_links_moved"]
    assert 0.3 < moved < 0.7  # enough trades to move about half the links (the rest are forced by degrees)
    assert moved == pytest.approx(moved_share(ijo.protein_phenotype, r.protein_phenotype))


def test_density_keeps_the_number_of_links(ijo):
    r = randomise(ijo, "density", seed=1, draw=3)
    assert r.protein_phenotype.nnz == ijo.protein_phenotype.nnz
    assert r.protein_phenotype.shape == ijo.protein_phenotype.shape
    assert r.protein_phenotype.max() == 1
    assert not np.array_equal(degrees(r.protein_phenotype)[0], degrees(ijo.protein_phenotype)[0])


def test_curveball_keeps_margins_of_any_matrix():
    rng = np.random.default_rng(0)
    m = sp.csr_matrix((rng.random((30, 50)) < 0.2).astype(np.int8))
    out = curveball(m, np.random.default_rng(1))
    for before, after in zip(degrees(m), degrees(out), strict=True):
        np.testing.assert_array_equal(after, before)
    assert moved_share(m, out) > 0.3


@pytest.mark.parametrize("kind", KINDS)
def test_draws_are_seeded_distinct_and_written_with_provenance(tmp_path, kind):
    m = core_masks()
    a, b, c = randomise(m, kind, 7, 1), randomise(m, kind, 7, 1), randomise(m, kind, 7, 2)
    assert (a.protein_phenotype != b.protein_phenotype).nnz == 0
    assert (a.protein_phenotype != c.protein_phenotype).nnz > 0
    write_masks(tmp_path / "null.h5", a)
    back = read_masks(tmp_path / "null.h5")
    assert back.attrs["null_model"] == kind and back.attrs["null_seed"] == 7 and back.attrs["null_draw"] == 1
    assert (back.protein_phenotype != a.protein_phenotype).nnz == 0 and back.gene_ids == m.gene_ids
    with pytest.raises(ValueError, match="null model must be one of genes, edges, density"):
        randomise(m, "labels", 0, 0)
