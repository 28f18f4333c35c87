#!/usr/bin/env bash
# FP formats on tiny-llama-code: quantize with each setting, evaluate perplexity on eval_code.txt, print one markdown
# row per setting with the effective bits per weight (every stored byte of the quantized Linears: codes, block
# scales, global scales, zero points) and the ratio to fp.
#
#   scripts/fp-table.sh                  # the whole file: the reference protocol (about 40 min per evaluation on 2 busy cores)
#   WINDOWS=64 scripts/fp-table.sh       # the first 64 windows of 512
#   ROWS="fp8 nvfp4" scripts/fp-table.sh # a subset (names below)
#   FP=15.6290 ROWS=... scripts/fp-table.sh  # rows in parallel runs, fp measured once
#   THREADS=1 scripts/fp-table.sh        # PyTorch / quantizer threads (default: all processors)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared"
model="$shared/models/tiny-llama-code"
out=${OUT:-$root/out/fp-table}
windows=${WINDOWS:-0}
threads=(); [ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
calib=(--calib "$shared/data/calib_code.txt" --calib-samples 128 --calib-seqlen 512)
mkdir -p "$out"

declare -A FLAGS=(
  [fp8]="--method rtn --scheme fp8"
  [w8a8-fp8]="--method rtn --scheme fp8 --input-activations fp8-token"
  [mxfp4-ocp]="--method rtn --scheme mxfp4 --mx-exponent ocp"
  [mxfp4-ct]="--method rtn --scheme mxfp4 --mx-exponent compressed-tensors"
  [mxfp4-modelopt]="--method rtn --scheme mxfp4 --mx-exponent modelopt"
  [nvfp4]="--method rtn --scheme nvfp4"
  [nvfp4-4over6]="--method rtn --scheme nvfp4 --four-over-six mse"
  [gptq-nvfp4]="--method gptq --scheme nvfp4"
  [gptq-nvfp4-4over6]="--method gptq --scheme nvfp4 --four-over-six weighted"
  [gptq-mxfp4]="--method gptq --scheme mxfp4"
  [int4-g32-rtn]="--method rtn --bits 4 --group-size 32 --format compressed-tensors"
  [int4-g32-gptq]="--method gptq --bits 4 --group-size 32 --format compressed-tensors"
)
rows=${ROWS:-"fp fp8 w8a8-fp8 mxfp4-ocp mxfp4-ct mxfp4-modelopt nvfp4 nvfp4-4over6 gptq-nvfp4 gptq-nvfp4-4over6 gptq-mxfp4 int4-g32-rtn int4-g32-gptq"}

ppl() { "$root/lowbit" evaluate "$1" --data "$shared/data/eval_code.txt" --max-windows "$windows" "${threads[@]}" --json | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["perplexity"])'; }

fp=${FP:-$(ppl "$model")}   # FP=15.6290: reuse an fp figure of the same protocol
echo "| setting | bits/weight | perplexity | vs fp |"
echo "| --- | --- | --- | --- |"
for r in $rows; do
  if [ "$r" = fp ]; then echo "| fp (bf16 weights, f32 compute) | 16 | $fp | 1.0000 |"; continue; fi
  extra=()
  case "${FLAGS[$r]}" in *gptq*) extra=("${calib[@]}") ;; esac
  # shellcheck disable=SC2086
  bpw=$("$root/lowbit" quantize "$model" -o "$out/$r" ${FLAGS[$r]} "${extra[@]}" "${threads[@]}" --force --json -q \
        | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["linear_bits_per_weight"])')
  p=$(ppl "$out/$r")
  echo "| $r (\`${FLAGS[$r]}\`) | $bpw | $p | $(python3 -c "print('%.4f' % ($p / $fp))") |"
done
