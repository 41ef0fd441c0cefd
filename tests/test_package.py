"""What an installed sparsenet reads and writes: shipped files through importlib.resources, recorded controls
in the user's data folder (never into the package), one version string, links ranked by gene."""

import csv
import json
import subprocess
import sys
from pathlib import Path
from importlib import resources

import sparsenet
from sparsenet.report import evidence

from conftest import sparsenet as run_cli


def test_shipped_files_are_package_resources_and_the_version_is_one_string():
    shipped = resources.files("sparsenet.shipped")
    for name in ("iJO1366_masks.h5", "e_coli_core_masks.h5", "controls.json", "ecoli_genes.csv"):
        assert shipped.joinpath(name).is_file(), name
    out = subprocess.run([sys.executable, "-m", "sparsenet", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"sparsenet {sparsenet.__version__}"
    from importlib.metadata import version

    assert version("sparsenet") == sparsenet.__version__


def test_a_recorded_control_goes_to_the_user_folder_and_joins_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSENET_DATA", str(tmp_path / "user"))
    shipped_before = resources.files("sparsenet.shipped").joinpath("controls.json").read_text()
    run = tmp_path / "run"
    run.mkdir()
    entry = {"real": 0.6, "null_mean": 0.5, "null_sd": 0.05, "rank": 1, "draws": 50, "p": 0.02}
    (run / "report.json").write_text(
        json.dumps(
            {
                "masks": {"file": "/x/own_masks.h5", "fingerprint": "f00d"},
                "settings": {},
                "control": {
                    "scheme": "grouped",
                    "network_seeds": [1],
                    "null_models": {
                        "genes": {"phenotypes": {"mu": {m: entry for m in ("pearson_r", "within_20_percent", "rmse")}}}
                    },
                },
            }
        )
    )
    evidence.record(run, "my data")
    assert (tmp_path / "user" / "controls.json").exists()
    assert resources.files("sparsenet.shipped").joinpath("controls.json").read_text() == shipped_before
    merged = evidence.load()
    assert merged["f00d"]["my data"]["null_models"]["genes"]["pearson_r"]["p"] == 0.02
    assert len(merged) > 1  # the shipped controls are still there
    assert "my data: genes p = 0.020" in evidence.wiring_statement("f00d")


def test_links_by_gene_ranks_genes_and_writes_lf(tmp_path):
    from conftest import FAST
    from synthetic import write_dataset

    expr, phen, _ = write_dataset(tmp_path / "data")
    out = tmp_path / "run"
    proc = run_cli("train", "--expression", expr, "--phenotypes", phen, *FAST, "--baselines", "none", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert run_cli("links", out, "--by", "gene", "-o", tmp_path / "genes.csv").returncode == 0
    rows = list(csv.DictReader(Path(tmp_path / "genes.csv").read_text().splitlines()))
    links = list(csv.DictReader(Path(out / "links.csv").read_text().splitlines()))
    col = next(c for c in rows[0] if c.startswith("sum_abs_weight"))
    sums = [float(r[col]) for r in rows]
    assert sums == sorted(sums, reverse=True) and len(rows) == len({r["gene"] for r in links})
    assert b"\r" not in (tmp_path / "genes.csv").read_bytes() and b"\r" not in (out / "links.csv").read_bytes()
    assert any(c.startswith("folds_same_sign") for c in rows[0])


def test_every_package_and_template_is_in_the_wheels_list():
    """pyproject's explicit package list names every package under sparsenet/ (a room moved or added but not
    listed would be missing from the wheel, and only the wheel's own run would notice), and every non-Python file
    the code reads (the page's template, the CUDA sources) is package data."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.relative_to(root).parent.parts) for p in (root / "sparsenet").rglob("__init__.py")}
    assert found - set(setup["packages"]) == set(), found - set(setup["packages"])
    data = setup["package-data"]
    assert "templates/*.j2" in data["sparsenet.report"] and (root / "sparsenet/report/templates").is_dir()
    assert "*.cu" in data["sparsenet.engine.cuda"]
