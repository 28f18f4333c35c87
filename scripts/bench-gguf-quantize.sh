#!/usr/bin/env bash
# Issue 16's GGUF throughput check: `lowbit quantize MODEL.gguf --format gguf --type T` against llama.cpp's
# `llama-quantize MODEL.gguf OUT.gguf T NTHREADS`, same machine, same input, same run, the two tools alternating so that
# background load hits both alike. Whole-process wall time: JVM start-up, input digest, output hash and fsync included
# for lowbit; model load and I/O for llama-quantize. The best of N runs per tool and type; ratio = llama-quantize's
# time / lowbit's (> 1: lowbit is faster). The last column is lowbit's in-process rate (its report's seconds: read,
# quantize, write, fsync; no JVM start-up). Every output pair is compared byte for byte.
#
# The issue's measurement: the 7B-shaped model as an F16 GGUF (8 layers are enough: both tools stream per tensor),
#   scripts/make-synthetic-checkpoint.sh /tmp/syn7b-8 --preset 7b --layers 8
#   ./lowbit convert /tmp/syn7b-8 -o /tmp/syn7b-8-f16.gguf --type f16
#   THREADS=1 scripts/bench-gguf-quantize.sh /tmp/syn7b-8-f16.gguf 3
#   THREADS=2 scripts/bench-gguf-quantize.sh /tmp/syn7b-8-f16.gguf 3     # "both cores busy"
#   THREADS="1 2" scripts/bench-gguf-quantize.sh /tmp/syn7b-8-f16.gguf 3 # both tables in one command
#
# usage: scripts/bench-gguf-quantize.sh [GGUF] [N]
#   GGUF  an F16 (or F32) GGUF to quantize (default: tiny-llama-code, converted to F32 with `lowbit convert` into $WORK)
#   N     runs per tool and type (default 3)
# env: LLAMA_QUANTIZE  path of llama-quantize (default /work/llama.cpp/build/bin/llama-quantize)
#      THREADS         threads for both tools: lowbit --threads N, llama-quantize's nthread N (default 2); a list
#                      ("1 2") runs the whole table once per count
#      JFR             a directory: each lowbit run also records JFR (settings=profile) there, and the split of the
#                      last run per type and thread count (seconds per thread and method, scripts/jfr-threads.py) is
#                      printed under the table; timings then include the recording's cost
#      TYPES           mixes to time (default "Q8_0 Q4_0 Q4_K_M"): llama.cpp's mixes as `--type T` gives them
#      PURE            1: add --pure to both tools (every quantizable tensor in the mix's default type)
#      WORK            scratch directory (default a fresh mktemp -d, removed at exit)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lq=${LLAMA_QUANTIZE:-/work/llama.cpp/build/bin/llama-quantize}
threads_list=${THREADS:-2}
types=${TYPES:-"Q8_0 Q4_0 Q4_K_M"}
pure=(); [ "${PURE:-0}" = 1 ] && pure=(--pure)
n=${2:-3}
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; fi
[ -x "$lq" ] || { echo "bench: llama-quantize not found at $lq (set LLAMA_QUANTIZE)" >&2; exit 2; }
"$root/lowbit" --version >/dev/null   # build once, outside the timings
src=${1:-}
if [ -z "$src" ]; then
  src="$WORK/model-f32.gguf"
  "$root/lowbit" convert "$root/../shared/models/tiny-llama-code" -o "$src" --type f32 --force >/dev/null
fi
weights=$("$root/lowbit" inspect "$src" --json --no-tensors | sed -n 's/^ *"parameter_count" : \([0-9]*\).*/\1/p')
now() { date +%s.%N; }
best() { sort -g | head -n 1; }
jfr=${JFR:-}
[ -z "$jfr" ] || mkdir -p "$jfr"
for threads in $threads_list; do
printf '%-7s %14s %14s %8s %16s   (%s weights, best of %d, %d threads, %s cores%s)\n' type "lowbit w/s" "llama.cpp w/s" ratio \
  "lowbit in-proc" "$weights" "$n" "$threads" "$(nproc)" "${pure:+, --pure}"
splits=()
for t in $types; do
  ours=(); theirs=(); inproc=()
  for ((i = 0; i < n; i++)); do
    rm -f "$WORK/ours.gguf" "$WORK/ours.gguf.lowbit-manifest.json" "$WORK/theirs.gguf"
    rec=""; [ -z "$jfr" ] || rec="-XX:StartFlightRecording=filename=$jfr/$t-t$threads.jfr,settings=profile"
    a=$(now); json=$(LOWBIT_JAVA_OPTS="${LOWBIT_JAVA_OPTS:-} $rec" "$root/lowbit" quantize "$src" --format gguf -o "$WORK/ours.gguf" --type "$t" "${pure[@]}" --threads "$threads" --json -q); b=$(now)
    ours+=("$(echo "$b - $a" | bc -l)")
    inproc+=("$(echo "$json" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')")
    a=$(now); "$lq" "${pure[@]}" "$src" "$WORK/theirs.gguf" "$t" "$threads" >/dev/null 2>&1; b=$(now)
    theirs+=("$(echo "$b - $a" | bc -l)")
  done
  to=$(printf '%s\n' "${ours[@]}" | best); tt=$(printf '%s\n' "${theirs[@]}" | best); ti=$(printf '%s\n' "${inproc[@]}" | best)
  same=$(cmp -s "$WORK/ours.gguf" "$WORK/theirs.gguf" && echo "files identical" || echo "FILES DIFFER")
  printf '%-7s %14.0f %14.0f %8.3f %16.0f   (lowbit %.2f s, in-process %.2f s, llama.cpp %.2f s; %s)\n' "$t" \
    "$(echo "$weights / $to" | bc -l)" "$(echo "$weights / $tt" | bc -l)" "$(echo "$tt / $to" | bc -l)" \
    "$(echo "$weights / $ti" | bc -l)" "$to" "$ti" "$tt" "$same"
  rm -f "$WORK/ours.gguf" "$WORK/ours.gguf.lowbit-manifest.json" "$WORK/theirs.gguf"
  [ -z "$jfr" ] || splits+=("$t")
done
for t in ${splits[@]+"${splits[@]}"}; do
  echo "-- where lowbit's seconds went, $t, $threads threads (JFR samples, last run; $jfr/$t-t$threads.jfr):"
  python3 "$root/scripts/jfr-threads.py" "$jfr/$t-t$threads.jfr" 1 6
done
done
