#!/usr/bin/env bash
# The checks that need a GPU, as one script for a lent GPU box (CI never has one). Run from the repo root:
#     OUT=gpu_out bash scripts/gpu_check.sh
# 1. the whole test suite with the GPU visible (devices=auto: every figure's tiny runs go through the CUDA slots
#    of the dispatcher), 2. the full-size smoke tests on the GPU in bf16 with a steady-state time per step (the
#    numbers behind the GPU cost estimates of `repro list`), 3. tiny figures through the CLI with precision=bf16,
#    4. the optimizer-step benchmark on the GPU.
# Offline boxes: wheels for packages the box lacks go in .whl/ (pip download ... -d .whl), the authors' reference
# curves in .gpu/reference (a copy of ../shared/reference); both are git-ignored.
set -u -o pipefail
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
[ -d .gpu/reference ] && export REPRO_REFERENCE="$PWD/.gpu/reference"
step() { echo; echo "=== $* ($(date +%T))"; }
step environment
nvidia-smi -L
python3 -c "import torch, hydra, omegaconf, pandas; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'hydra', hydra.__version__)"

step "1. test suite, GPU visible"
timeout "${SUITE_S:-170}" python3 -m pytest -p no:cacheprovider -n "${WORKERS:-14}" -q -rfE tests 2>&1 | tee "$OUT/suite.log" | tail -40

step "2. full-size steps on the GPU, bf16, timed"
REPRO_TEST_DEVICE=cuda REPRO_TEST_PRECISION=bf16 REPRO_TEST_TIMING_STEPS="${TIMING_STEPS:-10}" \
  timeout "${FULLSIZE_S:-120}" python3 -m pytest -p no:cacheprovider -s -q -rfE -m slow -k "full_scale or full_config" \
  tests/experiments/test_laprop_full_smoke.py tests/experiments/test_escape_rate_fullsize.py \
  tests/experiments/test_laprop_transformer.py 2>&1 | tee "$OUT/fullsize.log" | grep -E "TIMING|passed|failed|Error" 

step "3. tiny figures through the CLI, precision=bf16"
for pf in "laprop 4" "laprop T1" "escape_rate 2" "snake 5" "minibatch_noise 1"; do
  set -- $pf
  timeout 40 python3 -m repro.cli run paper=$1 fig=$2 precision=bf16 runs_dir=/tmp/gpu_runs results_dir=/tmp/gpu_results \
    2>&1 | tail -4
done | tee "$OUT/bf16.log"
tar -czf "$OUT/bf16_results.tgz" -C /tmp gpu_results 2>/dev/null

step "4. optimizer step benchmark, cuda"
timeout 60 python3 benchmarks/optimizer_step.py --device cuda 2>&1 | tee "$OUT/optimizer_step.log" | tail -15
step done
