#!/usr/bin/env bash
# Ternary and trit-plane rows of the README: quantizes tiny-llama-code with each recipe below into format trit-planes,
# then evaluates the written checkpoint on eval_code.txt (reference protocol; WINDOWS=0, the default, is the whole
# file, WINDOWS=16 a quick look). One JSON line per row in $OUT/results.jsonl, quantize wall time included.
# Usage: scripts/trit-table.sh [OUT_DIR] [ROW...]   rows: ptqtp ptqtp-gptq ternary-rtn (default: all, in that order)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-trit}; shift || true
model="$root/../shared/models/tiny-llama-code"
data="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
windows=${WINDOWS:-0}
rows=("$@"); [ ${#rows[@]} -gt 0 ] || rows=(ptqtp ptqtp-gptq ternary-rtn)
mkdir -p "$out/recipes"
for r in "${rows[@]}"; do
  recipe="$out/recipes/$r.yaml"
  case $r in
    ptqtp) step='{type: ptqtp, group_size: 128, iterations: 50}'; cal='' ;;
    ptqtp-gptq) step='{type: ptqtp, group_size: 128, iterations: 50, error_feedback: true}'
                cal="calibration: {data: $calib, samples: 128, seqlen: 512}" ;;
    ternary-rtn) step='{type: ternary-rtn, group_size: 256}'; cal='' ;;
    *) echo "unknown row $r" >&2; exit 2 ;;
  esac
  printf 'version: 2\nsteps:\n  - %s\n%s\noutput: {format: trit-planes}\n' "$step" "$cal" > "$recipe"
  t0=$(date +%s.%N)
  "$root/lowbit" quantize "$model" -o "$out/$r" --recipe "$recipe" --force --json -q > "$out/$r.quantize.json"
  t1=$(date +%s.%N)
  "$root/lowbit" evaluate "$out/$r" --data "$data" --max-windows "$windows" --json > "$out/$r.eval.json"
  secs=$(python3 -c "print(round($t1 - $t0, 1))")
  echo "{\"row\":\"$r\",\"windows\":$windows,\"quantize_wall_s\":$secs,\"quantize\":$(cat "$out/$r.quantize.json"),\"evaluate\":$(cat "$out/$r.eval.json")}" >> "$out/results.jsonl"
  echo "$r: $(grep -o '"perplexity":[0-9.]*' "$out/$r.eval.json"), quantize ${secs}s, $(grep -o '"bits_per_weight":[0-9.]*' "$out/$r.quantize.json" | head -1)"
done
