#!/usr/bin/env bash
# What made the default network work, reproduced with the CLI on the tuning split (seed 0's
# grouped partition): single networks (--ensemble 1) over 5 seeds, strategy B, 1,600 steps,
# no stopping by tolerance, each change against the default's settings. ~8 min on 2 cores.
# Usage: bash benchmarks/penalty_ablation.sh [OUT_DIR]   (prints one line per setting)
set -euo pipefail
out=${1:-runs/penalty-ablation}
mkdir -p "$out"
common=(--strategy B --seed 0 --seeds 5 --ensemble 1 --baselines none --max-steps 1600 --tol 0)
run() {  # name, then options over the default preset
  local name=$1; shift
  [ -f "$out/$name/report.json" ] || sparsenet train "${common[@]}" "$@" --out "$out/$name" > "$out/$name.log" 2>&1
  python - "$out/$name/report.json" "$name" "$*" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]["grouped/B"]
m = next(iter(r["over_seeds"].values()))
print(f"{sys.argv[2]:<22} {sys.argv[3]:<40} r {m['pearson_r']['mean']:.3f} ± {m['pearson_r']['sd']:.3f}  "
      f"within 20 % {m['within_20_percent']['mean']:.1f} ± {m['within_20_percent']['sd']:.1f}  "
      f"RMSE {m['rmse']['mean']:.3f}")
PY
}
run no-penalty-glorot --l2 0 --init-scale 1
run no-penalty-small --l2 0
run l2-0.003 --l2 0.003
run l2-0.01 --l2 0.01
run l2-0.03-default
run l2-0.1 --l2 0.1
run relative-loss --loss relative
run centred-inputs --inputs centre
