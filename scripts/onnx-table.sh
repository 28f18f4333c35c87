#!/usr/bin/env bash
# ONNX quantization of the shared ONNX models (issue 14 acceptance): each model × scheme through
# `lowbit quantize MODEL.onnx --format onnx`, one markdown row each: whether ONNX Runtime's predicted classes on the
# shipped test inputs equal fp32's, the largest |Δ| of the outputs and the largest |output| for scale.
#
#   scripts/onnx-table.sh            # all rows (about a minute; JVM start-up dominates)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared/data/onnx"
out=${OUT:-$root/out/onnx-table}
mkdir -p "$out"
mnist_data="$shared/mnist"
voice_dir="$shared/ort/test_voice_commands"

row() { # label model data output args...
  local label=$1 model=$2 data=$3 o=$4; shift 4
  local json
  json=$("$root/lowbit" quantize "$model" -o "$out/$o" --format onnx --calib-inputs "$data" --force --json -q "$@")
  python3 -c '
import json, sys
j = json.loads(sys.argv[2])
ref = max(s["max_abs_fp32"] for s in j["per_sample"])
same = "yes" if j["classes_equal_fp32"] else "NO"
print("| %s | %d | %s | %.4g | %.4g | %d |" % (sys.argv[1], j["samples"], same, j["max_abs_delta"], ref, j["bytes"]))
' "$label" "$json"
}

echo "| model, scheme | samples | classes = fp32 | max \|Δ\| | max \|y\| fp32 | bytes |"
echo "| --- | --- | --- | --- | --- | --- |"
for cal in minmax percentile entropy; do
  row "mnist (opset 1, upgraded), qdq-int8 $cal" "$shared/mnist/model.onnx" "$mnist_data" "mnist-old-qdq-$cal.onnx" --scheme qdq-int8 --calibrator $cal
  row "mnist (ORT, opset 8), qdq-int8 $cal" "$shared/ort/mnist.onnx" "$mnist_data" "mnist-ort-qdq-$cal.onnx" --scheme qdq-int8 --calibrator $cal
  row "mnist (ORT, opset 8), qdq-int8 $cal, weights int4 blocks of 16" "$shared/ort/mnist.onnx" "$mnist_data" "mnist-ort-qdq4-$cal.onnx" --scheme qdq-int8 --calibrator $cal --bits 4 --group-size 16
  row "voice-commands, qdq-int8 $cal" "$voice_dir/model.onnx" "$voice_dir" "voice-qdq-$cal.onnx" --scheme qdq-int8 --calibrator $cal
done
for m in "$shared/mnist/model.onnx:mnist (opset 1)" "$shared/ort/mnist.onnx:mnist (ORT)"; do
  path=${m%%:*}; name=${m#*:}; tag=$(basename "$(dirname "$path")")
  for args in "rtn 4 32" "rtn 4 128" "rtn 8 32" "gptq 4 32" "gptq 4 128"; do
    set -- $args
    row "$name, MatMulNBits $1 ${2}-bit block $3" "$path" "$mnist_data" "$tag-nbits-$1-$2-$3.onnx" --scheme matmulnbits --method "$1" --bits "$2" --group-size "$3"
  done
done
echo
echo "voice-commands has no MatMul (its dense layers are Gemm / FusedGemm): MatMulNBits does not apply (exit 2, one line)."
