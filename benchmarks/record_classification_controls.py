"""Record the classification controls of benchmarks/results (BINN's example on Reactome; PRECISE evolved vs rest
on iJO1366 and on the regulatory network) into the shipped data/controls.json, under each hierarchy's
fingerprint, so that ``sparsenet classify`` on the same wiring states them (as recorded, not as its own run).

The hierarchies are rebuilt as their runs built them (the commands in docs/pathway_networks.md); a rebuilt
hierarchy whose level sizes differ from the recorded run's is refused. Needs the Reactome and PRECISE caches
(``sparsenet data precise``; classify --example binn fetches Reactome).

    python benchmarks/record_classification_controls.py
"""

import json
import shutil
import tempfile
from pathlib import Path

from sparsenet.data.labelled import binn_example, read_labelled
from sparsenet.data.precise import cache_dir
from sparsenet.masks.hierarchy import feature_ids_of_table, hierarchy_from_files
from sparsenet.masks.model_io import load_model
from sparsenet.masks.reactome import reactome_hierarchy
from sparsenet.masks.subsystems import subsystem_hierarchy
from sparsenet.report.evidence import record_classification

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def precise_table():
    d = cache_dir()
    return read_labelled(
        d / "log_tpm.csv",
        d / "sample_table.csv",
        "Sample ID",
        "Evolved Sample",
        "project",
        missing="mean",
        merge={"evolved": ["Endpoint", "Midpoint"]},
    )


def ijo1366(table):
    """As `sparsenet masks hierarchy iJO1366 --data log_tpm.csv`, then classify's restriction to the table."""
    model, _, _ = load_model("iJO1366")
    return subsystem_hierarchy(
        model, feature_ids_of_table(cache_dir() / "log_tpm.csv"), model_file="iJO1366"
    ).restricted_to(table.feature_ids)


def main():
    d = cache_dir()
    binn = binn_example()
    precise = precise_table()
    runs = [
        (
            "cpu_binn_example_control.json",
            lambda: reactome_hierarchy(binn.feature_ids, 4),
            "BINN's example (197 plasma samples, groups 1 vs 2), stratified 5-fold x 3",
        ),
        (
            "cpu_precise_evolved_ijo1366_control.json",
            lambda: ijo1366(precise),
            "PRECISE evolved (ALE endpoint/midpoint) vs rest, stratified group 5-fold by project",
        ),
        (
            "cpu_precise_evolved_trn_control.json",
            lambda: hierarchy_from_files(
                d / "trn.csv", feature_ids_of_table(d / "log_tpm.csv"), 1, columns=("gene_id", "regulator")
            ).restricted_to(precise.feature_ids),
            "PRECISE evolved (ALE endpoint/midpoint) vs rest, stratified group 5-fold by project",
        ),
    ]
    for name, build, label in runs:
        record = json.loads((RESULTS / name).read_text())
        h = build()
        recorded = (record["hierarchy"]["levels"], record["hierarchy"]["features_linked"])
        if (h.n_levels, h.attrs["features_linked"]) != recorded:
            raise SystemExit(
                f"{name}: the rebuilt hierarchy ({h.n_levels} levels, {h.attrs['features_linked']} "
                f"features linked) is not the recorded one {recorded}"
            )
        record["hierarchy"]["fingerprint"] = h.fingerprint()
        folder = Path(tempfile.mkdtemp())
        (folder / "classification.json").write_text(json.dumps(record))
        entry = record_classification(folder, label, ROOT / "data" / "controls.json")
        shutil.rmtree(folder)
        print(name, h.fingerprint(), {k: v["roc_auc"]["p"] for k, v in entry["null_models"].items()})


if __name__ == "__main__":
    main()
