"""Keep a `sparsenet classify` record under benchmarks/results/ without its bulky arrays.

    python benchmarks/trim_classification.py RUN_DIR/classification.json OUT.json [--top 10]

Drops the per-fold held-out probabilities, the fold indices and the per-node arrays (the run folder's
importance.csv keeps those), and keeps each level's ``--top`` nodes by importance with their null percentiles.
"""

import argparse
import json
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("record", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    r = json.loads(args.record.read_text())
    res = r["result"]
    importance = res.pop("importance")
    res.pop("held_out_probabilities", None)
    res["folds"] = f"{len(res['folds'])} (train, test) splits, omitted"
    res.pop("codes", None)
    if "top_nodes" not in r:  # records of 0.5.0's first runs: each level's top nodes by index
        r["top_nodes"] = []
        for level, imp in enumerate(importance):
            for i in sorted(range(len(imp)), key=lambda i: -imp[i])[: args.top]:
                row = {"level": level + 1, "index": i, "importance": imp[i]}
                for kind, e in r.get("control", {}).get("null_models", {}).items():
                    row[f"percentile_{kind}"] = e["node_percentile"][level][i]
                r["top_nodes"].append(row)
    for e in r.get("control", {}).get("null_models", {}).values():
        e.pop("node_percentile", None)
    args.out.write_text(json.dumps(r, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
