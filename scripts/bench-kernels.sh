#!/usr/bin/env bash
# Builds the JMH benchmarks (-Pbench) and runs them with the JVM flags the kernels need.
#
#   scripts/bench-kernels.sh                      # Bf16DecodeBench, vector and scalar in the same run
#   scripts/bench-kernels.sh Bf16DecodeBench -p n=4096 -p format=f16
#   scripts/bench-kernels.sh -l                   # list benchmarks
#
# Arguments go to JMH unchanged. The defaults (-f 1 -wi 3 -w 1s -i 5 -r 1s -t 1: one fork, 3 s warm-up, 5 s measured
# per case, one thread) suit a small shared 2-core box; any of them given on the command line wins.
# Set LOWBIT_BENCH_SKIP_BUILD=1 to rerun without rebuilding. JSON results: benchmarks/target/jmh-result.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/java-home.sh

if [ "${LOWBIT_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  ./mvnw -q -Pbench -pl benchmarks -am package -DskipTests
fi

jar=$(ls benchmarks/target/benchmarks-*.jar 2>/dev/null | grep -v -e sources -e javadoc | head -n 1 || true)
if [ -z "$jar" ]; then
  echo "lowbit: benchmarks jar not found under benchmarks/target (did the -Pbench build run?)" >&2
  exit 1
fi

args=("$@")
has_opt() { local o; for o in "${args[@]}"; do [ "$o" = "$1" ] && return 0; done; return 1; }
defaults=()
for pair in "-f 1" "-wi 3" "-w 1s" "-i 5" "-r 1s" "-t 1"; do
  set -- $pair
  has_opt "$1" || defaults+=("$1" "$2")
done
# a benchmark selector is any argument that is not an option or an option's value; without one, run the bf16 decode
selector=Bf16DecodeBench
prev=""
for a in "${args[@]}"; do
  case "$a" in
    -*) ;;
    *) case "$prev" in -f|-wi|-w|-i|-r|-t|-p|-bm|-tu|-jvmArgs|-jvmArgsAppend|-jvmArgsPrepend|-rf|-rff|-e|-o|-prof|-si|-gc|-foe|-to|-opi|-bs|-wbs|-wm|-wmb|-tg|-jvm|-v) ;; *) selector="";; esac ;;
  esac
  prev="$a"
done
has_opt -l && selector=""
has_opt -lp && selector=""
has_opt -h && selector=""

result=benchmarks/target/jmh-result.json
flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED)
"$JAVA_HOME/bin/java" "${flags[@]}" -cp "$jar:benchmarks/target/lib/*" org.openjdk.jmh.Main \
  ${selector:+"$selector"} "${defaults[@]}" "${args[@]}" -rf json -rff "$result" 2>&1 | grep -v 'Using incubator modules'

if has_opt -l || has_opt -lp || has_opt -h || [ ! -s "$result" ]; then exit 0; fi

# GB/s of input per case and, per benchmark and parameter set, the ratio of each impl to the scalar baseline
python3 - "$result" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
bytes_per_elem = {"Bf16DecodeBench": 2, "QuantizeBench": 4, "HadamardBench": 4 * 64}
rows = []
for r in runs:
    cls = r["benchmark"].split(".")[-2]
    p = r.get("params", {})
    n = int(p.get("n", 0))
    score, err = float(r["primaryMetric"]["score"]), float(r["primaryMetric"]["scoreError"])  # "NaN" with < 3 iterations
    gbs = score * bytes_per_elem.get(cls, 0) * n / 1e9
    rows.append((cls, p, score, err, gbs))
print()
print(f"{'benchmark':<28} {'params':<32} {'score':>14} {'±':>12} {'unit':<8} {'GB/s in':>9}")
for r, (cls, p, score, err, gbs) in zip(runs, rows):
    ps = " ".join(f"{k}={v}" for k, v in sorted(p.items()))
    name = ".".join(r["benchmark"].split(".")[-2:])
    print(f"{name:<28} {ps:<32} {score:>14.1f} {err:>12.1f} {r['primaryMetric']['scoreUnit']:<8} {gbs:>9.2f}")
base = {}
for cls, p, score, err, gbs in rows:
    if p.get("impl") == "scalar":
        base[(cls, tuple(sorted((k, v) for k, v in p.items() if k != "impl")))] = score
ratios = []
for cls, p, score, err, gbs in rows:
    key = (cls, tuple(sorted((k, v) for k, v in p.items() if k != "impl")))
    if p.get("impl") not in (None, "scalar") and key in base:
        ratios.append(f"{cls} {' '.join(f'{k}={v}' for k, v in key[1])}: {p['impl']} / scalar = {score / base[key]:.2f}x")
# GptqBench: each case against RTN of the same matrix, measured in the same run (lower score = faster: ms/op)
by_name = {}
for r in runs:
    if r["benchmark"].split(".")[-2] == "GptqBench":
        by_name[(r["benchmark"].split(".")[-1], tuple(sorted(r.get("params", {}).items())))] = r["primaryMetric"]["score"]
for (name, p), score in by_name.items():
    base = by_name.get(("rtn", p))
    if name != "rtn" and base:
        ratios.append(f"GptqBench {' '.join(f'{k}={v}' for k, v in p)}: {name} / rtn = {score / base:.1f}x the time")
if ratios:
    print()
    print("\n".join(ratios))
PY
