#!/usr/bin/env bash
# GPTQ-optimised GGUF vs llama-quantize's rounding on tiny-llama-code, at the same mix (same file size):
# for each mix, quantize with `--method gptq` (calibration: the first 128 × 512 windows of calib_code.txt), write
# llama-quantize's files for the same mix without and with an importance matrix (lowbit's GGUF path writes
# llama-quantize's bytes), and measure every file under llama.cpp's protocol (eval_code.txt, ctx 512, first 60
# windows) with `lowbit evaluate` and, when a llama.cpp build is given, with its llama-perplexity.
# Prints a markdown table; JSON lines go to $OUT/results.jsonl.  BASELINES=0 skips the two llama-quantize files.
#
# Usage: scripts/gptq-gguf-table.sh [OUT_DIR] [MIX...]     (default mixes: Q4_0 Q4_K_M Q3_K_M Q2_K)
#   LLAMA_CPP=/path/to/llama.cpp/build/bin   also measure with llama-perplexity (-t $THREADS)
#   THREADS=2                                threads for quantize, evaluate and llama-perplexity
#   GPTQ_ARGS="--act-order=false"            extra options for the GPTQ runs (e.g. --damp 0.05, --search-importance false)
# Reference figures of llama-quantize itself (../shared/README.md) are printed next to ours.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-gptq-gguf}; shift || true
mixes=("$@"); [ ${#mixes[@]} -gt 0 ] || mixes=(Q4_0 Q4_K_M Q3_K_M Q2_K)
threads=${THREADS:-2}
model="$root/../shared/models/tiny-llama-code"
eval="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
mkdir -p "$out"

# llama-quantize on this model, llama.cpp's protocol, 60 windows (../shared/README.md): without / with imatrix
declare -A plain=([Q4_0]=13.8927 [Q4_K_M]=13.8360 [Q3_K_M]=14.1454 [Q2_K]=15.4514)
declare -A imat=([Q4_0]=13.8888 [Q4_K_M]=13.8300 [Q3_K_M]=14.1002 [Q2_K]=15.1896)
f32=13.7108

ppl_lowbit() {
  "$root/lowbit" evaluate "$1" --data "$eval" --protocol llamacpp --max-windows 60 --threads "$threads" --json \
    | sed -n 's/.*"perplexity":\([0-9.]*\).*/\1/p'
}
ppl_llama() {
  [ -n "${LLAMA_CPP:-}" ] || { echo "-"; return; }
  "$LLAMA_CPP/llama-perplexity" -m "$1" -f "$eval" -c 512 --chunks 60 -t "$threads" 2>&1 \
    | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p'
}

echo "| mix | file | bytes | lowbit evaluate | llama-perplexity | gap to F32 closed vs the better baseline (llama-perplexity, else lowbit) |"
echo "| --- | --- | --- | --- | --- | --- |"
for mix in "${mixes[@]}"; do
  g="$out/$mix-gptq.gguf"
  "$root/lowbit" quantize "$model" -o "$g" --format gguf --type "$mix" --method gptq --calib "$calib" \
    --threads "$threads" --force --json -q ${GPTQ_ARGS:-} > "$out/$mix-gptq.quantize.json"
  files=("$g")
  if [ "${BASELINES:-1}" = 1 ]; then
    # llama-quantize's rounding, same mix: lowbit's GGUF path writes llama-quantize's bytes (without an imatrix;
    # with one computed by lowbit from the same calibration windows)
    "$root/lowbit" quantize "$model" -o "$out/$mix-plain.gguf" --format gguf --type "$mix" --threads "$threads" --force -q > /dev/null
    "$root/lowbit" quantize "$model" -o "$out/$mix-imatrix.gguf" --format gguf --type "$mix" --calib "$calib" \
      --threads "$threads" --force -q > /dev/null
    files+=("$out/$mix-plain.gguf" "$out/$mix-imatrix.gguf")
  fi
  for f in "${files[@]}"; do
    pl=$(ppl_lowbit "$f"); pc=$(ppl_llama "$f")
    closed=-
    if [ "$f" = "$g" ]; then
      best=$(awk -v a="${plain[$mix]}" -v b="${imat[$mix]}" 'BEGIN { print (a < b ? a : b) }')
      closed=$(awk -v p="$pc" -v q="$pl" -v best="$best" -v f="$f32" \
        'BEGIN { x = (p == "-" || p == "") ? q : p; printf "%.0f%% (%s vs %s)", 100 * (best - x) / (best - f), x, best }')
    fi
    echo "| $mix | $(basename "$f") | $(stat -c %s "$f") | $pl | $pc | $closed |"
    echo "{\"mix\":\"$mix\",\"file\":\"$(basename "$f")\",\"bytes\":$(stat -c %s "$f"),\"lowbit_ppl\":${pl:-null},\"llama_ppl\":\"$pc\",\"gptq_args\":\"${GPTQ_ARGS:-}\"}" >> "$out/results.jsonl"
  done
done
echo "llama-quantize reference (../shared/README.md, llama-perplexity): F32 $f32; without / with imatrix:"
for mix in "${mixes[@]}"; do echo "  $mix ${plain[$mix]} / ${imat[$mix]}"; done
