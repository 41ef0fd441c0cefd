"""A lab's spreadsheet as it comes (issue 37), in the fast suite: samples as rows, genes as columns named by
symbols in odd case, `strain`/`notes` metadata columns, a duplicated and a misspelled gene, tab-separated but
named .csv, saved in Windows-1252; a phenotype sheet with `growth_rate`, a `batch` column to group by, `NA`
and one sample ID that matches nothing. `sparsenet train` must run on the first command with warnings only;
a copy in linear TPM is refused with the fix, and runs with it."""

import json

import numpy as np

from conftest import FAST, core_masks, one_line_error, sparsenet, without
from synthetic import write_dataset

OPTIONS = [
    *without(FAST, "--max-steps", "--pretrain-samples"),
    "--max-steps",
    "20",
    "--ensemble",
    "1",
    "--baselines",
    "mean",
    "--group-by",
    "batch",
]


def lab_sheets(folder, linear=False):
    _, _, facts = write_dataset(folder / "synthetic", n_samples=24)
    masks = core_masks()
    symbol = dict(zip(masks.gene_ids, masks.gene_names, strict=True))
    genes, levels, samples = facts["genes"], facts["levels"], facts["samples"]
    labels = [symbol.get(g, g) for g in genes]
    labels = [lab.upper() if i % 5 == 0 else lab for i, lab in enumerate(labels)]  # any letter case
    labels[3] = labels[3][:-2] + labels[3][-1] + labels[3][-2]  # one misspelled symbol
    values = np.maximum(2**levels - 1, 0) if linear else levels  # linear: TPM, never below 0
    header = ["sample", "strain", *labels, labels[1], "notes"]  # the second gene given twice
    lines = ["\t".join(header)]
    for i, s in enumerate(samples):
        cells = ["MG1655", *(f"{v:.5f}" for v in values[i]), f"{values[i, 1]:.5f}", f"run {i} – µ ok"]
        lines.append("\t".join([s, *cells]))
    expression = folder / ("tpm.csv" if linear else "levels.csv")  # tab-separated, named .csv
    expression.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    rows = ["sample,growth_rate,batch,comment"]
    for i, s in enumerate(samples):
        growth = "" if i < 2 else ("NA" if i == 5 else f"{facts['growth'][i]:.5f}")
        sample = "s999" if i == 7 else s  # one phenotype row whose sample the sheet lacks
        rows.append(f"{sample},{growth},b{i % 6},µ measured")
    phenotypes = folder / "phenotypes.csv"
    phenotypes.write_bytes(("\n".join(rows) + "\n").encode("cp1252"))
    return expression, phenotypes


def test_a_lab_spreadsheet_trains_on_the_first_command(tmp_path):
    expression, phenotypes = lab_sheets(tmp_path)
    done = sparsenet(
        "train", "--expression", expression, "--phenotypes", phenotypes, *OPTIONS, "--out", tmp_path / "run"
    )
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert "not UTF-8; read as Windows-1252" in said
    assert "left out: column 'strain', column 'notes'" in said
    assert "column 'growth_rate' read as the growth rate" in said
    assert "s999" in said  # the phenotype row without a profile, named
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert "grouped/B" in report["results"]
    warnings = report["data"]["checks"]["warnings"]
    assert any("Windows-1252" in w for w in warnings) and any("'strain'" in w for w in warnings)
    assert report["data"]["labelled_samples"] == 24 - 2 - 1 - 1  # references, NA and the unmatched row out

    strict = sparsenet(
        "train",
        "--expression",
        expression,
        "--phenotypes",
        phenotypes,
        *OPTIONS,
        "--strict",
        "--out",
        tmp_path / "strict",
    )
    one_line_error(strict, "Windows-1252")
    assert not (tmp_path / "strict").exists()


def test_linear_levels_are_refused_whatever_the_reference_and_run_with_the_transform(tmp_path):
    expression, phenotypes = lab_sheets(tmp_path, linear=True)
    args = ["train", "--expression", expression, "--phenotypes", phenotypes, *OPTIONS]
    refused = sparsenet(*args, "--out", tmp_path / "refused")  # FAST names --reference: the check still runs
    one_line_error(refused, "look linear, not log2")
    assert "--transform log2p1" in refused.stderr and not (tmp_path / "refused").exists()
    done = sparsenet(*args, "--transform", "log2p1", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["data"]["normalisation"]["transform"] == "log2p1"
    # the model keeps its transform: predict takes the same linear sheet and gives the fit's own predictions
    pred = sparsenet("predict", tmp_path / "run" / "model.h5", expression, "-o", tmp_path / "p.csv")
    assert pred.returncode == 0, pred.stderr
    predicted = [float(r.split(",")[1]) for r in (tmp_path / "p.csv").read_text().splitlines()[1:]]
    assert np.all(np.isfinite(predicted)) and 0.2 < np.median(predicted) < 1.2


def test_the_estimator_does_with_the_sheet_what_train_does(tmp_path):
    """The same sheet read by pandas into SparseNetRegressor: its text columns left out with one warning that
    names them (train: left out and named), linear levels refused with the fix (train: the same)."""
    import pytest

    pd = pytest.importorskip("pandas")
    from sparsenet.estimator import SparseNetRegressor
    from synthetic import CORE_MASKS

    expression, phenotypes = lab_sheets(tmp_path)
    sheet = pd.read_csv(expression, sep="\t", encoding="cp1252", index_col=0)
    sheet = sheet.loc[:, ~sheet.columns.str.endswith(".1")]  # the second copy of a gene, as pandas renames it
    growth = pd.read_csv(phenotypes, encoding="cp1252", index_col=0)["growth_rate"]
    both = sheet.join(growth, how="inner").dropna(subset=["growth_rate"])
    X, y = both.drop(columns="growth_rate"), both["growth_rate"].to_numpy()
    est = SparseNetRegressor(masks=str(CORE_MASKS), max_iter=20, ensemble=1)
    with pytest.warns(UserWarning, match="2 columns of text, not levels, left out: strain, notes"):
        est.fit(X, y)
    assert "strain" not in est.feature_names_in_ and np.isfinite(est.predict(X)).all()
    linear = np.maximum(2 ** X.drop(columns=["strain", "notes"]) - 1, 0)
    with pytest.raises(ValueError, match=r"X looks linear, not log2 .* np.log2\(X \+ 1\)"):
        SparseNetRegressor(masks=str(CORE_MASKS), max_iter=20).fit(linear, y)
