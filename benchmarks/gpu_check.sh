#!/usr/bin/env bash
# The checks that need a GPU, in one run, for a machine with CUDA and this package installed
# (`pip install -e ".[test]"` with a CUDA build of torch). Each part has its own time limit, so the
# whole fits ~12 minutes of device time:
#
#   bash benchmarks/gpu_check.sh [OUT]      # OUT: where the figures go (default: out-gpu)
#
# 1. no training step waits for the host, on every model and data path (test_host_sync.py on CUDA)
# 2. the trainer against the notebook-style baseline on CUDA: the Performance table's CUDA rows
# 3. what `--profile full` costs on one GPU, fitted from runs of a fraction of each budget
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-out-gpu}"
mkdir -p "$out"
python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: torch sees no CUDA device')" || exit 2
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1
status=0
timeout 180 python -m pytest -q -p no:cacheprovider tests/superposition_lab/test_host_sync.py -k cuda \
    2>&1 | tee "$out/host_sync.txt" || status=1
timeout 240 python benchmarks/bench_train.py --device cuda --steps 200 --repeats 3 --json "$out/bench_train.json" \
    2>&1 | tee "$out/bench_train.txt" || status=1
timeout 300 python benchmarks/full_profile_cost.py --device cuda --json "$out/full_profile_cost.json" \
    2>&1 | tee "$out/full_profile_cost.txt" || status=1
exit "$status"
