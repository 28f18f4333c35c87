#!/usr/bin/env bash
# W8A8 (compressed-tensors int-quantized) figures on tiny-llama-code: where static per-tensor activations lose, and
# what recovers it. WINDOWS=16 (default) evaluates the first 16 windows of eval_code.txt; WINDOWS=0 the whole file
# (reference protocol). CALIB_SAMPLES (default 128) windows of 512 tokens give the static input scales and SmoothQuant's
# statistics; THREADS (default 1) for quantize and evaluate.
# Results: one line per setting in $OUT/results.tsv (setting, perplexity).
# Usage: scripts/w8a8-table.sh [OUT_DIR] [SETTING...]
#   layers-down    W8 weights, int8 static per tensor on one layer's down_proj input at a time (--act-layers)
#   layers-all     the same for every (layer, input) pair
#   static token   --scheme w8a8 --act static | dynamic, no smoothing
#   static-ign2    --act static with layer 2's down_proj left unquantized (--ignore; bf16 weights, fp input)
#   sq-static sq-token sqdown-static sqdown8-static   --method smoothquant (α 0.5; +down_proj; α 0.8 + down_proj)
#   sqsearch-static sqdownsearch-static sqdownsearch-token   --smooth-alpha search (α per mapping and layer), +down_proj
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-w8a8}; shift || true
model="$root/../shared/models/tiny-llama-code"
data="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
windows=${WINDOWS:-16}; samples=${CALIB_SAMPLES:-128}; threads=${THREADS:-1}
settings=("$@"); [ ${#settings[@]} -gt 0 ] || settings=(layers-down static token static-ign2 sqdown-static)
mkdir -p "$out"
evaluate() { # evaluate DIR EXTRA-ARGS...
  local dir=$1; shift
  "$root/lowbit" evaluate "$dir" --data "$data" --max-windows "$windows" --threads "$threads" -q --json "$@" | grep -o '"perplexity":[0-9.]*' | cut -d: -f2
}
w8a8() { # w8a8 NAME ARGS...: a W8A8 checkpoint
  local name=$1; shift
  "$root/lowbit" quantize "$model" -o "$out/$name" --force -q --scheme w8a8 --threads "$threads" "$@" >/dev/null
}
row() { echo -e "$1\t$2" | tee -a "$out/results.tsv"; }
for s in "${settings[@]}"; do
  case $s in
    layers-down|layers-all)
      [ -d "$out/w8" ] || "$root/lowbit" quantize "$model" -o "$out/w8" --force -q --method rtn --bits 8 --group-size -1 --sym \
          --format compressed-tensors --threads "$threads" >/dev/null
      inputs=(down); [ "$s" = layers-all ] && inputs=(qkv o gate_up down)
      layers=$(python3 -c "import json;print(json.load(open('$model/config.json'))['num_hidden_layers'])")
      for in in "${inputs[@]}"; do
        for ((l = 0; l < layers; l++)); do
          row "w8-static-$in-layer$l" "$(evaluate "$out/w8" --activations int8-tensor --act-calib "$calib" --act-calib-samples 16 \
              --act-inputs "$in" --act-layers "$l")"
        done
      done ;;
    static) w8a8 "$s" --method rtn --act static --calib "$calib" --calib-samples "$samples"; row "$s" "$(evaluate "$out/$s")" ;;
    token) w8a8 "$s" --method rtn; row "$s" "$(evaluate "$out/$s")" ;;
    static-ign2) w8a8 "$s" --method rtn --act static --calib "$calib" --calib-samples "$samples" --ignore 'layers\.2\.mlp\.down_proj'
      row "$s" "$(evaluate "$out/$s")" ;;
    sq-static) w8a8 "$s" --method smoothquant --act static --calib "$calib" --calib-samples "$samples"; row "$s" "$(evaluate "$out/$s")" ;;
    sq-token) w8a8 "$s" --method smoothquant --calib "$calib" --calib-samples "$samples"; row "$s" "$(evaluate "$out/$s")" ;;
    sqdown-static) w8a8 "$s" --method smoothquant --smooth-down-proj --act static --calib "$calib" --calib-samples "$samples"
      row "$s" "$(evaluate "$out/$s")" ;;
    sqdown8-static) w8a8 "$s" --method smoothquant --smooth-alpha 0.8 --smooth-down-proj --act static --calib "$calib" \
          --calib-samples "$samples"; row "$s" "$(evaluate "$out/$s")" ;;
    sqdownsearch-static|sqsearch-static) down=(); [ "$s" = sqdownsearch-static ] && down=(--smooth-down-proj)
      w8a8 "$s" --method smoothquant --smooth-alpha search "${down[@]}" --act static --calib "$calib" --calib-samples "$samples"
      row "$s" "$(evaluate "$out/$s")" ;;
    sqdownsearch-token) w8a8 "$s" --method smoothquant --smooth-alpha search --smooth-down-proj --calib "$calib" --calib-samples "$samples"
      row "$s" "$(evaluate "$out/$s")" ;;
    *) echo "unknown setting $s" >&2; exit 2 ;;
  esac
done
