#!/usr/bin/env bash
# End-to-end speed of `lowbit evaluate` on eval_code.txt (tokens/s of the forward + scoring loop), and the same
# model's forward in plain PyTorch on this CPU in the same run, when Debian's python3-torch is installed.
# Usage: scripts/bench-evaluate.sh [WINDOWS=24] [THREADS=2] [BATCH=4]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared="$root/../shared"
model="$shared/models/tiny-llama-code"
windows=${1:-24}; threads=${2:-2}; batch=${3:-4}
python=${PYTHON:-/usr/bin/python3}

echo "lowbit evaluate: $windows windows of 512, $threads threads, batch $batch" >&2
lowbit_json=$("$root/lowbit" evaluate "$model" --data "$shared/data/eval_code.txt" --max-windows "$windows" \
  --threads "$threads" --batch "$batch" --json)
echo "lowbit:  $lowbit_json"
lowbit_tps=$(sed -E 's/.*"forward_tokens_per_second":([0-9.eE+-]+).*/\1/' <<<"$lowbit_json")

if "$python" -c 'import torch' 2>/dev/null; then
  torch_json=$("$python" "$root/scripts/bench_evaluate_torch.py" "$model" "$windows" 512 "$batch" "$threads")
  echo "pytorch: $torch_json"
  torch_tps=$(sed -E 's/.*"tokens_per_second": ([0-9.eE+-]+).*/\1/' <<<"$torch_json")
  awk -v a="$lowbit_tps" -v b="$torch_tps" \
    'BEGIN { printf "forward tokens/s: lowbit %.0f, pytorch %.0f, ratio lowbit/pytorch %.2f\n", a, b, a / b }'
else
  echo "forward tokens/s: lowbit $lowbit_tps (no python3-torch here for a PyTorch baseline)"
fi
