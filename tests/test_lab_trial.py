"""The lab-style trial of issue 27, replayed on PRECISE: a genes x samples TSV with gene symbols (any case),
three mismatched sample IDs, 'n.d.' cells, two duplicated genes and one misspelled symbol trains on the first
command a user would type, predicts a held-out set in the same layout with intervals, and names every
dropped or mapped thing."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sparsenet.data import precise
from sparsenet.data.genes import genome_genes

from conftest import sparsenet

pytestmark = [pytest.mark.network, pytest.mark.slow]  # fetches PRECISE (~50 MB) once; trains on it

QUICK = ["--baselines", "none", "--ensemble", "2", "--max-steps", "200", "--folds", "3"]


def lab_tables(folder):
    """PRECISE rewritten as a lab keeps it; returns (expression TSV, phenotype TSV, held-out TSV, facts)."""
    files = precise.precise_files(progress=lambda msg: None)
    rows = list(csv.reader(Path(files["log_tpm.csv"]).read_text().splitlines()))
    samples, genes = rows[0][1:], [r[0] for r in rows[1:]]
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    symbol = dict(zip(*genome_genes(), strict=True))
    labels = [symbol.get(g) or g for g in genes]
    labels = [lab.upper() if i % 7 == 0 else lab for i, lab in enumerate(labels)]  # any letter case
    lower = [lab.lower() for lab in labels]
    labels[lower.index("zwf")] = "zfw"  # one misspelled symbol
    duplicated = [lower.index("gapa"), lower.index("pfka")]  # two genes given twice
    table = list(csv.DictReader(Path(files["sample_table.csv"]).read_text().splitlines()))
    first = next(iter(table[0]))  # the sample ID column
    project = {r[first]: r["project"] for r in table}
    growth = {r[first]: r["Growth Rate (1/hr)"] for r in table}
    held_out_project = "pgi"  # the held-out set: one project, written in the same layout
    held = [i for i, s in enumerate(samples) if project.get(s) == held_out_project]
    kept = [i for i, s in enumerate(samples) if project.get(s) != held_out_project]

    def write(path, columns):
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(["gene"] + [samples[i] for i in columns])
            for k, lab in enumerate(labels):
                w.writerow([lab] + [f"{values[k, i]:.4f}" for i in columns])
            for k in duplicated:  # the second measurement of the same gene, as a pipeline writes it
                w.writerow([labels[k]] + [f"{values[k, i] + 0.01:.4f}" for i in columns])

    expr, held_path = folder / "lab_expression.tsv", folder / "held_out.tsv"
    write(expr, kept)
    write(held_path, held)
    phen = folder / "lab_growth.tsv"
    mismatched = []
    with open(phen, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["sample", "Growth rate (1/h)", "project"])
        for i in kept:
            s = samples[i]
            value = growth.get(s) or "n.d."
            if value not in ("n.d.",) and float(value) > 0 and len(mismatched) < 3 and project[s] == "fur":
                mismatched.append(s)
                s = s.replace("__", "_")  # a sample ID typed differently in the phenotype table
            w.writerow([s, value, project.get(samples[i], "")])
    return expr, phen, held_path, {"mismatched": mismatched, "held": [samples[i] for i in held]}


def test_a_lab_table_with_symbols_trains_on_the_first_command_and_predicts_with_intervals(tmp_path):
    expr, phen, held, facts = lab_tables(tmp_path)
    out = tmp_path / "run"
    proc = sparsenet(
        "train",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        "--reference",
        ",".join(precise.REFERENCE_SAMPLES),
        "--group-by",
        "project",
        *QUICK,
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "by symbol" in err and "zfw (zwf (b1852)?)" in err  # the misspelling, with the gene it looks like
    assert "(averaged" in err and "b1779 as " in err and "b3916 as " in err  # duplicates, all named, averaged
    assert "3 of" in err and "phenotype rows have no expression profile" in err
    report = json.loads((out / "report.json").read_text())
    labels = report["data"]["checks"]["gene_labels"]
    assert labels["mapped_by_symbol"] > 1000 and labels["mapped_by_id"] < 50
    assert {"label": "zfw", "closest": "zwf (b1852)"} in labels["unrecognised"]
    assert set(labels["duplicates"]) == {"b1779", "b3916"}
    closest = report["data"]["checks"]["phenotype_samples_closest_expression_id"]
    assert [closest[s.replace("__", "_")] for s in facts["mismatched"]] == facts["mismatched"]
    assert "n.d." in report["data"]["missing_phenotype_cells"]
    cov = report["intervals"]["phenotypes"]["Growth rate (1/h)"]
    assert 0 < cov["coverage"] <= 1 and cov["mean_width"] > 0

    pred = tmp_path / "pred.csv"
    proc = sparsenet("predict", out / "model.h5", held, "-o", pred)
    assert proc.returncode == 0, proc.stderr
    assert "90 % interval" in proc.stdout and "zfw" in proc.stderr
    rows = list(csv.reader(Path(pred).read_text().splitlines()))
    assert Path(pred).read_bytes().count(b"\r") == 0  # LF line endings
    header = rows[0]
    assert any("lower (90 % interval" in h for h in header) and any("upper (90 % interval" in h for h in header)
    assert [r[0] for r in rows[1:]] == facts["held"]
    lo, mid, hi = (header.index(next(h for h in header if k in h)) for k in ("lower", "predicted", "upper"))
    assert all(float(r[lo]) < float(r[mid]) < float(r[hi]) for r in rows[1:])
