#!/usr/bin/env bash
# Two lowbit builds (e.g. frozen clones of main before and after a calibration-schedule change) on the commands that
# calibrate through LayerwiseCapture: GPTQ w4 g128 (SAMPLES × 512, default 32), GGUF Q4_K_M with an importance matrix
# from --calib (16 × 512), GPTQ into GGUF Q4_K_M (8 × 512), W8A8 static with GPTQ (8 × 512), smooth + GPTQ recipe
# (8 × 512); 1 thread each. Prints each wall time (GPTQ with its --json phase split) and whether every output file is
# byte-identical between the two builds.
# Usage: LOWBIT_NO_BUILD=1 scripts/capture-identity.sh OLD_ROOT NEW_ROOT
set -uo pipefail
old=$1; new=$2
root=$(cd "$(dirname "$0")/.." && pwd)
S="$root/../shared"; M=$S/models/tiny-llama-code; C=$S/data/calib_code.txt
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
for v in old new; do
  L=$([ $v = old ] && echo "$old" || echo "$new")/lowbit
  t=$(date +%s.%N); "$L" quantize $M -o $W/$v-gptq --method gptq --bits 4 --group-size 128 --calib $C --calib-samples "${SAMPLES:-32}" --calib-seqlen 512 --threads 1 --json -q > $W/$v-gptq.json
  echo "$v gptq rc=$? $(echo "$(date +%s.%N) - $t" | bc) s $(cat $W/$v-gptq.json)"
  t=$(date +%s.%N); "$L" quantize $M -o $W/$v-imat.gguf --format gguf --type Q4_K_M --calib $C --calib-samples 16 --calib-seqlen 512 --threads 1 -q >/dev/null
  echo "$v gguf-imatrix rc=$? $(echo "$(date +%s.%N) - $t" | bc) s"
  t=$(date +%s.%N); "$L" quantize $M -o $W/$v-ggptq.gguf --format gguf --type Q4_K_M --method gptq --calib $C --calib-samples 8 --calib-seqlen 512 --threads 1 -q >/dev/null
  echo "$v gguf-gptq rc=$? $(echo "$(date +%s.%N) - $t" | bc) s"
  t=$(date +%s.%N); "$L" quantize $M -o $W/$v-w8a8 --scheme w8a8 --act static --method gptq --calib $C --calib-samples 8 --calib-seqlen 512 --threads 1 -q
  echo "$v w8a8-static-gptq rc=$? $(echo "$(date +%s.%N) - $t" | bc) s"
  printf 'version: 2\nsteps:\n  - type: smooth\n  - type: gptq\n    bits: 4\n    group_size: 128\ncalibration: {data: %s, samples: 8, seqlen: 512}\noutput: {format: gptq}\n' "$C" > $W/$v-sq.yaml
  t=$(date +%s.%N); "$L" quantize $M -o $W/$v-sq --recipe $W/$v-sq.yaml --threads 1 -q
  echo "$v smooth+gptq rc=$? $(echo "$(date +%s.%N) - $t" | bc) s"
done
for o in gptq imat.gguf ggptq.gguf w8a8 sq; do
  if diff -r $W/old-$o $W/new-$o >/dev/null; then echo "IDENTICAL $o"; else echo "DIFFERENT $o"; diff -rq $W/old-$o $W/new-$o; fi
done
