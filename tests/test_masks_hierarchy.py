"""Pathway hierarchies as N-level masks: levels, lifting, copying unequal depths, refusals, the file, the
command line; Reactome from the binn wheel (network) and iJO1366's genes -> reactions -> subsystems (slow)."""

import numpy as np
import pytest

from sparsenet.masks.hierarchy import (
    HierarchyError,
    build_hierarchy,
    feature_ids_of_table,
    hierarchy_from_files,
    read_annotations,
    read_hierarchy,
    write_hierarchy,
)
from conftest import one_line_error, sparsenet

# R -> P1 -> P2 -> P3 (depth 3), R -> Q1 -> Q2 -> Q3 -> Q4, S -> Q2 (Q2 is at depth 1 through S)
ANNOTATIONS = [("g1", "P3"), ("g2", "P3"), ("g3", "P2"), ("g4", "Q1"), ("g5", "Q4"), ("gX", "P3")]
RELATIONS = [
    ("R", "P1"),
    ("P1", "P2"),
    ("P2", "P3"),
    ("R", "Q1"),
    ("Q1", "Q2"),
    ("Q2", "Q3"),
    ("Q3", "Q4"),
    ("S", "Q2"),
]
FEATURES = ["g1", "g2", "g3", "g4", "g5", "g6"]


def links(h, k):
    """Level k+1's links as (input ID, node ID) pairs."""
    inputs = h.feature_ids if k == 0 else h.level_ids[k - 1]
    m = h.masks[k].tocoo()
    return {(inputs[c], h.level_ids[k][r]) for r, c in zip(m.row, m.col, strict=True)}


def test_three_levels_lift_deep_pathways_and_copy_shallow_ones():
    h = build_hierarchy(ANNOTATIONS, RELATIONS, FEATURES, 3, names={"Q1": "Q one"})
    assert h.level_ids == [["P2", "Q1#copy1", "Q3"], ["P1", "Q1", "Q2"], ["R", "S"]]
    # P3 (depth 3) is lifted to its ancestor at depth 2, P2; Q4 to Q3; Q1 (depth 1) copied down to level 1
    assert links(h, 0) == {("g1", "P2"), ("g2", "P2"), ("g3", "P2"), ("g4", "Q1#copy1"), ("g5", "Q3")}
    assert links(h, 1) == {("P2", "P1"), ("Q1#copy1", "Q1"), ("Q3", "Q2")}
    # Q2 sits at depth 1 (through S): its edge from Q1 (also depth 1) skips no level and is left out
    assert links(h, 2) == {("P1", "R"), ("Q1", "R"), ("Q2", "S")}
    assert h.attrs["copies"] == 1 and h.attrs["edges_skipping_levels"] == 1
    assert h.attrs["features_linked"] == 5  # g6 is annotated nowhere; gX is not in the data
    assert h.level_names[0][1] == "Q one (copy)" and h.level_names[1][1] == "Q one"
    assert [r["nodes"] for r in h.summary()] == [3, 3, 2] and [r["copies"] for r in h.summary()] == [1, 0, 0]


def test_every_feature_reaches_the_top_through_every_level():
    for levels in (1, 2, 3, 4, 5):
        h = build_hierarchy(ANNOTATIONS, RELATIONS, FEATURES, levels)
        reach = h.masks[0].astype(np.int64)
        for m in h.masks[1:]:
            reach = m.astype(np.int64) @ reach
        assert (reach.toarray().sum(axis=0) > 0).tolist() == [True] * 5 + [False], levels
        for k, m in enumerate(h.masks[1:], start=1):  # no node is left without an input or a parent
            assert (np.diff(m.tocsc().indptr) > 0).all() and (np.diff(m.tocsr().indptr) > 0).all(), (levels, k)


def test_deep_levels_copy_the_roots_own_branches_down():
    h = build_hierarchy(ANNOTATIONS, RELATIONS, FEATURES, 5)
    assert h.level_sizes()[-1] == 2 and "Q1#copy1" in h.level_ids[0] and "Q1#copy3" in h.level_ids[2]
    # nothing is deeper than level 1 (depth 4) now: no lifting; Q4 (depth 3 through S) is copied once
    assert ("g5", "Q4#copy1") in links(h, 0) and ("Q4#copy1", "Q4") in links(h, 1) and "P3" in h.level_ids[1]


def test_a_cycle_is_refused_naming_it():
    with pytest.raises(HierarchyError, match=r"cycle: (P1 -> P2 -> P1|P2 -> P1 -> P2)"):
        build_hierarchy(ANNOTATIONS, RELATIONS + [("P2", "P1")], FEATURES, 3)


def test_annotations_matching_no_feature_are_refused_with_both_id_styles():
    with pytest.raises(HierarchyError, match=r"no pathway annotates any of the data's 2 features .*'g1'.*'P12345'"):
        build_hierarchy(ANNOTATIONS, RELATIONS, ["P12345", "Q99999"], 3)


def test_self_loops_and_bad_levels_are_refused():
    with pytest.raises(HierarchyError, match="to itself"):
        build_hierarchy(ANNOTATIONS, RELATIONS + [("R", "R")], FEATURES, 3)
    with pytest.raises(HierarchyError, match="levels must be 1 or more"):
        build_hierarchy(ANNOTATIONS, RELATIONS, FEATURES, 0)


def test_files_gmt_headers_species_and_the_round_trip(tmp_path):
    (tmp_path / "ann.tsv").write_text("feature\tpathway\n" + "".join(f"{f}\t{p}\n" for f, p in ANNOTATIONS))
    (tmp_path / "rel.csv").write_text("parent,child\n# a comment\n" + "".join(f"{a},{b}\n" for a, b in RELATIONS))
    h = hierarchy_from_files(tmp_path / "ann.tsv", FEATURES, 3, tmp_path / "rel.csv")
    assert h.level_ids == build_hierarchy(ANNOTATIONS, RELATIONS, FEATURES, 3).level_ids
    write_hierarchy(tmp_path / "h.h5", h)
    back = read_hierarchy(tmp_path / "h.h5")
    assert back.level_ids == h.level_ids and back.level_names == h.level_names and back.feature_ids == FEATURES
    assert all((a != b).nnz == 0 for a, b in zip(back.masks, h.masks, strict=True))
    assert back.attrs["relations_sha256"] == h.attrs["relations_sha256"]

    (tmp_path / "sets.gmt").write_text("SET_A\tfirst set\tg1\tg2\nSET_B\t\tg3\tg9\n")
    one = hierarchy_from_files(tmp_path / "sets.gmt", FEATURES, 3)  # no relations: one level
    assert one.n_levels == 1 and one.level_ids == [["SET_A", "SET_B"]] and one.level_names == [["first set", "SET_B"]]

    (tmp_path / "react.txt").write_text(
        "P1\tR-HSA-1\turl\tHuman path\tTAS\tHomo sapiens\nP1\tR-MMU-1\turl\tMouse path\tIEA\tMus musculus\n"
    )
    pairs, names = read_annotations(tmp_path / "react.txt", "HSA")
    assert pairs == [("P1", "R-HSA-1")] and names["R-HSA-1"] == "Human path"
    with pytest.raises(HierarchyError, match="no pathway ID starts with 'R-XYZ-'"):
        read_annotations(tmp_path / "react.txt", "XYZ")


def test_restricted_to_other_features_keeps_the_levels():
    h = build_hierarchy(ANNOTATIONS, RELATIONS, FEATURES, 3)
    r = h.restricted_to(["g5", "new", "g1"])
    assert r.masks[0].shape == (3, 3) and r.masks[0][:, 1].nnz == 0
    np.testing.assert_array_equal(r.masks[0][:, 0].toarray(), h.masks[0][:, 4].toarray())


def test_feature_ids_of_a_table_in_either_orientation(tmp_path):
    (tmp_path / "rows.csv").write_text("Protein,s1,s2\nP1,1,2\nP2,3,4\nP1,5,6\n")
    assert feature_ids_of_table(tmp_path / "rows.csv") == ["P1", "P2"]
    (tmp_path / "cols.tsv").write_text("sample\tP1\tP2\ns1\t1\t2\n")
    assert feature_ids_of_table(tmp_path / "cols.tsv", samples_as_rows=True) == ["P1", "P2"]


def test_command_line_builds_shows_and_refuses(tmp_path):
    (tmp_path / "ann.csv").write_text("".join(f"{f},{p}\n" for f, p in ANNOTATIONS))
    (tmp_path / "rel.csv").write_text("".join(f"{a},{b}\n" for a, b in RELATIONS))
    (tmp_path / "data.csv").write_text("gene,s1,s2\n" + "".join(f"{g},1,2\n" for g in FEATURES))
    args = [
        "masks",
        "hierarchy",
        tmp_path / "ann.csv",
        "--relations",
        tmp_path / "rel.csv",
        "--data",
        tmp_path / "data.csv",
        "--levels",
        "3",
        "-o",
        tmp_path / "h.h5",
    ]
    done = sparsenet(*args)
    assert done.returncode == 0, done.stderr
    shown = sparsenet("masks", "show", tmp_path / "h.h5")
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [r[:3] for r in rows] == [["1", "3", "6"], ["2", "3", "3"], ["3", "2", "3"]]
    assert "5 of 6 features linked, 3 levels" in shown.stdout
    (tmp_path / "rel.csv").write_text("".join(f"{a},{b}\n" for a, b in RELATIONS + [("P2", "P1")]))
    one_line_error(sparsenet(*args[:-1], tmp_path / "h2.h5"), "has a cycle")
    assert not (tmp_path / "h2.h5").exists()


@pytest.mark.slow
@pytest.mark.network
def test_reactome_over_binns_example_proteins():
    from sparsenet.masks.reactome import reactome_hierarchy
    from sparsenet.masks.store import shipped_file

    features = feature_ids_of_table(shipped_file("binn_example/sample_datamatrix.csv"))
    h = reactome_hierarchy(features, 4, progress=lambda m: None)
    assert h.n_levels == 4 and len(h.level_ids[-1]) == 28  # Reactome's human top-level pathways over these data
    assert all(i.startswith("R-HSA-") for ids in h.level_ids for i in ids)
    assert h.attrs["features_linked"] > 400


@pytest.mark.slow
def test_ijo1366_genes_reactions_subsystems():
    from sparsenet.masks.model_io import load_model
    from sparsenet.masks.subsystems import subsystem_hierarchy

    model, _, _ = load_model("iJO1366")
    h = subsystem_hierarchy(model)
    assert h.n_levels == 2 and h.level_sizes()[1] > 30
    reaction = h.level_ids[0].index("PGI")
    assert "b4025" in {h.feature_ids[c] for c in h.masks[0][reaction].indices}  # pgi
    glycolysis = h.level_ids[1].index("Glycolysis/Gluconeogenesis")
    assert h.masks[1][glycolysis, reaction] == 1
