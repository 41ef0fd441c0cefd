"""How well `sparsenet predict`'s flag finds the predictions that miss (issue 37, item 5), on PRECISE with each
project held out in turn: the default `train --cv lopo --seed 1`; for every held-out sample, whether it falls
outside its 90 % interval (q from the other projects' held-out residuals, as the coverage is computed) and whether
the "far from the training data" flag would fire (its distance, over the linked genes in the model's standardised
inputs, to the nearest sample of another project, beyond the 95th percentile of those projects' own distances to
their nearest sample of a third). Reports the coverage per project, the flag's recall (flagged among the samples
outside) and its rate among those inside, with the lower bounds a growth rate's floor raised.

    python benchmarks/interval_flag_recall.py
"""

import json
import platform
import time
from pathlib import Path

import numpy as np

from sparsenet.config.run_config import build_config
from sparsenet.stats.intervals import DEFAULT_LEVEL, far_threshold, half_width, nearest_distance
from sparsenet.stats.summary import pooled
from sparsenet.studies import DataOptions, load_data, train
from sparsenet.training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def main():
    t0 = time.perf_counter()
    cfg = build_config("default", cv="lopo", seed=1, baselines="none")
    data = load_data(DataOptions(), cfg)
    out = Path("/tmp/sparsenet-flag-recall")
    result = train(data, cfg, out, resume=out.exists())
    ds = data.dataset
    ck = load_checkpoint(out / "model.h5")
    x = np.asarray(ck.extra["distance_inputs"], dtype=np.float64)  # labelled samples over the linked genes
    y, pred, _ = pooled(ds, result_records(result, cfg))
    y, pred = y[:, 0], pred[:, 0]
    groups = np.asarray(ds.groups, dtype=object)
    ok = np.isfinite(y) & np.isfinite(pred)
    residual = np.abs(y - pred)
    rows, outside_all, flagged_all, clipped = [], [], [], 0
    for g in dict.fromkeys(groups[ok].tolist()):
        mine, other = ok & (groups == g), ok & (groups != g)
        q = half_width(residual[other], DEFAULT_LEVEL)
        outside = residual[mine] > q
        t = far_threshold(x[other], groups[other])
        d = nearest_distance(x[mine], x[other])
        flagged = d > t
        clipped += int(np.sum(pred[mine] - q < 0))
        rows.append(
            {
                "project": g,
                "samples": int(mine.sum()),
                "inside": float(1 - outside.mean()),
                "outside": int(outside.sum()),
                "flagged": int(flagged.sum()),
                "flagged_outside": int((flagged & outside).sum()),
                "far_threshold": t,
            }
        )
        outside_all.append(outside)
        flagged_all.append(flagged)
    outside, flagged = np.concatenate(outside_all), np.concatenate(flagged_all)
    summary = {
        "samples": int(outside.size),
        "coverage": float(1 - outside.mean()),
        "outside": int(outside.sum()),
        "flag_recall": float(flagged[outside].mean()) if outside.any() else None,
        "flag_rate_inside": float(flagged[~outside].mean()) if (~outside).any() else None,
        "flagged": int(flagged.sum()),
        "lower_bounds_clipped_to_0": clipped,
        "network_r": result.report["results"]["lopo/B"]["phenotypes"][ds.target_columns[0]]["pearson_r"],
    }
    record = {
        "what": __doc__.split("\n\n")[0],
        "summary": summary,
        "per_project": rows,
        "seconds": time.perf_counter() - t0,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    path = ROOT / "benchmarks" / "results" / "cpu_interval_flag_recall.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    for r in sorted(rows, key=lambda r: r["inside"]):
        print(
            f"{r['project']:>12}: {r['samples']:3d} samples, {100 * r['inside']:5.1f} % inside, "
            f"{r['outside']} outside ({r['flagged_outside']} flagged), {r['flagged']} flagged"
        )
    print(f"wrote {path}")


def result_records(result, cfg):
    """The held-out fold records of strategy B, seed 0, leaving one project out, read back from the run's state."""
    from sparsenet.runs.fold_state import read_fold

    folder = result.out / "state"
    files = sorted(folder.glob("lopo-B-s0-fold*.h5"))
    if not files:
        raise SystemExit(f"no LOPO fold records of B under {folder}")
    return [read_fold(f) for f in files]


if __name__ == "__main__":
    main()
