#!/usr/bin/env bash
# The day a GPU is lent: prove the GPU path on it and measure it, in one command.
#   bash benchmarks/gpu_validate.sh            (from the repository root, CuPy installed: pip install -e ".[gpu,test]")
# 1. the GPU tests on the real device (the same tests CI runs on the CUDA emulator);
# 2. sparsenet bench --dense-vs-sparse --device gpu on the shipped iJO1366 masks and the paper-sized
#    random mask, with the per-kernel bandwidth table;
# 3. the paper's whole workload on the GPU: 2.5 M-sample pre-training per fold, grouped 10-fold CV,
#    final model (--preset paper), with its wall time.
# Everything lands in benchmarks/results/gpu_*.json with the device name and the date.
set -euo pipefail
cd "$(dirname "$0")/.."
results=benchmarks/results
mkdir -p "$results"
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
device=$(python - <<'PY'
import sys
from sparsenet import backend
if backend.resolve_device("auto") != "gpu":
    sys.exit(f"no usable GPU: {backend.gpu_problem()}")
from sparsenet.benchmark import device_name
print(device_name("gpu"))
PY
)
echo "device: $device  ($stamp)"

tests_start=$(date +%s)
python -m pytest -q tests/test_gpu_kernels.py tests/test_gpu_training.py tests/test_device_choice.py \
    tests/test_cuda_emulator.py tests/test_cuda_sources.py | tee /tmp/sparsenet_gpu_tests.txt
tests_s=$(( $(date +%s) - tests_start ))

sparsenet bench --dense-vs-sparse --device gpu --json "$results/gpu_dense_vs_sparse_ijo1366.json"
sparsenet bench --dense-vs-sparse --device gpu --mask random --json "$results/gpu_dense_vs_sparse_random16135.json"

run=$(mktemp -d)
workload_start=$(date +%s)
sparsenet train --preset paper --device gpu --pretrain-samples 2500000 --cv grouped --folds 10 --out "$run/paper"
workload_s=$(( $(date +%s) - workload_start ))

python - "$results/gpu_validate.json" "$device" "$stamp" "$tests_s" "$workload_s" "$run/paper" <<'PY'
import json, sys
from pathlib import Path
out, device, stamp, tests_s, workload_s, run = sys.argv[1:]
summary = Path("/tmp/sparsenet_gpu_tests.txt").read_text().strip().splitlines()[-1]
report = Path(run) / "report.json"
json.dump({"device": device, "date": stamp, "gpu_tests": summary, "gpu_tests_s": int(tests_s),
           "paper_workload": "sparsenet train --preset paper --device gpu --pretrain-samples 2500000 "
                             "--cv grouped --folds 10 (pre-training per fold + final model)",
           "paper_workload_wall_s": int(workload_s),
           "paper_workload_report": json.loads(report.read_text()) if report.exists() else None},
          open(out, "w"), indent=2)
print(f"wrote {out}")
PY
