#!/usr/bin/env bash
# Peak resident memory and time per layer of every heavy command on a (synthetic) model, one row per command:
#
#   scripts/bench-scale.sh MODEL_DIR [COMMAND...]        COMMAND: inspect convert gguf rtn gptq awq evaluate (default: all)
#
# MODEL_DIR: e.g. one written by scripts/make-synthetic-checkpoint.sh (--preset 1b / 7b). Environment:
#   GPTQ_SAMPLES (default 8) × GPTQ_SEQLEN (512) calibration windows for gptq and awq (the issue's figure is 128 × 512:
#   at the 7B shape a layer boundary is then 1 GiB of f32, of which 128 MiB stay in memory and the rest spills to
#   java.io.tmpdir, -Dlowbit.capture.resident-bytes / spill-dir in LOWBIT_JAVA_OPTS; the run's "spilling layer
#   activations to DIR: N MiB over budget M MiB" line is printed under its row); THREADS (unset: all cores) for
#   the commands that take --threads (gguf, rtn, gptq, awq, evaluate); EVAL_WINDOWS (2) windows of EVAL_CTX
#   (512) tokens for evaluate; OUT (a temp dir, removed) for the outputs; LOWBIT (./lowbit) the launcher; LOWBIT_JAVA_OPTS as usual.
#   AWQ_GRID (unset: --method awq, its 20 α points): awq runs the recipe [awq with grid AWQ_GRID, rtn w4 g128] instead, the
#   same steps with fewer candidates per mapping: its time per layer shrinks, its peak does not (one candidate is
#   scored at a time, whatever the grid).
#   Each command runs under the measurement lock (/work/notes/measure.lock when it exists, LOCK= to change).
#
# peak RSS is /usr/bin/time's maximum resident set size of the process tree's largest process (the JVM): heap,
# libtorch's native memory and the mapped checkpoint pages that are resident, all counted. "s/layer" is the time
# between the first and the last "layer i/N" progress line over the layers in between (start-up and the final write
# excluded); commands without per-layer lines (inspect, convert, evaluate) show wall time / layers.
# PROFILE=1: samples the JVM's /proc/PID/status (RssAnon: heap + libtorch + other native; RssFile: mapped checkpoint
# pages and jars) and jstat's heap (committed, used) every second into OUT/NAME.rss, and prints under the row what was
# resident at the peak and which progress line was the latest then, and (2 layers or more) the peak sample per layer.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 1 ] || { sed -n 2,24p "$0" >&2; exit 2; }
model=$(cd "$1" && pwd); shift
cmds=("$@"); [ ${#cmds[@]} -gt 0 ] || cmds=(inspect convert gguf rtn gptq awq evaluate)
thr=(); [ -n "${THREADS:-}" ] && thr=(--threads "$THREADS")
lowbit=${LOWBIT:-$root/lowbit}
. "$root/scripts/java-home.sh"
lock=${LOCK-/work/notes/measure.lock}
shared=$root/../shared
samples=${GPTQ_SAMPLES:-8}; seqlen=${GPTQ_SEQLEN:-512}; windows=${EVAL_WINDOWS:-2}; ctx=${EVAL_CTX:-512}
out=${OUT:-$(mktemp -d /tmp/bench-scale.XXXXXX)}; mkdir -p "$out"
[ -n "${OUT:-}" ] || trap 'rm -rf "$out"' EXIT
layers=$(sed -n 's/.*"num_hidden_layers": *\([0-9]*\).*/\1/p' "$model/config.json")
"$lowbit" --version >/dev/null   # build outside the measurement
run() { # name, then the lowbit arguments
  local name=$1; shift
  local log=$out/$name.log tf=$out/$name.time
  rm -rf "$out/$name.out" "$out/$name.out.gguf"
  local locker=(); [ -n "$lock" ] && [ -e "$lock" ] && locker=(flock "$lock")
  local t0; t0=$(date +%s.%N)
  set +e
  local pidf=$out/$name.pid; rm -f "$pidf"
  [ "${PROFILE:-0}" = 1 ] && { sample "$pidf" "$out/$name.rss" & }
  ${locker[@]+"${locker[@]}"} /usr/bin/time -f '%M %e' -o "$tf" sh -c 'echo $$ > "$0"; exec env LOWBIT_NO_BUILD=1 "$@"' \
      "$pidf" "$lowbit" "$@" 2>&1 \
    | while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done > "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  [ "${PROFILE:-0}" = 1 ] && wait
  local rss wall; read -r rss wall < <(tail -1 "$tf")
  local per
  per=$(awk -v n="$layers" -v wall="$wall" '
      / layer [0-9]+\/[0-9]+/ { for (i = 2; i <= NF; i++) if ($i == "layer") { split($(i+1), a, "/"); l = a[1]; break }
                              if (first == "") { first = $1; fl = l } last = $1; ll = l }
      END { if (first != "" && ll > fl) printf "%.2f", (last - first) / (ll - fl); else printf "%.2f*", wall / n }' "$log")
  local extra=""
  [ "$rc" = 0 ] || extra=" (exit $rc: $(tail -1 "$log" | cut -d' ' -f2- | cut -c1-80))"
  printf '| %-9s | %7.0f | %8.1f | %8s | %s%s |\n' "$name" "$(echo "$rss / 1024" | bc -l)" "$wall" "$per" "lowbit ${*/#$out\//OUT/}" "$extra"
  grep -m1 -o 'spilling layer activations to .*' "$log" | sed 's/^/  /' || true
  [ "${PROFILE:-0}" = 1 ] && peak "$out/$name.rss" "$log"
  return 0
}
# Samples the JVM (the launcher's java child) once a second until it exits: time, RSS, RssAnon, RssFile (MiB), heap
# committed and used (MiB, jstat -gc: survivor + eden + old).
sample() {
  local pidf=$1 rssf=$2 launcher="" jpid="" i
  for i in $(seq 600); do [ -s "$pidf" ] && break; sleep 0.1; done
  launcher=$(cat "$pidf" 2>/dev/null) || return 0
  for i in $(seq 600); do jpid=$(pgrep -P "$launcher" -x java | head -1) && [ -n "$jpid" ] && break; sleep 0.1; done
  [ -n "$jpid" ] || return 0
  echo "# t rss_mib anon_mib file_mib heap_committed_mib heap_used_mib" > "$rssf"
  while [ -e "/proc/$jpid/status" ]; do
    local st heap
    st=$(awk '/^VmRSS|^RssAnon|^RssFile/ { printf "%d ", $2 / 1024 }' "/proc/$jpid/status" 2>/dev/null) || break
    heap=$("$JAVA_HOME/bin/jstat" -gc "$jpid" 2>/dev/null | awk 'NR == 2 { printf "%d %d", ($1 + $2 + $5 + $7) / 1024, ($3 + $4 + $6 + $8) / 1024 }')
    [ -n "$st" ] && echo "$(date +%s.%N) $st${heap:-- -}" >> "$rssf"
    sleep 1
  done
}
# The sample with the largest RSS and the progress line in effect then.
peak() {
  local rssf=$1 log=$2
  [ -s "$rssf" ] || { echo "  (no samples)"; return 0; }
  awk -v lf="$log" '!/^#/ && $2 > best { best = $2; line = $0 }
      END { split(line, a, " ")
            printf "  peak sample: RSS %d MiB = anon %d + file %d; heap committed %s, used %s MiB (native ≥ anon − heap committed = %s MiB)\n",
                   a[2], a[3], a[4], a[5], a[6], (a[5] == "-" ? "?" : a[3] - a[5])
            t = a[1]; last = ""
            while ((getline l < lf) > 0) { split(l, b, " "); if (b[1] + 0 <= t) last = substr(l, index(l, " ") + 1) }
            printf "  latest output line then: %s\n", substr(last, 1, 160) }' "$rssf"
  # flatness: the largest sample while each layer ran (layer k = from the (k-1)-th "layer i/N" progress line to the k-th)
  awk 'NR == FNR { if ($0 ~ / layer [0-9]+\/[0-9]+/) ends[++n] = $1 + 0; next }
       !/^#/ { k = 1; while (k <= n && $1 + 0 > ends[k]) k++
               if ($2 > m[k]) { m[k] = $2; nat[k] = ($5 == "-" ? "?" : $3 - $5); hc[k] = $5 } if (k > top) top = k }
       END { if (n < 2) exit; s = ""; t = ""; u = ""
             for (k = 1; k <= top && k <= n; k++) {
               s = s (k > 1 ? " / " : "") (m[k] == "" ? "-" : m[k]); t = t (k > 1 ? " / " : "") (m[k] == "" ? "-" : nat[k])
               u = u (k > 1 ? " / " : "") (m[k] == "" ? "-" : hc[k]) }
             printf "  peak sample per layer (MiB): %s\n  at those samples, native (anon - heap committed): %s; heap committed: %s\n", s, t, u }' "$log" "$rssf"
}
echo "model: $model ($layers layers); $(date -u +%FT%TZ); LOWBIT_JAVA_OPTS=${LOWBIT_JAVA_OPTS:-}; lock: ${lock:-none}"
echo "| command   | peak RSS MiB | wall s | s/layer | run |"
echo "| --- | ---: | ---: | ---: | --- |"
for c in "${cmds[@]}"; do
  case $c in
    inspect)  run inspect inspect "$model" ;;
    convert)  run convert convert "$model" -o "$out/convert.out.gguf" --type f16 ;;
    gguf)     run gguf quantize "$model" -o "$out/gguf.out.gguf" --format gguf --type Q4_K_M ${thr[@]+"${thr[@]}"} ;;
    rtn)      run rtn quantize "$model" -o "$out/rtn.out" --method rtn --bits 4 --group-size 128 ${thr[@]+"${thr[@]}"} ;;
    gptq)     run gptq quantize "$model" -o "$out/gptq.out" --method gptq --bits 4 --group-size 128 \
                --calib "$shared/data/calib_code.txt" --calib-samples "$samples" --calib-seqlen "$seqlen" ${thr[@]+"${thr[@]}"} ;;
    awq)      if [ -n "${AWQ_GRID:-}" ]; then
                printf '%s\n' "version: 2" "steps:" "  - {type: awq, grid: $AWQ_GRID}" "  - {type: rtn, bits: 4, group_size: 128}" \
                  "calibration: {data: '$shared/data/calib_code.txt', samples: $samples, seqlen: $seqlen}" "output: {format: gptq}" \
                  > "$out/awq-grid.yaml"
                run awq quantize "$model" -o "$out/awq.out" --recipe "$out/awq-grid.yaml" ${thr[@]+"${thr[@]}"}
              else
                run awq quantize "$model" -o "$out/awq.out" --method awq --bits 4 --group-size 128 \
                  --calib "$shared/data/calib_code.txt" --calib-samples "$samples" --calib-seqlen "$seqlen" ${thr[@]+"${thr[@]}"}
              fi ;;
    evaluate) run evaluate evaluate "$model" --data "$shared/data/eval_code.txt" --ctx "$ctx" --max-windows "$windows" \
                ${thr[@]+"${thr[@]}"} ;;
    *) echo "bench-scale: unknown command $c" >&2; exit 2 ;;
  esac
done
echo "(* no per-layer progress lines: wall time / layers, start-up included)"
