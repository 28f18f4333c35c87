#!/usr/bin/env bash
# AWQ into llama.cpp's k-quant mixes on tiny-llama-code: recipe [awq, rtn] with output gguf (the scale search scores
# each mapping with the mix's own ggml types; the importance matrix is measured from --calib on the transformed
# layers), evaluated on llama.cpp's protocol (60 windows of 512) by lowbit evaluate and, when LLAMA_CPP is set, by
# llama-perplexity. Baselines: llama-quantize with an imatrix from the same 128 calibration windows (../shared/README.md).
# Usage: scripts/awq-gguf-table.sh [OUT_DIR] [MIX...]          (default mixes Q4_K_M Q3_K_M)
#   CLIP=false|true (default false: the clip search rounds onto an integer grid, not the k-quant's)
#   CALIB_SAMPLES (128), LOSS_TOKENS (4096), GRID (20), THREADS (2: quantize, evaluate, llama-perplexity),
#   LLAMA_CPP=/path/to/llama.cpp/build/bin
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-awq-gguf}; shift || true
mixes=("$@"); [ ${#mixes[@]} -gt 0 ] || mixes=(Q4_K_M Q3_K_M)
model="$root/../shared/models/tiny-llama-code"
eval="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
threads=${THREADS:-2}
mkdir -p "$out"
declare -A imat=([Q4_K_M]=13.8300 [Q3_K_M]=14.1002 [Q2_K]=15.1896)
for mix in "${mixes[@]}"; do
  bits=4; group=32; sym=false
  case $mix in Q3_K*) bits=3; group=16; sym=true ;; Q2_K*) bits=2; group=16 ;; esac
  cat > "$out/awq-$mix.yaml" <<YAML
version: 2
steps:
  - {type: awq, grid: ${GRID:-20}, loss_tokens: ${LOSS_TOKENS:-4096}, clip: ${CLIP:-false}, clip_bits: $bits, clip_group_size: $group, clip_symmetric: $sym}
  - {type: rtn}
calibration: {data: $calib, samples: ${CALIB_SAMPLES:-128}, seqlen: 512}
output: {format: gguf, type: $mix}
YAML
  f="$out/awq-$mix.gguf"
  t0=$SECONDS
  "$root/lowbit" quantize "$model" -o "$f" --force --threads "$threads" --recipe "$out/awq-$mix.yaml" > "$out/awq-$mix.quantize.log" 2>&1
  secs=$((SECONDS - t0))
  pl=$("$root/lowbit" evaluate "$f" --data "$eval" --protocol llamacpp --max-windows 60 --threads "$threads" --json | sed -n 's/.*"perplexity":\([0-9.]*\).*/\1/p')
  pc=-
  if [ -n "${LLAMA_CPP:-}" ]; then
    pc=$("$LLAMA_CPP/llama-perplexity" -m "$f" -f "$eval" -c 512 --chunks 60 -t "$threads" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  fi
  echo -e "awq-$mix\tclip=${CLIP:-false}\t$(stat -c %s "$f")\tlowbit=$pl\tllama-perplexity=$pc\tllama-quantize+imatrix=${imat[$mix]:-?}\tquantize_s=$secs" | tee -a "$out/results.tsv"
done
