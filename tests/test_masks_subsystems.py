"""sparsenet masks subsystems: one node per pathway of the model, linked to its reactions' genes."""

import cobra
import numpy as np
import pytest

from sparsenet.masks.store import read_masks
from sparsenet.masks.subsystems import subsystem_masks
from conftest import one_line_error, sparsenet

pytestmark = pytest.mark.slow  # a COBRA model read and a train run


def pathway_model(tmp_path=None):
    """Five reactions in three subsystems (one with a single gene, one unassigned)."""
    model = cobra.Model("toy")
    a, b, c = (cobra.Metabolite(x, compartment="c") for x in "abc")
    spec = [
        ("R1", "Glycolysis", "g1 and g2"),
        ("R2", "Glycolysis", "g2 or g3"),
        ("R3", "TCA cycle", "g4"),
        ("R4", "TCA cycle", "g5"),
        ("R5", "Lonely", "g6"),
        ("R6", "Unassigned", "g7"),
        ("R7", "", "g8"),
    ]
    for rid, subsystem, rule in spec:
        r = cobra.Reaction(rid, subsystem=subsystem)
        r.add_metabolites({a: -1, b: 1})
        model.add_reactions([r])
        r.gene_reaction_rule = rule
    model.genes.get_by_id("g1").name = "thrA"
    return model


def test_each_subsystem_links_the_genes_of_its_reactions():
    m = subsystem_masks(pathway_model(), model_file="toy.xml", min_genes=2)
    assert m.phenotype_ids == ["Glycolysis", "TCA cycle"]  # 'Lonely' has one gene; unassigned dropped
    assert m.gene_ids == ["g1", "g2", "g3", "g4", "g5"]
    np.testing.assert_array_equal(m.protein_phenotype.toarray(), [[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]])
    np.testing.assert_array_equal(m.gene_protein.toarray(), np.eye(5))
    assert m.gene_label(0) == "thrA" and m.gene_label(1) == ""
    assert m.attrs["subsystems_too_small"] == 1 and m.attrs["kind"] == "subsystems"
    assert subsystem_masks(pathway_model(), min_genes=1).phenotype_ids == ["Glycolysis", "Lonely", "TCA cycle"]
    with pytest.raises(ValueError, match="--min-genes must be at least 1, got 0"):  # a node with no gene
        subsystem_masks(pathway_model(), min_genes=0)


def test_a_model_without_subsystems_is_one_clear_error():
    model = pathway_model()
    for r in model.reactions:
        r.subsystem = ""
    with pytest.raises(ValueError, match="no reaction has a subsystem"):
        subsystem_masks(model, model_file="toy.xml")


def test_cli_writes_masks_that_read_back(tmp_path):
    path = tmp_path / "toy.json"
    cobra.io.save_json_model(pathway_model(), str(path))
    out = tmp_path / "subsystems.h5"
    proc = sparsenet("masks", "subsystems", path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "5 genes, 2 subsystems, 5 links" in proc.stdout
    m = read_masks(out)
    assert m.phenotype_ids == ["Glycolysis", "TCA cycle"] and len(m.attrs["model_sha256"]) == 64
    cobra_core = sparsenet("masks", "subsystems", "e_coli_core", "-o", tmp_path / "core.h5")
    one_line_error(cobra_core, "no reaction has a subsystem")
    assert not (tmp_path / "core.h5").exists()
