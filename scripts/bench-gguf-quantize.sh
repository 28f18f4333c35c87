#!/usr/bin/env bash
# Weights per second of `lowbit quantize --format gguf` against llama.cpp's `llama-quantize`, same machine, same input, same
# run, alternating the two tools so that background load hits both alike. Whole-process wall time (JVM start-up and
# file I/O included for lowbit, model load and I/O for llama-quantize); the best of N runs per tool and type. The
# last column is lowbit's in-process rate (its report's seconds: read, quantize, write; no JVM start-up).
#
# usage: scripts/bench-gguf-quantize.sh [F32_GGUF] [N]
#   F32_GGUF  an F32 GGUF to quantize (default: tiny-llama-code, converted with `lowbit convert` into $WORK)
#   N         runs per tool and type (default 3)
# env: LLAMA_QUANTIZE  path of llama-quantize (default /work/llama.cpp/build/bin/llama-quantize)
#      THREADS         threads for both tools (default 2; lowbit uses 2)
#      TYPES           types to time (default "Q8_0 Q4_0 Q4_K"), each with --pure so that every quantizable tensor
#                      has that type (Q4_K runs the Q4_K_M mix with --pure)
#      WORK            scratch directory (default a fresh mktemp -d, removed at exit)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lq=${LLAMA_QUANTIZE:-/work/llama.cpp/build/bin/llama-quantize}
threads=${THREADS:-2}
types=${TYPES:-"Q8_0 Q4_0 Q4_K"}   # all with --pure: every quantizable tensor in that type
n=${2:-3}
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; fi
[ -x "$lq" ] || { echo "bench: llama-quantize not found at $lq (set LLAMA_QUANTIZE)" >&2; exit 2; }
"$root/lowbit" --version >/dev/null   # build once, outside the timings
src=${1:-}
if [ -z "$src" ]; then
  src="$WORK/model-f32.gguf"
  "$root/lowbit" convert "$root/../shared/models/tiny-llama-code" -o "$src" --type f32 --force >/dev/null
fi
weights=$("$root/lowbit" quantize "$src" --format gguf -o "$WORK/probe.gguf" --type F32 --force --json | sed -n 's/.*"parameters":\([0-9]*\).*/\1/p')
now() { date +%s.%N; }
best() { sort -g | head -n 1; }
printf '%-6s %14s %14s %10s %16s   (%s weights, best of %d, %d threads, %s)\n' type "lowbit w/s" "llama.cpp w/s" ratio "lowbit in-proc" \
  "$weights" "$n" "$threads" "$(nproc) cores"
for t in $types; do
  mix=$t; pure=(--pure)
  if [ "$t" = Q4_K ]; then mix=Q4_K_M; fi
  ours=(); theirs=(); inproc=()
  for ((i = 0; i < n; i++)); do
    a=$(now); json=$("$root/lowbit" quantize "$src" --format gguf -o "$WORK/ours.gguf" --type "$mix" "${pure[@]}" --force --json); b=$(now)
    ours+=("$(echo "$b - $a" | bc -l)")
    inproc+=("$(echo "$json" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')")
    a=$(now); "$lq" "${pure[@]}" "$src" "$WORK/theirs.gguf" "$mix" "$threads" >/dev/null 2>&1; b=$(now)
    theirs+=("$(echo "$b - $a" | bc -l)")
  done
  to=$(printf '%s\n' "${ours[@]}" | best); tt=$(printf '%s\n' "${theirs[@]}" | best); ti=$(printf '%s\n' "${inproc[@]}" | best)
  same=$(cmp -s "$WORK/ours.gguf" "$WORK/theirs.gguf" && echo "files identical" || echo "files differ")
  printf '%-6s %14.0f %14.0f %10.3f %16.0f   (lowbit %.2f s, in-process %.2f s, llama.cpp %.2f s; %s)\n' "$t" \
    "$(echo "$weights / $to" | bc -l)" "$(echo "$weights / $tt" | bc -l)" "$(echo "$tt / $to" | bc -l)" \
    "$(echo "$weights / $ti" | bc -l)" "$to" "$ti" "$tt" "$same"
done
