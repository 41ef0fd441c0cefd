#!/usr/bin/env bash
# The day a GPU is lent: prove the GPU path on it and measure it, in one command of ~8 minutes.
#
#   bash benchmarks/gpu_validate.sh PRECISE_DIR [RESULTS_DIR]       on the lent GPU machine, from the checkout
#   bash benchmarks/gpu_validate.sh --dry-run PRECISE_DIR            here: every stage small, on the CPU, its
#                                                                    imports checked against the GPU machine's
#
# The GPU machine reaches no package registry: nothing is installed (the checkout runs from PYTHONPATH=.,
# with the machine's python3: CuPy, NumPy, SciPy, Numba, h5py, typer, rich, scikit-learn, matplotlib,
# pytest), nothing on this path imports cobra or dask, and PRECISE comes from PRECISE_DIR (log_tpm.csv and
# sample_table.csv, 18 MB: copy them here first, into a folder git ignores, and carry it:
#     mkdir -p .precise && cp ~/.cache/sparsenet/precise-pymodulon-0.2.1/{log_tpm,sample_table}.csv .precise/
#     echo /.precise/ >> .git/info/exclude).
# Each stage runs under its own time limit and writes its JSON as it ends, so a stage that runs out of
# time costs only itself; RESULTS_DIR/gpu_validate.json gathers them (device, date, every stage's exit
# status, seconds and numbers). With $OUT set (the device tool), the JSON files are copied there too.
#
# Stages (limits in seconds): 1 the GPU tests on the device (120); 2 the engine's step, sparse against dense,
# on the shipped iJO1366 masks and the paper-sized random mask, with each kernel's bandwidth (60);
# 3 fine-tuning: one step of the default network and stacks of K = 1, 5, 50 networks against K separate
# fits, beside PyTorch masked-dense on the same GPU (90); 4 the default sparsenet train on the GPU (120);
# 5 the paper's method, pre-training 250,000 samples per fold (100).
set -uo pipefail
cd "$(dirname "$0")/.."
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
precise=${1:?give the folder holding the PRECISE files log_tpm.csv and sample_table.csv}
results=${2:-benchmarks/results}
for f in log_tpm.csv sample_table.csv; do
  [ -f "$precise/$f" ] || { echo "error: $precise/$f: no such file (copy PRECISE's files there first)" >&2; exit 1; }
done
mkdir -p "$results"
export PYTHONPATH=. PYTHONUNBUFFERED=1 NO_COLOR=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
py=${PYTHON:-python3}
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
work=$(mktemp -d)
data=(--expression "$precise/log_tpm.csv" --phenotypes "$precise/sample_table.csv"
      --reference control__wt_glc__1,control__wt_glc__2 --phenotype "Growth Rate (1/hr)")

if [ $dry = 1 ]; then
  device=cpu
  tests=(-m pytest -q -p no:cacheprovider --collect-only tests/test_gpu_kernels.py tests/test_gpu_training.py
         tests/test_device_choice.py)
  bench=(--batch 200 --repeats 1)
  stacks=(--steps 5 --repeats 1 --stacks 1,5)
  train=(--folds 2 --max-steps 5 --ensemble 1 --baselines none)
  paper=(--folds 2 --max-steps 5 --pretrain-samples 1000 --batch 500)
  trace=(benchmarks/as_on_gpu.py)  # a distribution the GPU machine lacks fails to import, as it would there
else
  device=gpu
  tests=(-m pytest -q -p no:cacheprovider -k "not emulator" tests/test_gpu_kernels.py tests/test_gpu_training.py
         tests/test_device_choice.py tests/test_estimator.py::test_pickle_round_trip_and_a_gpu_fit_loads_on_the_cpu)
  bench=()
  stacks=(--steps 300 --repeats 3 --stacks 1,5,50)
  train=(--baselines none)
  paper=(--pretrain-samples 250000)
  trace=()
  $py - <<'PY' || exit 1
import sys
from sparsenet import backend
if backend.resolve_device("auto") != "gpu":
    sys.exit(f"no usable GPU: {backend.gpu_problem()}")
PY
fi

# stage NAME LIMIT ARGS...: run "python ARGS" under LIMIT seconds, its output in $work/NAME.log, its exit
# status and seconds in $work/NAME.status; in a dry run the imports the GPU machine would refuse
# ($work/NAME.refused: the optional ones the stage went on without)
stage() {
  local name=$1 limit=$2; shift 2
  local start; start=$(date +%s)
  echo "== $name (limit ${limit} s)"
  REFUSED_IMPORTS="$work/$name.refused" timeout "$limit" $py "${trace[@]}" "$@" > "$work/$name.log" 2> "$work/$name.err"
  local rc=$?
  echo "$rc $(( $(date +%s) - start ))" > "$work/$name.status"
  tail -n 5 "$work/$name.log"
  [ $rc = 0 ] || { echo "   $name: exit $rc"; tail -n 5 "$work/$name.err"; }
}

stage tests 120 "${tests[@]}"
stage bench_ijo1366 30 -m sparsenet.cli.main bench --dense-vs-sparse --device $device "${bench[@]}" --json "$work/bench_ijo1366.json"
stage bench_random 30 -m sparsenet.cli.main bench --dense-vs-sparse --device $device --mask random "${bench[@]}" \
      --json "$work/bench_random.json"
stage stacks 90 benchmarks/finetune_speed.py --no-baseline --device $device --precise "$precise" "${stacks[@]}" \
      --json "$work/stacks.json"
stage train 120 -m sparsenet.cli.main train --device $device "${data[@]}" "${train[@]}" --out "$work/train"
stage paper 100 -m sparsenet.cli.main train --preset paper --device $device "${data[@]}" "${paper[@]}" --baselines none \
      --out "$work/paper"

$py benchmarks/gpu_summary.py "$work" "$results" "$stamp" "$dry"
status=$?
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then cp "$results"/gpu_*.json "$OUT"/ 2>/dev/null || true; fi
rm -rf "$work"
exit $status
