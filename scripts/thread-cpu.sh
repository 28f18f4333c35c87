#!/usr/bin/env bash
# CPU seconds per thread of one lowbit run: runs CMD, reads utime + stime of every thread of the JVM whose command line
# contains MATCH (default: the last argument of CMD, e.g. the output path) from /proc every 0.3 s, and prints each
# thread name's total as last seen (a thread that lived under 0.3 s may be missed; names are the kernel's, cut at 15
# characters). Unlike JFR samples these are CPU time, not wall time: a thread waiting for a core adds nothing.
#
# usage: [MATCH=STRING] scripts/thread-cpu.sh CMD...
set -uo pipefail
match=${MATCH:-${!#}}
"$@" &
pid=$!
declare -A last
while kill -0 "$pid" 2>/dev/null; do
  for jp in $(pgrep -f "java.*$match"); do
    for t in /proc/"$jp"/task/*; do
      { read -r stat < "$t/stat"; } 2>/dev/null || continue
      comm=$(cat "$t/comm" 2>/dev/null) || continue
      rest=${stat##*) }
      read -r -a f <<< "$rest"
      last["$jp:${t##*/}:$comm"]=$(( f[11] + f[12] ))   # utime, stime (fields 14 and 15 of stat) in clock ticks
    done
  done
  sleep 0.3
done
wait "$pid"; rc=$?
hz=$(getconf CLK_TCK)
for k in "${!last[@]}"; do printf '%s\t%s\n' "${last[$k]}" "${k#*:*:}"; done |
  awk -F'\t' -v hz="$hz" '{ s[$2] += $1; t += $1 } END { for (n in s) if (s[n] >= hz / 20) printf "%7.2f s  %s\n", s[n] / hz, n; printf "%7.2f s  (all threads)\n", t / hz }' |
  sort -rn
exit $rc
