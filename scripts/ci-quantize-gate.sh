#!/usr/bin/env bash
# A CI step that gates on quantization quality, end to end: run a sweep (quantize + evaluate each job), then
#   exit 0  every job passes every gate: copy the artifacts to PUBLISH (default DIR/publish)
#   exit 3  some gate failed: the failures are named (job, gate, value); the artifacts that pass are still published
#   exit 1 / 2  a job failed / the sweep is bad input: nothing is published
#
#   scripts/ci-quantize-gate.sh [SWEEP] [DIR]           # defaults: scripts/sweeps/ci-gate.yaml, out/ci-gate
#   SPARK='local[2]' scripts/ci-quantize-gate.sh ...     # the same jobs as Spark tasks
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sweep=${1:-$root/scripts/sweeps/ci-gate.yaml}
out=${2:-$root/out/ci-gate}
publish=${PUBLISH:-$out/publish}
spark=(); [ -n "${SPARK:-}" ] && spark=(--spark "$SPARK")

"$root/lowbit" batch "$sweep" -o "$out" "${spark[@]}"
rc=$?
case $rc in
  0|3) ;;
  *) echo "ci-quantize-gate: lowbit batch exited $rc; nothing published" >&2; exit $rc ;;
esac
# results.csv: publish the jobs whose 'pass' column is true (the last column)
mkdir -p "$publish"
n=0
while IFS=, read -r id artifact pass; do
  [ "$pass" = true ] || continue
  dest="$publish/$id"          # jobs/ID/model.gguf -> ID (a .gguf: the id ends in .gguf), jobs/ID/model -> ID/
  rm -rf "$dest" "$dest.lowbit-manifest.json"
  cp -r "$out/$artifact" "$dest"
  [ -f "$out/$artifact.lowbit-manifest.json" ] && cp "$out/$artifact.lowbit-manifest.json" "$dest.lowbit-manifest.json"
  n=$((n + 1))
done < <(python3 -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    print(r["id"], r["artifact"], r["pass"], sep=",")' "$out/results.csv")
echo "ci-quantize-gate: published $n artifact(s) to $publish; report: $out/report.html"
exit $rc
