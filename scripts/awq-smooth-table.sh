#!/usr/bin/env bash
# AWQ and SmoothQuant figures on tiny-llama-code: quantize under each setting, evaluate on eval_code.txt.
# WINDOWS=16 (default) evaluates the first 16 windows (exploration); WINDOWS=0 the whole file (reference protocol).
# CALIB_SAMPLES (default 128, the reference protocol) windows of 512 tokens calibrate AWQ / SmoothQuant / GPTQ;
# LOSS_TOKENS (default 4096) of them, as whole windows, score AWQ's scale search on each mapping's sub-block;
# GRID (default 20) α points for AWQ. ALPHA (default 0.5) SmoothQuant's α for the smooth-* rows, or "search" (per
# mapping and layer on 0.05..0.95, scored with the row's activation scheme).
# THREADS (default: lowbit's own) is passed to every quantize and evaluate (--threads; 1 for two jobs side by side).
# Results: one line per setting in $OUT/results.tsv (setting, perplexity, quantize seconds); EVAL=0 skips evaluating.
# Weights: W8 / W6 per channel symmetric RTN, W4 (W4A8) g128 asymmetric RTN.
# Usage: scripts/awq-smooth-table.sh [OUT_DIR] [SETTING...]
#   weight-only: fp rtn-w4 rtn-w3 awq-w4 awq-w3 awqscale-w4 awqscale-w3 awq-gptq-w4 awq-gptq-w3 gptq-w4 gptq-w3
#   activations: w8a8-{static,token} smooth-w8a8-{static,token} smoothdown-w8a8-static w4a8 smooth-w4a8 w6a6 smooth-w6a6
#                inputs-static (W8A8 static with one Linear input quantized at a time)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-awq}; shift || true
model="$root/../shared/models/tiny-llama-code"
data="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
windows=${WINDOWS:-16}; samples=${CALIB_SAMPLES:-128}; lt=${LOSS_TOKENS:-4096}
th=(); [ -n "${THREADS:-}" ] && th=(--threads "$THREADS")
settings=("$@"); [ ${#settings[@]} -gt 0 ] || settings=(rtn-w4 rtn-w3 awq-w4 awq-w3 w8a8-static w8a8-token smooth-w8a8-static smooth-w8a8-token)
mkdir -p "$out"
recipe() { # recipe FILE BITS GROUP TRANSFORM-YAML QUANTIZER   (6-bit weights: GPTQ's format cannot store them)
  local fmt=gptq; [ "$2" = 6 ] && fmt=compressed-tensors
  cat > "$1" <<YAML
version: 2
steps:
$4
  - {type: $5, bits: $2, group_size: $3, symmetric: ${SYM:-false}}
calibration: {data: $calib, samples: $samples, seqlen: 512}
output: {format: $fmt}
YAML
}
quantize() { # quantize NAME RECIPE
  local t0=$SECONDS
  "$root/lowbit" quantize "$model" -o "$out/$1" --force "${th[@]}" --recipe "$2" > "$out/$1.quantize.log" 2>&1
  echo $((SECONDS - t0))
}
evaluate() { # evaluate DIR EXTRA-ARGS...   (EVAL=0: quantize only, for timings)
  local dir=$1; shift
  [ "${EVAL:-1}" = 1 ] || { echo -; return; }
  "$root/lowbit" evaluate "$dir" --data "$data" --max-windows "$windows" "${th[@]}" --json "$@" | grep -o '"perplexity":[0-9.]*' | cut -d: -f2
}
for s in "${settings[@]}"; do
  secs=0; extra=()
  case $s in
    fp) dir=$model ;;
    rtn-w4|rtn-w3) b=${s#rtn-w}; "$root/lowbit" quantize "$model" -o "$out/$s" --force -q --method rtn --bits "$b" --group-size 128 >/dev/null; dir=$out/$s ;;
    gptq-w4|gptq-w3) b=${s#gptq-w}; secs=$( { t0=$SECONDS; "$root/lowbit" quantize "$model" -o "$out/$s" --force -q "${th[@]}" --method gptq --bits "$b" --group-size 128 --calib "$calib" --calib-samples "$samples" >/dev/null; echo $((SECONDS - t0)); } ); dir=$out/$s ;;
    awq-w4|awq-w3) b=${s#awq-w}; recipe "$out/$s.yaml" "$b" 128 "  - {type: awq, grid: ${GRID:-20}, loss_tokens: $lt, clip_bits: $b, clip_group_size: 128}" rtn; secs=$(quantize "$s" "$out/$s.yaml"); dir=$out/$s ;;
    awqscale-w4|awqscale-w3) b=${s#awqscale-w}; recipe "$out/$s.yaml" "$b" 128 "  - {type: awq, grid: ${GRID:-20}, loss_tokens: $lt, clip: false, clip_bits: $b, clip_group_size: 128}" rtn; secs=$(quantize "$s" "$out/$s.yaml"); dir=$out/$s ;;
    awq-gptq-w4|awq-gptq-w3) b=${s#awq-gptq-w}; recipe "$out/$s.yaml" "$b" 128 "  - {type: awq, grid: ${GRID:-20}, loss_tokens: $lt, clip_bits: $b, clip_group_size: 128}" gptq; secs=$(quantize "$s" "$out/$s.yaml"); dir=$out/$s ;;
    w8a8-*|w4a8|w6a6|inputs-static)
      wb=8; [ "$s" = w4a8 ] && wb=4; [ "$s" = w6a6 ] && wb=6
      if [ "$s" = w4a8 ]; then dir=$out/rtn-w4; [ -d "$dir" ] || "$root/lowbit" quantize "$model" -o "$dir" --force -q --method rtn --bits 4 --group-size 128 >/dev/null
      else dir=$out/rtn-w${wb}pc; fmt=gptq; [ "$wb" = 6 ] && fmt=compressed-tensors
        [ -d "$dir" ] || "$root/lowbit" quantize "$model" -o "$dir" --force -q --method rtn --bits "$wb" --group-size -1 --sym --format "$fmt" >/dev/null; fi ;;
    smooth-*|smoothdown-*)
      base=${s#smooth-}; base=${base#smoothdown-}; wb=8; [ "$base" = w4a8 ] && wb=4; [ "$base" = w6a6 ] && wb=6
      down=false; [[ $s == smoothdown-* ]] && down=true
      name=${s%%-*}-a${ALPHA:-0.5}-w${wb}pc
      # ALPHA=search: α per mapping and layer, scored with the activations the row is evaluated with
      sq="alpha: ${ALPHA:-0.5}, down_proj: $down"
      if [ "${ALPHA:-}" = search ]; then
        case $base in w8a8-static) a=int8-tensor ;; w6a6) a=int6-token ;; *) a=int8-token ;; esac
        sq="$sq, activations: $a"; name=$s-search
      fi
      if [ "$wb" = 4 ]; then recipe "$out/$name.yaml" 4 128 "  - {type: smooth, $sq}" rtn
      else SYM=true recipe "$out/$name.yaml" "$wb" -1 "  - {type: smooth, $sq}" rtn; fi
      [ -d "$out/$name" ] || secs=$(quantize "$name" "$out/$name.yaml"); dir=$out/$name ;;
    *) echo "unknown setting $s" >&2; exit 2 ;;
  esac
  case $s in
    *w8a8-static) extra=(--activations int8-tensor --act-calib "$calib") ;;
    *w8a8-token) extra=(--activations int8-token) ;;
    *w4a8) extra=(--activations int8-token) ;;
    *w6a6) extra=(--activations int6-token) ;;
  esac
  if [ "$s" = inputs-static ]; then
    for in in qkv o gate_up down; do
      echo -e "w8a8-static-only-$in\t$(evaluate "$dir" --activations int8-tensor --act-calib "$calib" --act-inputs "$in")\t0" | tee -a "$out/results.tsv"
    done
    continue
  fi
  echo -e "$s\t$(evaluate "$dir" "${extra[@]}")\t$secs" | tee -a "$out/results.tsv"
done
