#!/usr/bin/env bash
# Writes a seeded random Llama checkpoint of any shape (sharded bf16 safetensors, config.json, tiny-llama-code's
# tokenizer) for memory / time measurements at real model sizes. Streams: nothing of it is held in memory.
#
#   scripts/make-synthetic-checkpoint.sh DIR                       # Llama-2-7B's shape, vocabulary 8192 (13.5 GB)
#   scripts/make-synthetic-checkpoint.sh DIR --preset 1b           # hidden 2048, 16 layers, 16 heads, MLP 5632
#   scripts/make-synthetic-checkpoint.sh DIR --hidden 1024 --layers 4 --heads 8 --kv-heads 4 --intermediate 2816 \
#       [--vocab 8192] [--max-positions 4096] [--seed 0] [--shard-size 5GB] [--tokenizer-from MODEL_DIR]
#
# Generate into a temp directory outside every repository; never commit one.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 1 ] || { sed -n 2,10p "$0" >&2; exit 2; }
dir=$1; shift
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --preset)
      case ${2:-} in
        7b) args+=(--hidden 4096 --layers 32 --heads 32 --intermediate 11008) ;;
        1b) args+=(--hidden 2048 --layers 16 --heads 16 --intermediate 5632) ;;
        *) echo "make-synthetic-checkpoint: --preset 7b|1b" >&2; exit 2 ;;
      esac
      shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
"$root/lowbit" --version >/dev/null   # builds the CLI when sources changed
. "$root/scripts/java-home.sh"
exec "$JAVA_HOME/bin/java" -Xmx256m -Dlowbit.shared="$root/../shared" -cp "$root/quantize-cli/target/lowbit.jar:$root/quantize-cli/target/lib/*" \
  dev.lowbit.pipeline.synth.SyntheticCheckpoint "$dir" ${args[@]+"${args[@]}"}
