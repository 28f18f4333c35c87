#!/usr/bin/env bash
# Issue 17's acceptance, measured: the sweep scripts/sweeps/acceptance.yaml ({rtn, gptq} x {w4 g128, w3 g128} x
# {GPTQ checkpoint, GGUF Q4_K_M}; 6 jobs) run locally and under Spark local[2], each timed; then
#   - every artifact (and its manifest) compared byte for byte between the two runs,
#   - the results tables compared on every metric column,
#   - the report rendered by headless Chromium to report.png (scripts/batch-report-screenshot.sh).
#
#   scripts/batch-acceptance.sh [OUT]        # default out/batch-acceptance; OUT/local and OUT/spark are started afresh
#   COMPARE_ONLY=1 scripts/batch-acceptance.sh OUT   # only compare two runs already in OUT (and take the screenshot)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/batch-acceptance}
sweep=${SWEEP:-$root/scripts/sweeps/acceptance.yaml}
mkdir -p "$out"
if [ "${COMPARE_ONLY:-}" != 1 ]; then
rm -rf "$out/local" "$out/spark"
"$root/lowbit" --version >/dev/null   # build first, so the timings below are the sweeps' own

run() { # name, extra args...
  local name=$1; shift
  local t0=$SECONDS rc=0
  "$root/lowbit" batch "$sweep" -o "$out/$name" "$@" >"$out/$name.log" 2>&1 || rc=$?
  echo "$name: exit $rc, wall $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
}
: >"$out/summary.txt"
run local
run spark --spark 'local[2]'
fi

python3 - "$out" <<'PY' | tee -a "$out/summary.txt"
import csv, hashlib, os, sys
out = sys.argv[1]
def rows(name):
    return list(csv.DictReader(open(os.path.join(out, name, "results.csv"), newline="")))
def files(path):
    if os.path.isfile(path):
        return {p: path + p for p in ("", ".lowbit-manifest.json")}
    return {f: os.path.join(path, f) for f in sorted(os.listdir(path))}
def sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()
a, b = rows("local"), rows("spark")
metrics = ["id", "status", "recipe_hash", "size_bytes", "bits_per_weight", "perplexity", "ppl_ratio", "kl", "top1"]
same_table = len(a) == len(b) and all(x[k] == y[k] for x, y in zip(a, b) for k in metrics)
identical = 0
print("| job | bits/weight | perplexity | × baseline | KL | top-1 | bytes | local = Spark, byte for byte |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for x, y in zip(a, b):
    if x["status"] != "ok" or y["status"] != "ok":
        print(f'| {x["id"]} | failed: {x["error"] or y["error"]} | | | | | | |')
        continue
    fa, fb = files(os.path.join(out, "local", x["artifact"])), files(os.path.join(out, "spark", x["artifact"]))
    ok = fa.keys() == fb.keys() and all(sha(fa[k]) == sha(fb[k]) for k in fa)
    identical += ok
    print(f'| {x["id"]} | {float(x["bits_per_weight"]):.4f} | {float(x["perplexity"]):.4f} | {float(x["ppl_ratio"]):.4f} '
          f'| {float(x["kl"]):.5f} | {float(x["top1"]):.4f} | {int(x["size_bytes"]):,} | {"yes" if ok else "NO"} ({len(fa)} files) |')
print(f"artifacts byte-identical local vs spark: {identical}/{len(a)}; results tables equal on {metrics}: {same_table}")
PY
"$root/scripts/batch-report-screenshot.sh" "$out/spark" | tee -a "$out/summary.txt" || true
