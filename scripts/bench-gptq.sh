#!/usr/bin/env bash
# GPTQ w4 g128 of tiny-llama-code (128 × 512 calibration tokens of calib_code.txt), lowbit vs the reference PyTorch
# GPTQ algorithm (scripts/reference/torch_llama_gptq.py on Debian's python3-torch + OpenBLAS), same CPU, same run.
# SAMPLES=N uses N calibration windows instead of 128 (a quicker comparison). Prints both wall times with their breakdowns and the ratio. Needs: apt-get install python3-torch libopenblas0-pthread
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared"; model="$shared/models/tiny-llama-code"
threads=${THREADS:-2}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$root/lowbit" tokenize "$model" --data "$shared/data/calib_code.txt" -o "$work/calib.i32" >/dev/null
start=$(date +%s.%N)
"$root/lowbit" quantize "$model" -o "$work/lowbit-out" --method gptq --bits 4 --group-size 128 \
  --calib "$shared/data/calib_code.txt" --calib-samples "${SAMPLES:-128}" --calib-seqlen 512 --threads "$threads" --json -q > "$work/lowbit.json"
lowbit_s=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
/usr/bin/python3 "$root/scripts/reference/torch_llama_gptq.py" gptq --model "$model" --tokens "$work/calib.i32" \
  --samples "${SAMPLES:-128}" --ctx 512 --bits 4 --group-size 128 --threads "$threads" > "$work/torch.json"
torch_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "lowbit : ${lowbit_s}s wall (process), $(cat "$work/lowbit.json")"
echo "pytorch: ${torch_s}s wall (process), $(cat "$work/torch.json")"
echo "ratio pytorch/lowbit: $(echo "scale=2; $torch_s / $lowbit_s" | bc)"
