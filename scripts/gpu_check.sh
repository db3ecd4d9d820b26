#!/usr/bin/env bash
# The checks that need a GPU, as one script for a lent GPU box (CI never has one). Run from the repo root:
#     OUT=gpu_out bash scripts/gpu_check.sh
# 1. the whole test suite with the GPU visible (devices=auto: every figure's tiny runs go through the CUDA slots
#    of the dispatcher), 2. the full-size smoke tests on the GPU in bf16 with a steady-state time per step (the
#    numbers behind the GPU cost estimates of `repro list`), 3. tiny figures through the CLI with precision=bf16,
#    4. the optimizer-step benchmark on the GPU, 5. the simulation benchmark on the box's CPU (one thread).
# STEPS="1 5" runs only those steps (default: 1-5). Step 7 (not in the default): the stacked grid trainer
# benchmark on CUDA (~2 min). Step 6 (not in the default): snake fig 9 at full scale, whose
# timing claims (i), (iii) carry `device: cuda` and are N/A on the committed CPU CSV (~2-3 min).
# Offline boxes: wheels for packages the box lacks go in .whl/ (pip download ... -d .whl), the authors' reference
# curves in .gpu/reference (a copy of ../shared/reference); both are git-ignored.
set -u -o pipefail
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PYTHONPATH" PATH="/tmp/site/bin:$PATH"
fi
STEPS=${STEPS:-1 2 3 4 5}
want() { [[ " $STEPS " == *" $1 "* ]]; }
[ -d .gpu/reference ] && export REPRO_REFERENCE="$PWD/.gpu/reference"
step() { echo; echo "=== $* ($(date +%T))"; }
step environment
nvidia-smi -L
python3 -c "import torch, hydra, omegaconf, pandas; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'hydra', hydra.__version__)"

want 1 && step "1. test suite, GPU visible" && \
# -v: every test's outcome is in suite.log as it happens; SIGINT at the time limit lets pytest print its summary
# (a plain kill lost the names of the failing tests twice).
timeout -s INT -k 30 "${SUITE_S:-170}" python3 -m pytest -p no:cacheprovider -n "${WORKERS:-14}" -v -rfE tests \
  > "$OUT/suite.log" 2>&1; grep -E "FAILED|ERROR" "$OUT/suite.log" | head -40; tail -5 "$OUT/suite.log"

want 2 && step "2. full-size steps on the GPU, bf16, timed" && \
REPRO_TEST_DEVICE=cuda REPRO_TEST_PRECISION=bf16 REPRO_TEST_TIMING_STEPS="${TIMING_STEPS:-10}" \
  timeout "${FULLSIZE_S:-120}" python3 -m pytest -p no:cacheprovider -s -q -rfE -m slow -k "full_scale or full_config" \
  tests/experiments/test_laprop_full_smoke.py tests/experiments/test_escape_rate_fullsize.py \
  tests/experiments/test_laprop_transformer.py 2>&1 | tee "$OUT/fullsize.log" | grep -E "TIMING|passed|failed|Error" 

want 3 && step "3. tiny figures through the CLI, precision=bf16" && \
for pf in "laprop 4" "laprop T1" "escape_rate 2" "snake 5" "minibatch_noise 1"; do
  set -- $pf
  timeout 40 python3 -m repro.cli run paper=$1 fig=$2 precision=bf16 runs_dir=/tmp/gpu_runs results_dir=/tmp/gpu_results \
    2>&1 | tail -4
done | tee "$OUT/bf16.log"
want 3 && tar -czf "$OUT/bf16_results.tgz" -C /tmp gpu_results 2>/dev/null

want 4 && step "4. optimizer step benchmark, cuda" && \
timeout 60 python3 benchmarks/optimizer_step.py --device cuda 2>&1 | tee "$OUT/optimizer_step.log" | tail -15
want 5 && step "5. simulation benchmark, the box's CPU, one thread" && \
timeout 120 python3 benchmarks/bench_sim.py 2>&1 | tee "$OUT/bench_sim.log" | tail -12
want 6 && step "6. snake fig 9 at full scale: the GPU timing claims" && \
timeout "${FIG9_S:-300}" python3 -m repro.cli run paper=snake fig=9 scale=full runs_dir=/tmp/gpu_runs \
  results_dir=/tmp/gpu_results 2>&1 | tee "$OUT/snake_fig9.log" | tail -16
want 6 && cp /tmp/gpu_results/snake/fig9* "$OUT/" 2>/dev/null
want 7 && step "7. stacked grid trainer on the GPU: K = 64 stacked vs 64 sequential (label-noise grids)" && \
for m in mlp_digits cnn_basic; do
  timeout 240 python3 benchmarks/bench_grid.py --device cuda --model $m --k 64 --epochs 2 --repeats 1
done 2>&1 | tee "$OUT/bench_grid.log" | grep -v "^$"
step done
