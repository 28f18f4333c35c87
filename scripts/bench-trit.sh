#!/usr/bin/env bash
# JMH: batch-1 GEMV on two-plane trit matrices (groups of 128) — the LUT kernel vs dequantize + f32 dot vs the f32 GEMV,
# vector and scalar, all in one run, at 4096 × 4096 and tiny-llama-code's Linear shapes. Prints every ratio.
#
#   scripts/bench-trit.sh                     # the full table (about 12 minutes: C2 needs a long warm-up for the Vector API)
#   scripts/bench-trit.sh -p shape=4096x4096  # one shape
#   TIMES='-wi 6 -w 1s -i 5 -r 1s' scripts/bench-trit.sh   # warm-up / measurement (default: -wi 8 -w 2s -i 5 -r 1s)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
scripts/bench-kernels.sh TritLutBench ${TIMES:--wi 8 -w 2s -i 5 -r 1s} "$@" | tee "$out"
python3 - benchmarks/target/jmh-result.json <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
score = {}
for r in runs:
    if r["benchmark"].split(".")[-2] != "TritLutBench": continue
    p = r["params"]
    score[(p["shape"], p["impl"], r["benchmark"].split(".")[-1])] = r["primaryMetric"]["score"]
print()
print(f"{'shape':<11} {'impl':<7} {'lut/s':>10} {'deq+gemv/s':>11} {'f32 gemv/s':>11} {'lut vs deq+gemv':>16} {'lut vs f32':>11}")
for (shape, impl) in sorted({(s, i) for s, i, _ in score}):
    l, d, f = (score.get((shape, impl, k)) for k in ("lut", "dequantGemv", "f32Gemv"))
    if None in (l, d, f): continue
    print(f"{shape:<11} {impl:<7} {l:>10.1f} {d:>11.1f} {f:>11.1f} {l / d:>15.2f}x {l / f:>10.2f}x")
PY
rm -f "$out"
