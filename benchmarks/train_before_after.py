"""The default ``sparsenet train`` at a previous revision and now, alternating on this machine: wall seconds
and every network seed's pooled r, so a change of the code's house (not of its arithmetic) shows that it
left the numbers alone and the time no worse.

    python benchmarks/train_before_after.py --baseline-rev REV [--pairs 1] [--json FILE] [-- TRAIN OPTIONS]

TRAIN OPTIONS default to ``--seed 1 --seeds 3 --baselines none`` (the networks alone, seeds 1-3 on the
``--seed 1`` partition). The previous revision runs from a temporary git worktree.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["--seed", "1", "--seeds", "3", "--baselines", "none"]


def run(tree: Path, out: Path, options) -> dict:
    """One ``train`` from ``tree``'s own code: wall seconds and r per network seed, per model."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "train", *options, "--out", str(out)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{tree}: train failed: {proc.stderr.strip().splitlines()[-1]}")
    report = json.loads((out / "report.json").read_text())
    r = {
        key: {col: m["pearson_r"]["per_seed"] for col, m in res["over_seeds"].items()}
        for key, res in report["results"].items()
    }
    return {"seconds": seconds, "pearson_r_per_seed": r}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-rev", required=True, help="the previous code")
    ap.add_argument("--pairs", type=int, default=1, help="previous/now pairs, alternating")
    ap.add_argument("--json", type=Path)
    ap.add_argument("options", nargs="*", help="train options (after --)")
    args = ap.parse_args()
    options = args.options or DEFAULT
    runs = {"previous": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.baseline_rev],
            check=True,
            capture_output=True,
        )
        try:
            for i in range(args.pairs):
                for label, where in (("previous", tree), ("now", ROOT)):
                    runs[label].append(run(where, Path(tmp) / f"{label}{i}", options))
                    print(f"{label}: {runs[label][-1]['seconds']:.1f} s", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    before, after = runs["previous"][0]["pearson_r_per_seed"], runs["now"][0]["pearson_r_per_seed"]
    differences = [
        abs(a - b)
        for key in before
        for col in before[key]
        for a, b in zip(before[key][col], after.get(key, {}).get(col, [np.nan] * len(before[key][col])), strict=True)
    ]
    prev_s = np.array([r["seconds"] for r in runs["previous"]])
    now_s = np.array([r["seconds"] for r in runs["now"]])
    for key in before:
        for col in before[key]:
            print(
                f"{key} {col}: r per seed previous {np.round(before[key][col], 4).tolist()}, "
                f"now {np.round(after[key][col], 4).tolist()}"
            )
    print(
        f"largest |difference in r| {max(differences):.2e}; wall previous {prev_s.round(1).tolist()} s, now "
        f"{now_s.round(1).tolist()} s: now/previous {float(np.mean(now_s / prev_s)):.2f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "benchmark": "train_before_after",
                    "date": datetime.date.today().isoformat(),
                    "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                    "train_options": options,
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                    "baseline_rev": args.baseline_rev,
                    "runs": runs,
                    "largest_r_difference": max(differences),
                    "now_over_previous_seconds": float(np.mean(now_s / prev_s)),
                },
                indent=1,
            )
            + "\n"
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
