"""sparsenet masks build --level reactions: gene -> reaction (GPR) -> phenotype, reaching the same genes as
the paper's masks, and trainable (a masked gene -> reaction layer instead of the one-to-one one)."""

import numpy as np
import pytest

from sparsenet.masks.build import build_masks
from sparsenet.masks.model_io import load_model
from sparsenet.masks.screen import ScreenSettings
from sparsenet.masks.store import is_identity, read_masks
from sparsenet.training.network import build_autoencoder
from conftest import sparsenet

pytestmark = pytest.mark.slow  # a COBRA knockout screen and a train run


@pytest.fixture(scope="module")
def core():
    model, _, _ = load_model("e_coli_core")
    return (
        build_masks(model, ScreenSettings(), processes=1),
        build_masks(model, ScreenSettings(), processes=1, level="reactions"),
        model,
    )


def test_reactions_reach_the_same_genes_as_the_gene_level_masks(core):
    genes, reactions, model = core
    assert reactions.gene_ids == genes.gene_ids and reactions.phenotype_ids == genes.phenotype_ids
    assert not is_identity(reactions.gene_protein) and reactions.attrs["level"] == "reactions"
    reach = (reactions.protein_phenotype @ reactions.gene_protein) > 0
    np.testing.assert_array_equal(reach.toarray(), genes.protein_phenotype.toarray() > 0)
    # every middle node is a reaction wired to the genes of its rule
    col = {g: i for i, g in enumerate(reactions.gene_ids)}
    for k, rid in enumerate(reactions.protein_ids):
        expected = sorted(col[g.id] for g in model.reactions.get_by_id(rid).genes if g.id in col)
        assert reactions.gene_protein[k].indices.tolist() == expected


def test_a_reaction_level_network_is_gene_reaction_phenotype(core):
    _, reactions, _ = core
    net = build_autoencoder(reactions, "B", seed=0)
    assert net.n_encoder == 2
    x = np.random.default_rng(0).normal(size=(4, len(reactions.gene_ids))).astype(np.float32)
    assert net.forward(x).shape == x.shape


def test_cli_level_option(tmp_path):
    out = tmp_path / "r.h5"
    proc = sparsenet("masks", "build", "e_coli_core", "--level", "reactions", "--processes", "1", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "reaction->phenotype links over" in proc.stdout
    assert read_masks(out).attrs["level"] == "reactions"
    bad = sparsenet("masks", "build", "e_coli_core", "--level", "proteins", "-o", tmp_path / "x.h5")
    assert bad.returncode == 1 and "--level must be one of genes, reactions" in bad.stderr
