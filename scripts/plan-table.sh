#!/usr/bin/env bash
# lowbit plan on tiny-llama-code against llama-quantize + imatrix at the same file size: for each mix, plan a GGUF
# mix of exactly that mix's tensor bytes (`--budget MIX`), quantize it with the recipe the plan wrote, and measure it
# under llama.cpp's protocol (eval_code.txt, ctx 512, first 60 windows) with `lowbit evaluate` and, when a llama.cpp
# build is given, with llama-perplexity. The sensitivity pass runs once per method; later plans reuse its table.
# Prints a markdown table; the plans, reports, SVG fronts and JSON lines ($OUT/results.jsonl) stay in $OUT.
#
# Usage: scripts/plan-table.sh [OUT_DIR] [MIX...]      (default mixes: Q3_K_M Q2_K)
#   LLAMA_CPP=/path/to/llama.cpp/build/bin   also measure with llama-perplexity
#   METHOD=rtn|gptq                          how candidates are scored and the recipe quantizes (default rtn: the
#                                            types' importance-weighted search, what llama-quantize does with an imatrix)
#   THREADS=2                                threads for plan, quantize, evaluate and llama-perplexity
#   SENSITIVITY=hessian|kl                   how the sensitivity pass scores a candidate (default hessian)
#   PLAN_ARGS="--candidates Q2_K,Q3_K,Q4_K"  extra options for lowbit plan
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-plan}; shift || true
mixes=("$@"); [ ${#mixes[@]} -gt 0 ] || mixes=(Q3_K_M Q2_K)
threads=${THREADS:-2}
method=${METHOD:-rtn}
model="$root/../shared/models/tiny-llama-code"
eval="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
mkdir -p "$out"
# llama-quantize + imatrix on this model, llama.cpp's protocol, 60 windows (../shared/README.md)
declare -A imat=([Q4_K_M]=13.8300 [Q3_K_M]=14.1002 [Q2_K]=15.1896)

ppl_lowbit() {
  "$root/lowbit" evaluate "$1" --data "$eval" --protocol llamacpp --max-windows 60 --threads "$threads" --json \
    | sed -n 's/.*"perplexity":\([0-9.]*\).*/\1/p'
}
ppl_llama() {
  [ -n "${LLAMA_CPP:-}" ] || { echo "-"; return; }
  "$LLAMA_CPP/llama-perplexity" -m "$1" -f "$eval" -c 512 --chunks 60 -t "$threads" 2>&1 \
    | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p'
}

echo "| mix size | method | tensor bytes (budget) | file bytes | predicted (plan / mix) | CP-SAT gap, s | lowbit evaluate | llama-perplexity | llama-quantize + imatrix |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
sens=""
for mix in "${mixes[@]}"; do
  p="$out/$mix-$method"
  if [ -n "$sens" ]; then scoring=(--sensitivities "$sens"); else scoring=(--sensitivity "${SENSITIVITY:-hessian}"); fi
  "$root/lowbit" plan "$model" --budget "$mix" --calib "$calib" --method "$method" --threads "$threads" --force -q \
    -o "$p.plan.json" --report "$p.report.json" --plot "$p.svg" "${scoring[@]}" ${PLAN_ARGS:-} > "$p.plan.txt"
  [ -n "$sens" ] || { cp "$p.report.json" "$out/sensitivities-$method.json"; sens="$out/sensitivities-$method.json"; }
  "$root/lowbit" quantize "$model" -o "$p.gguf" --recipe "$p.plan.json" --threads "$threads" --force -q > /dev/null
  pl=$(ppl_lowbit "$p.gguf"); pc=$(ppl_llama "$p.gguf")
  read -r budget planned pred mixpred gap secs < <(python3 - "$p.report.json" "$mix" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); m = {x["mix"]: x["predicted"] for x in r["mixes"]}
print(r["budget_bytes"], r["planned_bytes"], "%.4g" % r["predicted"], "%.4g" % m.get(sys.argv[2], float("nan")),
      r["solver"]["gap"], "%.3f" % r["solver"]["seconds"])
PY
)
  # the front again, now with the measured perplexities on it (the plan: llama-perplexity, else lowbit evaluate)
  best=$pc; [ "$best" != "-" ] && [ -n "$best" ] || best=$pl
  "$root/lowbit" plan "$model" --budget "$mix" --calib "$calib" --method "$method" --force -q -o "$p.plan.json" \
    --report "$p.report.json" --plot "$p.svg" --sensitivities "$sens" --measured "plan=$best" \
    ${imat[$mix]:+--measured "$mix=${imat[$mix]}"} ${PLAN_ARGS:-} > /dev/null
  echo "| $mix | $method | $planned ($budget) | $(stat -c %s "$p.gguf") | $pred / $mixpred | $gap, $secs | $pl | $pc | ${imat[$mix]:-} |"
  echo "{\"mix\":\"$mix\",\"method\":\"$method\",\"planned_bytes\":$planned,\"file_bytes\":$(stat -c %s "$p.gguf"),\"lowbit_ppl\":${pl:-null},\"llama_ppl\":\"$pc\"}" >> "$out/results.jsonl"
done
