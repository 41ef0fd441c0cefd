"""Loaders aligned by gene ID, normalisation, phenotype mapping, streaming, spline synthesis."""

import h5py
import numpy as np
import pytest

from sparsenet.data.dataset import load_dataset
from sparsenet.data.normalise import ModelInput, fit_reference
from sparsenet.data.phenotypes import read_phenotypes
from sparsenet.data.spec import DataSpec
from sparsenet.data.spline import spline_pairs
from sparsenet.data.stream import batches
from sparsenet.data.tables import DataError, align, read_expression

from synthetic import core_masks, write_dataset


def test_csv_orientation_detected_and_forced(tmp_path):
    m = core_masks()
    a, _, truth = write_dataset(tmp_path / "a", genes_by_samples=True)
    b, _, _ = write_dataset(tmp_path / "b", genes_by_samples=False)
    ea, eb = read_expression(a, m.gene_ids), read_expression(b, m.gene_ids)
    assert ea.sample_ids == eb.sample_ids == truth["samples"] and ea.gene_ids == truth["genes"]
    np.testing.assert_allclose(ea.values, eb.values)
    np.testing.assert_allclose(ea.values, truth["levels"], atol=1e-5)
    forced = read_expression(a, m.gene_ids, orientation="samples-by-genes")  # wrong on purpose
    assert forced.sample_ids == truth["genes"]


def test_alignment_by_id_not_position(tmp_path):
    m = core_masks()
    path, _, truth = write_dataset(tmp_path)
    expr = read_expression(path, m.gene_ids)
    al = align(expr.gene_ids, m.gene_ids)
    assert len(al.missing) == 2 and al.unused == 3
    x = ModelInput(expr, al, fit_reference(expr, al, [])).all()
    g = m.gene_ids[5]
    j = truth["genes"].index(g)
    np.testing.assert_allclose(x[:, 5], np.clip(truth["levels"][:, j], -10, 10) / 10, atol=2e-6)
    assert (x[:, [m.gene_ids.index(g) for g in al.missing]] == 0).all()


def test_log2_fold_change_against_references_clipped_and_scaled(tmp_path):
    m = core_masks()
    path, _, truth = write_dataset(tmp_path)
    expr = read_expression(path, m.gene_ids)
    al = align(expr.gene_ids, m.gene_ids)
    expr.values[5, 0] = 40.0  # far above the clip
    x = ModelInput(expr, al, fit_reference(expr, al, ["ref_1", "ref_2"])).all()
    col = m.gene_ids.index(truth["genes"][0])
    ref = expr.values[:2, 0].mean()
    expected = np.clip(expr.values[:, 0] - ref, -10, 10) / 10
    np.testing.assert_allclose(x[:, col], expected, rtol=1e-5, atol=1e-6)
    assert x[5, col] == 1.0
    with pytest.raises(DataError, match="reference sample 'nope'"):
        fit_reference(expr, al, ["nope"])


def test_hdf5_and_h5ad_read_like_csv(tmp_path):
    m = core_masks()
    path, _, truth = write_dataset(tmp_path)
    csv_expr = read_expression(path, m.gene_ids)
    s = np.array([v.encode() for v in csv_expr.sample_ids])
    g = np.array([v.encode() for v in csv_expr.gene_ids])
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f["expression"], f["sample_ids"], f["gene_ids"] = csv_expr.values, s, g
    with h5py.File(tmp_path / "e.h5ad", "w") as f:
        x = csv_expr.values.copy()
        x[x < 4] = 0
        import scipy.sparse as sp

        csr = sp.csr_matrix(x)
        grp = f.create_group("X")
        grp.attrs["encoding-type"], grp.attrs["shape"] = "csr_matrix", x.shape
        grp["data"], grp["indices"], grp["indptr"] = csr.data, csr.indices, csr.indptr
        for name, ids in (("obs", s), ("var", g)):
            o = f.create_group(name)
            o.attrs["_index"] = "_index"
            o["_index"] = ids
    h5 = read_expression(tmp_path / "e.h5", m.gene_ids)
    rows = np.array([7, 2, 2, 30])
    np.testing.assert_array_equal(h5.take(rows), csv_expr.values[rows])
    ad = read_expression(tmp_path / "e.h5ad", m.gene_ids)
    np.testing.assert_array_equal(ad.take(rows), x[rows])
    assert h5.values is None and ad.values is None  # read on demand, not loaded


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty table"),
        ("gene,a,b\nb0001,1,2\nb0002,1\n", "ragged table: line 3"),
        ("gene,a,b\nb0001,1,nan\n", "NaN or infinite"),
        ("gene,a,b\nb0001,1,\n", "missing, NaN or infinite"),
        ("gene,a,a\nb0001,1,2\n", "duplicate sample ID 'a'"),
        ("gene,a,b\nzzz,1,2\n", "no gene IDs or symbols in common"),
        (
            "gene,a,b\nb0001,1,x2\n",
            r"line 2, column 'b': 'x2' is not a number \(missing values are written as empty, NA",
        ),
        ("gene,a,b\nb0001,1,NA\n", r"missing, NaN or infinite value for sample 'b'.*impute or drop"),
    ],
)
def test_bad_expression_tables(tmp_path, content, message):
    m = core_masks()
    p = tmp_path / "bad.csv"
    p.write_text(content.replace("b0001", m.gene_ids[0]).replace("b0002", m.gene_ids[1]))
    with pytest.raises(DataError, match=message):
        read_expression(p, m.gene_ids)


def test_corrupt_hdf5_is_one_clear_error(tmp_path):
    p = tmp_path / "x.h5"
    p.write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(DataError, match="corrupt HDF5"):
        read_expression(p, core_masks().gene_ids)


def test_phenotypes_map_growth_rate_and_drop_zeros(tmp_path):
    m = core_masks()
    p = tmp_path / "p.csv"
    p.write_text("id,Growth Rate (1/hr),project,EX_ac_e\na,0.5,x,1.0\nb,0,y,\nc,,x,2\n")
    ph = read_phenotypes(DataSpec(phenotypes=p, group_by="project"), m)
    biomass = [x for x in m.phenotype_ids if "biomass" in x.lower()][0]
    assert dict(zip(ph.columns, ph.reactions, strict=True)) == {"Growth Rate (1/hr)": biomass, "EX_ac_e": "EX_ac_e"}
    assert np.isnan(ph.values[1, 0]) and ph.zeros_dropped == 1 and ph.groups == ["x", "y", "x"]
    kept = read_phenotypes(DataSpec(phenotypes=p, keep_zero=True), m)
    assert kept.values[1, 0] == 0
    p2 = tmp_path / "p2.csv"
    p2.write_text("id,acetate\na,1.5\nb,2.5\n")
    mapped = read_phenotypes(DataSpec(phenotypes=p2, mapping={"acetate": "EX_ac_e"}), m)
    assert mapped.reactions == ["EX_ac_e"] and mapped.values[:, 0].tolist() == [1.5, 2.5]
    with pytest.raises(DataError, match="column 'project' holds classes \\(x, y\\), not numbers: a classification"):
        read_phenotypes(DataSpec(phenotypes=p, columns=["project"]), m)
    with pytest.raises(DataError, match="maps to no phenotype reaction"):
        read_phenotypes(DataSpec(phenotypes=p2, columns=["acetate"]), m)
    with pytest.raises(DataError, match="'EX_nothing' is not a phenotype ID or name of the masks"):
        read_phenotypes(DataSpec(phenotypes=p, mapping={"project": "EX_nothing"}), m)
    p.write_text("id,Growth Rate (1/hr)\na,1\na,2\n")
    with pytest.raises(DataError, match="duplicate sample ID 'a'"):
        read_phenotypes(DataSpec(phenotypes=p), m)


def test_dataset_needs_matching_samples(tmp_path):
    m = core_masks()
    expr, _, _ = write_dataset(tmp_path)
    p = tmp_path / "other.csv"
    p.write_text("id,Growth Rate (1/hr)\nzz1,0.5\nzz2,0.4\n")
    with pytest.raises(DataError, match="no sample with an observed phenotype matches"):
        load_dataset(m, DataSpec(expr, p))


def test_dataset_locates_targets_in_the_phenotype_layer(tmp_path):
    m = core_masks()
    expr, phen, truth = write_dataset(tmp_path)
    ds = load_dataset(m, DataSpec(expr, phen, ["ref_1", "ref_2"], group_by="project"))
    assert ds.labelled_ids == truth["samples"][2:]
    assert m.phenotype_ids[ds.target_indices[0]] == ds.targets[0] and "biomass" in ds.targets[0].lower()
    np.testing.assert_allclose(ds.y[:, 0], truth["growth"][2:], atol=1e-5)


class Rows:
    def __init__(self, n):
        self.n_samples = n

    def take(self, rows):
        return np.repeat(np.asarray(rows, np.float32)[:, None], 3, axis=1)


@pytest.mark.parametrize("chunk_rows", [1000, 7])
def test_stream_serves_every_row_once_per_epoch_and_resumes(chunk_rows):
    rows = np.arange(0, 60, 2)  # 30 rows
    served = np.concatenate([b[:, 0] for _, b in batches(Rows(60), rows, 8, 90, seed=3, chunk_rows=chunk_rows)])
    assert served.size == 90
    for e in range(3):
        assert sorted(served[30 * e : 30 * (e + 1)].astype(int)) == list(rows)
    assert not np.array_equal(served[:30], served[30:60])  # reshuffled each epoch
    resumed = np.concatenate(
        [b[:, 0] for _, b in batches(Rows(60), rows, 8, 90, seed=3, start_step=5, chunk_rows=chunk_rows)]
    )
    np.testing.assert_array_equal(resumed, served[40:])
    other = np.concatenate([b[:, 0] for _, b in batches(Rows(60), rows, 8, 90, seed=4, chunk_rows=chunk_rows)])
    assert not np.array_equal(other, served)


def test_spline_passes_through_the_averaged_time_points():
    rng = np.random.default_rng(0)
    t = np.array([0, 0, 1, 2, 2, 3, 5.0])
    x, y = rng.normal(size=(7, 4)), rng.normal(size=(7, 2))
    new_t, xs, ys = spline_pairs(t, x, y, 11)  # 0, 0.5, ..., 5: hits every time point
    assert xs.shape == (11, 4) and ys.shape == (11, 2)
    for tp in np.unique(t):
        k = int(np.argmin(np.abs(new_t - tp)))
        np.testing.assert_allclose(xs[k], x[t == tp].mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(ys[k], y[t == tp].mean(axis=0), atol=1e-12)
    with pytest.raises(ValueError, match="at least 3 distinct time points"):
        spline_pairs([0, 0, 1], x[:3], y[:3], 5)


def test_hdf5_pool_streams_in_chunks_with_the_right_rows(tmp_path):
    m = core_masks()
    path, _, truth = write_dataset(tmp_path)
    expr_csv = read_expression(path, m.gene_ids)
    with h5py.File(tmp_path / "pool.h5", "w") as f:
        f["expression"] = expr_csv.values
        f["sample_ids"] = np.array([s.encode() for s in expr_csv.sample_ids])
        f["gene_ids"] = np.array([g.encode() for g in expr_csv.gene_ids])
    h5 = read_expression(tmp_path / "pool.h5", m.gene_ids)
    al = align(h5.gene_ids, m.gene_ids)
    src_h5 = ModelInput(h5, al, fit_reference(h5, al, ["ref_1"]))
    src_mem = ModelInput(expr_csv, al, fit_reference(expr_csv, al, ["ref_1"]))
    rows = np.arange(3, 33)
    full = src_mem.all()
    seen = []
    for _, batch in batches(src_h5, rows, 8, 60, seed=1, chunk_rows=6):  # 5 chunks of 6: not buffered
        seen.append(batch)
    seen = np.concatenate(seen)
    # every served profile is one of the pool rows, each row twice over two epochs
    match = [int(np.argmin(np.abs(full[rows] - s).sum(axis=1))) for s in seen]
    np.testing.assert_allclose(seen, full[rows][match], atol=1e-6)
    assert sorted(match) == sorted(list(range(30)) * 2)
