"""One behaviour for one input, command line or Python (issue 37, item 4): the same bad inputs through
`sparsenet train`/`predict` and through SparseNetRegressor, the same outcome — run with a warning, or refused
with one line naming the problem."""

import csv

import numpy as np
import pytest

from conftest import FAST, core_masks, one_line_error, sparsenet, without
from synthetic import CORE_MASKS, write_dataset

pd = pytest.importorskip("pandas")
OPTIONS = [
    *without(FAST, "--max-steps", "--pretrain-samples", "--reference"),
    "--max-steps",
    "20",
    "--ensemble",
    "1",
    "--baselines",
    "none",
    "--reference",
    "none",
    "--cv",
    "kfold",
    "--folds",
    "3",
]


def sheet(folder, n=24):
    """Samples x genes log2 fold changes (gene symbols as columns) and growth rates: as a frame and as files."""
    _, _, facts = write_dataset(folder / "synthetic", n_samples=n + 2)
    masks = core_masks()
    symbol = dict(zip(masks.gene_ids, masks.gene_names, strict=True))
    fc = facts["levels"][2:] - facts["levels"][:2].mean(axis=0)
    frame = pd.DataFrame(fc, index=facts["samples"][2:], columns=[symbol.get(g, g) for g in facts["genes"]])
    return frame, pd.Series(facts["growth"][2:], index=frame.index, name="growth_rate")


def write(folder, frame, y):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "x.csv", index_label="sample")
    y.to_frame().to_csv(folder / "y.csv", index_label="sample", na_rep="NA")
    return folder / "x.csv", folder / "y.csv"


def regressor(**kw):
    from sparsenet.estimator import SparseNetRegressor

    return SparseNetRegressor(masks=str(CORE_MASKS), max_iter=20, ensemble=1, **kw)


def test_a_gene_given_twice_is_averaged_with_a_warning_by_both(tmp_path):
    frame, y = sheet(tmp_path)
    gene = frame.columns[4]
    doubled = pd.concat([frame[[gene]] + 0.5, frame], axis=1)  # two columns of one gene: pandas reads the second
    # back as 'gene.1'
    x, yf = write(tmp_path / "files", doubled, y)
    done = sparsenet("train", "--expression", x, "--phenotypes", yf, *OPTIONS, "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert "appear more than once in x.csv (averaged" in done.stderr
    read = pd.read_csv(x, index_col=0)
    assert f"{gene}.1" in read.columns  # the renamed copy the estimator must recognise
    with pytest.warns(UserWarning, match=f"named by several columns \\(averaged\\): .* as {gene} and {gene}.1"):
        est = regressor().fit(read, y)
    averaged = frame.copy()
    averaged[gene] = frame[gene] + 0.25
    np.testing.assert_allclose(est.predict(read), regressor().fit(averaged, y).predict(averaged), rtol=1e-6)
    with pytest.raises(ValueError, match="several columns for one gene"):
        regressor(duplicates="error").fit(read, y)


def test_a_constant_phenotype_is_refused_by_both(tmp_path):
    frame, y = sheet(tmp_path)
    x, yf = write(tmp_path / "files", frame, y * 0 + 0.5)
    one_line_error(
        sparsenet("train", "--expression", x, "--phenotypes", yf, *OPTIONS, "--out", tmp_path / "run"),
        "has one value (0.5) in all 24 labelled samples: nothing to learn",
    )
    with pytest.raises(ValueError, match="is constant \\(0.5 in every sample\\): nothing to learn"):
        regressor().fit(frame, y * 0 + 0.5)


def test_missing_phenotypes_are_left_out_with_a_word_by_both(tmp_path):
    frame, y = sheet(tmp_path)
    holes = y.copy()
    holes.iloc[[1, 5, 9]] = np.nan
    x, yf = write(tmp_path / "files", frame, holes)
    done = sparsenet("train", "--expression", x, "--phenotypes", yf, *OPTIONS, "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert "3 cells missing" in done.stdout + done.stderr
    with pytest.warns(UserWarning, match="3 samples have no y"):
        est = regressor().fit(frame, holes)
    assert np.isfinite(est.predict(frame)).all()
    with pytest.warns(UserWarning, match="score: 3 samples with no y"):
        score = est.score(frame, holes)  # cross_val_score's fold with a hole: a number, not NaN
    observed = holes.notna().to_numpy()
    assert np.isfinite(score) and score == pytest.approx(est.score(frame[observed], holes[observed]))


def test_too_few_genes_to_predict_from_is_refused_by_both(tmp_path):
    frame, y = sheet(tmp_path)
    x, yf = write(tmp_path / "files", frame, y)
    assert (
        sparsenet("train", "--expression", x, "--phenotypes", yf, *OPTIONS, "--out", tmp_path / "run").returncode == 0
    )
    few = frame.iloc[:, :10]
    few.to_csv(tmp_path / "few.csv", index_label="sample")
    one_line_error(
        sparsenet(
            "predict",
            tmp_path / "run" / "model.h5",
            tmp_path / "few.csv",
            "-o",
            tmp_path / "p.csv",
            "--reference",
            "none",
        ),
        "below 50 %",
    )
    est = regressor().fit(frame, y)
    with pytest.raises(ValueError, match="below min_gene_share 0.5"):
        est.predict(few)


def test_the_gene_share_error_names_the_columns_that_matched_nothing(tmp_path):
    frame, y = sheet(tmp_path)
    renamed = frame.rename(columns={c: f"{c}_x" for c in frame.columns[:100]})
    with pytest.raises(ValueError, match=r"columns match no gene ID or symbol \(like '.*_x'"):
        regressor().fit(renamed, y)


def test_a_chosen_penalty_needs_as_many_groups_as_inner_folds(tmp_path):
    from sparsenet.estimator import SparseNetRegressor

    frame, y = sheet(tmp_path)
    groups = ["a"] * 12 + ["b"] * 12
    with pytest.raises(ValueError, match="fall in 2 group\\(s\\): give inner_folds=2"):
        SparseNetRegressor(masks=str(CORE_MASKS), max_iter=20, alpha="auto").fit(frame, y, groups=groups)


def test_text_columns_and_linear_levels_are_handled_alike(tmp_path):
    """(The lab spreadsheet tests run these through train; the estimator's side is here beside the others.)"""
    frame, y = sheet(tmp_path)
    with pytest.warns(UserWarning, match="1 column of text, not levels, left out: strain"):
        regressor().fit(frame.assign(strain="MG1655"), y)
    with pytest.raises(ValueError, match="looks linear"):
        regressor().fit(np.maximum(2 ** (frame + 6) - 1, 0), y)
    rows = list(csv.reader((tmp_path / "synthetic" / "expression.csv").read_text().splitlines()))
    assert rows  # the synthetic table the sheet came from


def test_a_column_of_classes_points_to_classify(tmp_path):
    """A phenotype of classes (evolved / not) is a classification task: train says which command runs it."""
    frame, y = sheet(tmp_path)
    classes = y.map(lambda v: "fast" if v > y.median() else "slow")
    x, yf = write(tmp_path / "files", frame, classes)
    one_line_error(
        sparsenet(
            "train",
            "--expression",
            x,
            "--phenotypes",
            yf,
            *OPTIONS,
            "--phenotype",
            "growth_rate",
            "--out",
            tmp_path / "run",
        ),
        "column 'growth_rate' holds classes (fast, slow), not numbers: a classification task; sparsenet classify",
    )
