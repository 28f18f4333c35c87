#!/usr/bin/env bash
# Ternary and trit-plane rows of the README: quantizes tiny-llama-code with each recipe below into format trit-planes,
# then evaluates the written checkpoint on eval_code.txt (reference protocol; WINDOWS=0, the default, is the whole
# file, WINDOWS=16 a quick look). One JSON line per row in $OUT/results.jsonl, quantize wall time included.
# Usage: scripts/trit-table.sh [OUT_DIR] [ROW...]
#   rows: ptqtp ptqtp-multi ptqtp-hw ptqtp-gptq ptqtp-gptq-refit ptqtp-multi-hw ptqtp-multi-gptq ptqtp-multi-gptq-refit ptqtp-multi-gptq-refit-descent ternary-rtn binarize pb-llm binary-rtn gptq-w2g64 gptq-w4g128 (default: the first three, in that order)
#   CALIB_SAMPLES (default 128) calibration windows of 512 for the calibrated rows; LUT=1 evaluates with the LUT kernel.
#   A row named rot-ROW is ROW after the rotate step (R1 + R2 randomised Hadamard, seed 0) in the same recipe.
#   The best calibrated two-plane row: CALIB_SAMPLES=256 ... rot-ptqtp-multi-gptq-refit-descent (README, trit table).
#   EXTRA='key: value, ...' adds parameters to the quantizer step of every row (e.g. EXTRA='damp_percent: 0.05').
#   THREADS=1 passes --threads to quantize and evaluate (two 1-thread jobs side by side on the shared queue).
#   STAGE=quantize only writes $OUT/ROW; STAGE=evaluate only evaluates an $OUT/ROW written before (a long calibrated row
#   split over two queue jobs); the default does both. The quantize JSON of a split row is kept for the evaluate stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-trit}; shift || true
model="$root/../shared/models/tiny-llama-code"
data="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
windows=${WINDOWS:-0}
samples=${CALIB_SAMPLES:-128}
kernel=f32; [ "${LUT:-0}" = 1 ] && kernel=lut
threads=(); [ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
stage=${STAGE:-both}
case $stage in both|quantize|evaluate) ;; *) echo "STAGE must be both, quantize or evaluate" >&2; exit 2 ;; esac
rows=("$@"); [ ${#rows[@]} -gt 0 ] || rows=(ptqtp ptqtp-gptq ternary-rtn)
mkdir -p "$out/recipes"
for r in "${rows[@]}"; do
  recipe="$out/recipes/$r.yaml"
  base=$r; pre=''
  case $r in rot-*) base=${r#rot-}; pre='  - {type: rotate}\n' ;; esac
  case $base in
    ptqtp) step='{type: ptqtp, group_size: 128, iterations: 50, start: progressive}'; cal='' ;;
    ptqtp-multi) step='{type: ptqtp, group_size: 128, iterations: 50, start: multi}'; cal='' ;;
    ptqtp-hw) step='{type: ptqtp, group_size: 128, iterations: 50, start: progressive, hessian_weighted: true}'
              cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    ptqtp-gptq) step='{type: ptqtp, group_size: 128, iterations: 50, start: progressive, error_feedback: true}'
                cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    ptqtp-gptq-refit) step='{type: ptqtp, group_size: 128, iterations: 50, start: progressive, error_feedback: true, refit_scales: true}'
                      cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    ptqtp-multi-hw) step='{type: ptqtp, group_size: 128, iterations: 50, start: multi, hessian_weighted: true}'
                    cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    ptqtp-multi-gptq) step='{type: ptqtp, group_size: 128, iterations: 50, start: multi, error_feedback: true}'
                      cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    ptqtp-multi-gptq-refit) step='{type: ptqtp, group_size: 128, iterations: 50, start: multi, error_feedback: true, refit_scales: true}'
                            cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    ptqtp-multi-gptq-refit-descent) step='{type: ptqtp, group_size: 128, iterations: 50, start: multi, error_feedback: true, refit_scales: true, descent_passes: 10}'
                                    cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    ternary-rtn) step='{type: ternary-rtn, group_size: 256}'; cal='' ;;
    binarize) step='{type: binarize, group_size: 512, salient_fraction: 0.1}'
              cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    pb-llm) step='{type: pb-llm, group_size: 512, salient_fraction: 0.1}'
            cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    binary-rtn) step='{type: binarize, group_size: 512, salient_fraction: 0, error_feedback: false}'; cal='' ;;
    gptq-w2g64) step='{type: gptq, bits: 2, group_size: 64}'
                cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    gptq-w4g128) step='{type: gptq, bits: 4, group_size: 128}'
                 cal="calibration: {data: $calib, samples: $samples, seqlen: 512}" ;;
    *) echo "unknown row $r" >&2; exit 2 ;;
  esac
  fmt=trit-planes; case $base in gptq-*) fmt=gptq ;; esac
  [ -n "${EXTRA:-}" ] && step="${step%\}}, $EXTRA}"
  printf "version: 2\nsteps:\n$pre  - %s\n%s\noutput: {format: %s}\n" "$step" "$cal" "$fmt" > "$recipe"
  if [ "$stage" != evaluate ]; then
    t0=$(date +%s.%N)
    "$root/lowbit" quantize "$model" -o "$out/$r" --recipe "$recipe" "${threads[@]}" --force --json -q > "$out/$r.quantize.json"
    t1=$(date +%s.%N)
    python3 -c "print(round($t1 - $t0, 1))" > "$out/$r.quantize.secs"
    echo "$r: quantize $(cat "$out/$r.quantize.secs")s, $(grep -o 'bits_per_weight":[0-9.]*' "$out/$r.quantize.json" | head -1)"
  fi
  [ "$stage" = quantize ] && continue
  LOWBIT_JAVA_OPTS="${LOWBIT_JAVA_OPTS:-} -Dlowbit.trit.kernel=$kernel" "$root/lowbit" evaluate "$out/$r" --data "$data" --max-windows "$windows" "${threads[@]}" --json > "$out/$r.eval.json"
  secs=$(cat "$out/$r.quantize.secs")
  echo "{\"row\":\"$r\",\"extra\":\"${EXTRA:-}\",\"windows\":$windows,\"calib_samples\":$samples,\"threads\":\"${THREADS:-all}\",\"kernel\":\"$kernel\",\"quantize_wall_s\":$secs,\"quantize\":$(cat "$out/$r.quantize.json"),\"evaluate\":$(cat "$out/$r.eval.json")}" >> "$out/results.jsonl"
  echo "$r: $(grep -o '"perplexity":[0-9.]*' "$out/$r.eval.json"), quantize ${secs}s, $(grep -o 'bits_per_weight":[0-9.]*' "$out/$r.quantize.json" | head -1)"
done
