"""gpu_validate.sh's last step: every stage's exit status, seconds and numbers into one JSON; for a dry run
(each stage run by as_on_gpu.py, as on the GPU machine), the optional imports the stages went on without."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main():
    work, results, stamp, dry = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
    summary = {"date": stamp, "dry_run": dry, "stages": {}}
    try:
        from sparsenet.benchmark import device_name

        summary["device"] = device_name("cpu" if dry else "gpu")
    except Exception as e:  # the summary is written whatever happened
        summary["device"] = f"unknown ({type(e).__name__})"
    failed = []
    for status in sorted(work.glob("*.status")):
        rc, seconds = (int(v) for v in status.read_text().split())
        name = status.stem
        entry = {
            "exit": rc,
            "seconds": seconds,
            "timed_out": rc == 124,
            "tail": (work / f"{name}.log").read_text().strip().splitlines()[-3:],
        }
        for extra in (work / f"{name}.json", work / name / "report.json"):
            if extra.exists():
                data = json.loads(extra.read_text())
                entry["result"] = (
                    {k: data[k] for k in ("results", "wall_seconds") if k in data} if "results" in data else data
                )
        summary["stages"][name] = entry
        if rc != 0:
            failed.append(name)
    if dry:  # what the GPU machine would not have, and each stage went on without (a needed one fails the stage)
        summary["refused_imports"] = {
            f.stem: [x for x in f.read_text().split("\n") if x] for f in sorted(work.glob("*.refused"))
        }
    out = results / ("gpu_dry_run.json" if dry else "gpu_validate.json")
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"wrote {out}")
    if failed:
        print("failed: " + "; ".join(failed))
        return 1
    print("every stage ran" + ("; with only the GPU machine's packages" if dry else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
