#!/usr/bin/env bash
# The main job: quantize ../shared/models/tiny-llama-code with GPTQ (4-bit, group 128, calibrated on the first 128
# windows of 512 tokens of calib_code.txt), write a GPTQ v1 checkpoint, then evaluate it against the original on
# eval_code.txt: perplexity of both, KL divergence, top-1 agreement.
#
#   scripts/main-job.sh                 # evaluate the first 64 windows (a few minutes on 2 cores)
#   WINDOWS=0 scripts/main-job.sh       # the whole file: the reference protocol of ../shared/README.md
#   OUT=/tmp/w4 METHOD=rtn scripts/main-job.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared"
model="$shared/models/tiny-llama-code"
out=${OUT:-$root/out/tiny-llama-code-${METHOD:-gptq}-w4g128}
windows=${WINDOWS:-64}
calib=()
[ "${METHOD:-gptq}" = gptq ] && calib=(--calib "$shared/data/calib_code.txt" --calib-samples 128 --calib-seqlen 512)

"$root/lowbit" quantize "$model" -o "$out" --method "${METHOD:-gptq}" --bits 4 --group-size 128 "${calib[@]}" --force
"$root/lowbit" evaluate "$out" --data "$shared/data/eval_code.txt" --baseline "$model" --max-windows "$windows"
