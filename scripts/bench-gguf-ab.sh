#!/usr/bin/env bash
# Two lowbit builds and llama-quantize on the same GGUF, alternating (old, new, llama.cpp) so that background load hits
# all three alike: whole-process wall time, user and system CPU (/usr/bin/time) and peak RSS of every run, whether each
# lowbit output is byte-identical to llama-quantize's, then the CPU seconds per thread of one run of each build
# (scripts/thread-cpu.sh). For a change to lowbit's GGUF path: OLD = a frozen clone of main before it, NEW = after.
#
# usage: scripts/bench-gguf-ab.sh OLD_LOWBIT NEW_LOWBIT GGUF [N]
#   OLD_LOWBIT, NEW_LOWBIT  launchers of two built clones (LOWBIT_NO_BUILD=1 is set: they must be built)
#   GGUF                    an F16 (or F32) GGUF, e.g. the 7B-shaped one of scripts/bench-gguf-quantize.sh
#   N                       rounds per type and thread count (default 2)
# env: LLAMA_QUANTIZE (default /work/llama.cpp/build/bin/llama-quantize), THREADS (default "1 2"),
#      TYPES (default "Q8_0 Q4_0"), SPLIT (default 1: the per-thread CPU runs; 0 skips them)
#        scripts/bench-gguf-ab.sh --summarize LOG   the table of a finished run's output (best wall of N per row, the
#                                                   CPU of that run, ratios llama-quantize / lowbit), as markdown
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${1:-}" = --summarize ]; then
  echo "| type, threads | before: wall (CPU) | after: wall (CPU) | llama-quantize: wall (CPU) | ratio before | ratio after |"
  echo "| --- | --- | --- | --- | --- | --- |"
  awk '/^(old|new|llama\.cpp) Q/ && / rc=0 / {
         k = $2 " " $3; w = $6 + 0; c = $9 + $12
         if (!((k, $1) in best) || w < best[k, $1]) { best[k, $1] = w; cpu[k, $1] = c }
         keys[k] = 1
       }
       END {
         for (k in keys)
           printf "| %s | %.2f s (%.1f s) | %.2f s (%.1f s) | %.2f s (%.1f s) | %.2f× | %.2f× |\n", k, best[k, "old"], cpu[k, "old"],
             best[k, "new"], cpu[k, "new"], best[k, "llama.cpp"], cpu[k, "llama.cpp"],
             best[k, "llama.cpp"] / best[k, "old"], best[k, "llama.cpp"] / best[k, "new"]
       }' "$2" | sort -t'|' -k2,2
  exit 0
fi
old=$1 new=$2 src=$3 n=${4:-2}
lq=${LLAMA_QUANTIZE:-/work/llama.cpp/build/bin/llama-quantize}
export LOWBIT_NO_BUILD=1
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
run() {
  local label=$1; shift
  local a b rc
  a=$(date +%s.%N); /usr/bin/time -f "%U %S %M" -o "$w/time" "$@" >/dev/null 2>"$w/err"; rc=$?; b=$(date +%s.%N)
  read -r u s m < "$w/time"
  printf '%-18s rc=%d  wall %6.2f s  user %6.2f s  sys %5.2f s  peak RSS %5d MiB\n' "$label" "$rc" "$(echo "$b - $a" | bc -l)" "$u" "$s" $((m / 1024))
  [ "$rc" = 0 ] || tail -n 3 "$w/err"
}
echo "$(date -u +%H:%M:%S) $(uptime | sed 's/.*load/load/'); $(nproc) cores"
for th in ${THREADS:-1 2}; do
  for t in ${TYPES:-Q8_0 Q4_0}; do
    for ((i = 1; i <= n; i++)); do
      rm -f "$w"/*.gguf "$w"/*.json
      run "old $t t$th" "$old" quantize "$src" --format gguf -o "$w/old.gguf" --type "$t" --threads "$th" -q
      run "new $t t$th" "$new" quantize "$src" --format gguf -o "$w/new.gguf" --type "$t" --threads "$th" -q
      run "llama.cpp $t t$th" "$lq" "$src" "$w/llama.gguf" "$t" "$th"
      for v in old new; do cmp -s "$w/$v.gguf" "$w/llama.gguf" && echo "  $v: identical to llama-quantize's" || echo "  $v: DIFFERS from llama-quantize's"; done
    done
    echo "$(date -u +%H:%M:%S) $(uptime | sed 's/.*load/load/')"
  done
done
if [ "${SPLIT:-1}" = 1 ]; then
  for th in ${THREADS:-1 2}; do
    for t in ${TYPES:-Q8_0 Q4_0}; do
      for v in old new; do
        rm -f "$w"/*.gguf "$w"/*.json
        bin=$old; [ "$v" = new ] && bin=$new
        echo "-- CPU per thread: $v $t t$th"
        MATCH="$w/split.gguf" "$root/scripts/thread-cpu.sh" "$bin" quantize "$src" --format gguf -o "$w/split.gguf" --type "$t" --threads "$th" -q |
          grep -v '^ *\(size\|tensors\|wrote\)'
      done
    done
  done
fi
