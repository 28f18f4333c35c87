#!/usr/bin/env bash
# Quantizes tiny-llama-code under the settings of ../shared/data/reference.json and evaluates each written
# checkpoint on eval_code.txt (full file, reference protocol). Results: one JSON line per run in $OUT/results.jsonl.
# EVAL_ARGS / QUANT_ARGS add options (e.g. "--threads 1" when two queues share the machine).
# Quantize runs with -Xmx512m (LOWBIT_JAVA_OPTS overrides) to show the heap stays bounded.
# Usage: scripts/acceptance-quantize.sh [OUT_DIR] [SETTING...]   settings: rtn-w4g128 gptq-w4g128 rtn-w3g128
#        gptq-w3g128 rtn-w4pc gptq-w2g64 gptq-w4g128-act fp32 (default: all, in that order)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-acceptance}; shift || true
model="$root/../shared/models/tiny-llama-code"
data="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
settings=("$@"); [ ${#settings[@]} -gt 0 ] || settings=(rtn-w4g128 gptq-w4g128 rtn-w3g128 gptq-w3g128 rtn-w4pc gptq-w2g64 gptq-w4g128-act fp32)
mkdir -p "$out"
for s in "${settings[@]}"; do
  case $s in
    fp32) dir=$model ;;
    rtn-w4g128) args=(--method rtn --bits 4 --group-size 128) ;;
    rtn-w3g128) args=(--method rtn --bits 3 --group-size 128) ;;
    rtn-w4pc) args=(--method rtn --bits 4 --group-size -1) ;;
    gptq-w4g128) args=(--method gptq --bits 4 --group-size 128 --calib "$calib") ;;
    gptq-w3g128) args=(--method gptq --bits 3 --group-size 128 --calib "$calib") ;;
    gptq-w2g64) args=(--method gptq --bits 2 --group-size 64 --calib "$calib") ;;
    gptq-w4g128-act) args=(--method gptq --bits 4 --group-size 128 --act-order --calib "$calib") ;;
    *) echo "unknown setting $s" >&2; exit 2 ;;
  esac
  if [ "$s" != fp32 ]; then
    dir="$out/$s"
    LOWBIT_JAVA_OPTS="${LOWBIT_JAVA_OPTS:--Xmx512m}" /usr/bin/time -v "$root/lowbit" quantize "$model" -o "$dir" --force --json -q \
      "${args[@]}" ${QUANT_ARGS:-} > "$out/$s.quantize.json" 2> "$out/$s.quantize.time"
  fi
  /usr/bin/time -v "$root/lowbit" evaluate "$dir" --data "$data" --json ${EVAL_ARGS:-} > "$out/$s.eval.json" 2> "$out/$s.eval.time"
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/$s.eval.time")
  qrss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/$s.quantize.time" 2>/dev/null)
  echo "{\"setting\":\"$s\",\"quantize\":$(cat "$out/$s.quantize.json" 2>/dev/null || echo null),\"evaluate\":$(cat "$out/$s.eval.json"),\"eval_peak_rss_kb\":${rss:-null},\"quantize_peak_rss_kb\":${qrss:-null}}" >> "$out/results.jsonl"
  echo "$s: $(grep -o '"perplexity":[0-9.]*' "$out/$s.eval.json")"
done
