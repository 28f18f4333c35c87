#!/usr/bin/env bash
# lowbit plan --target gptq on tiny-llama-code: one (bits, group) grid per decoder Linear within a bits-per-weight
# budget (codes + scales + zeros + g_idx, what the GPTQ file stores), GPTQ-quantized with the recipe the plan wrote,
# beside every uniform GPTQ setting that fits the same budget. Reference protocol on eval_code.txt (the whole file
# unless WINDOWS is set); calibration: the first 128 × 512 windows of calib_code.txt. Prints a markdown table.
#
# Usage: scripts/plan-gptq-table.sh [OUT_DIR]          (default /tmp/lowbit-plan-gptq)
#   BUDGET=3.5bpw  CANDIDATES=w3,w3g64,w3g128,w4,w4g64,w4g128  SENSITIVITY=kl|hessian (default kl)
#   UNIFORM="w3 w3g64 w3g128"   the uniform settings to measure beside the plan
#   WINDOWS=0  THREADS=2
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-plan-gptq}
budget=${BUDGET:-3.5bpw}
cands=${CANDIDATES:-w3,w3g64,w3g128,w4,w4g64,w4g128}
threads=${THREADS:-2}
windows=${WINDOWS:-0}
model="$root/../shared/models/tiny-llama-code"
eval="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
mkdir -p "$out"

ppl() { "$root/lowbit" evaluate "$1" --data "$eval" --max-windows "$windows" --threads "$threads" --json \
          | sed -n 's/.*"perplexity":\([0-9.]*\).*/\1/p'; }
bpw() { python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["linear_bits_per_weight"])'; }

"$root/lowbit" plan "$model" --target gptq --budget "$budget" --candidates "$cands" --calib "$calib" \
  --sensitivity "${SENSITIVITY:-kl}" --threads "$threads" --force -q -o "$out/plan.json" --report "$out/report.json" > "$out/plan.txt"
b=$("$root/lowbit" quantize "$model" -o "$out/planned" --recipe "$out/plan.json" --threads "$threads" --force -q --json | bpw)
p=$(ppl "$out/planned")
echo "| setting | bits/weight (codes+scales+zeros+g_idx) | perplexity |"
echo "| --- | --- | --- |"
echo "| plan ($budget, ${SENSITIVITY:-kl}, candidates $cands) | $b | $p |"
for u in ${UNIFORM:-w3 w3g64 w3g128}; do
  bits=${u#w}; bits=${bits%%g*}; g=-1; [[ "$u" == *g* ]] && g=${u##*g}
  ub=$("$root/lowbit" quantize "$model" -o "$out/uniform-$u" --method gptq --bits "$bits" --group-size "$g" --calib "$calib" \
        --threads "$threads" --force -q --json | bpw)
  echo "| uniform GPTQ $u | $ub | $(ppl "$out/uniform-$u") |"
done
