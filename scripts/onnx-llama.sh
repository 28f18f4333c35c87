#!/usr/bin/env bash
# tiny-llama-code → ONNX (issue 14): export fp32 and the GPTQ w4 g128 checkpoint (its codes as MatMulNBits), run them
# on ONNX Runtime with `lowbit evaluate model.onnx`, beside our DJL runtime. Parts, each short enough for one turn of
# the measurement lock (run each as `flock /work/notes/measure.lock scripts/onnx-llama.sh PART`):
#
#   export     GPTQ w4 g128 checkpoint (calib_code.txt, 128 × 512; skipped when $GPTQ exists), both ONNX exports
#   ppl-f32    ONNX Runtime perplexity of the fp32 export, reference protocol (WINDOWS=0: the whole eval_code.txt)
#   ppl-gptq   the same for the MatMulNBits export
#   cmp-f32    ORT fp32 export against our runtime on the same windows (CMP_WINDOWS=16): KL, top-1, max |Δlogit|
#   cmp-gptq   the same for the MatMulNBits export against the GPTQ checkpoint on our runtime
#   quick      export (if needed), cmp-f32, cmp-gptq, speed;   full: export (if needed), ppl-f32, ppl-gptq
#   speed      same run, same windows (SPEED_WINDOWS=32), same threads (THREADS=2): DJL fp32, ORT fp32, DJL GPTQ,
#              ORT MatMulNBits — perplexity and forward tokens/s of each; ORT/DJL ratios
#
# Results are appended to $OUT/results.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared"
model="$shared/models/tiny-llama-code"
data="$shared/data/eval_code.txt"
out=${OUT:-$root/out/onnx-llama}
gptq=${GPTQ:-$out/gptq-w4g128}
windows=${WINDOWS:-0}
threads=${THREADS:-2}
mkdir -p "$out"
lowbit() { "$root/lowbit" "$@"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

ensure_exports() { [ -f "$out/f32-onnx/model.onnx" ] && [ -f "$out/gptq-onnx/model.onnx" ] || "$0" export; }

case "${1:-}" in
  quick)  # export, then the same-run comparison and speed parts (a few minutes)
    ensure_exports; "$0" cmp-f32; "$0" cmp-gptq; "$0" speed ;;
  full)   # both full-protocol perplexities (about 2 × 6 min on 2 idle cores)
    ensure_exports; "$0" ppl-f32; "$0" ppl-gptq ;;
  export)
    if [ ! -d "$gptq" ]; then
      lowbit quantize "$model" -o "$gptq" --method gptq --bits 4 --group-size 128 --calib "$shared/data/calib_code.txt" -q
    fi
    lowbit convert "$model" -o "$out/f32-onnx" --format onnx --force
    lowbit convert "$gptq" -o "$out/gptq-onnx" --format onnx --force
    ;;
  ppl-f32|ppl-gptq)
    # a part already measured on these windows is not measured again (parts may be queued more than once)
    if grep -q " $1 windows=$windows " "$out/results.txt" 2>/dev/null && [ -z "${REMEASURE:-}" ]; then exit 0; fi
    ensure_exports
    dir=$out/${1#ppl-}-onnx
    j=$(lowbit evaluate "$dir/model.onnx" --data "$data" --max-windows "$windows" --threads "$threads" --json)
    echo "$(date -u +%FT%TZ) $1 windows=$windows ORT perplexity $(field "$j" perplexity) scored $(field "$j" scored_tokens) forward_tok/s $(field "$j" forward_tokens_per_second)" | tee -a "$out/results.txt"
    ;;
  cmp-f32|cmp-gptq)
    n=${CMP_WINDOWS:-16}
    if [ "$1" = cmp-f32 ]; then onnx=$out/f32-onnx/model.onnx; base=$model; else onnx=$out/gptq-onnx/model.onnx; base=$gptq; fi
    j=$(lowbit evaluate "$onnx" --data "$data" --max-windows "$n" --threads "$threads" --baseline "$base" --json)
    echo "$(date -u +%FT%TZ) $1 windows=$n ORT $(field "$j" perplexity) ours $(field "$j" baseline_perplexity) KL $(field "$j" kl) top1 $(field "$j" top1_agreement) max_dlogit $(field "$j" max_abs_delta_logit)" | tee -a "$out/results.txt"
    ;;
  speed)
    n=${SPEED_WINDOWS:-32}
    for pair in "DJL-fp32:$model" "ORT-fp32:$out/f32-onnx/model.onnx" "DJL-gptq:$gptq" "ORT-gptq-MatMulNBits:$out/gptq-onnx/model.onnx"; do
      name=${pair%%:*}; path=${pair#*:}
      j=$(lowbit evaluate "$path" --data "$data" --max-windows "$n" --threads "$threads" --json)
      echo "$(date -u +%FT%TZ) speed windows=$n threads=$threads $name perplexity $(field "$j" perplexity) forward_tok/s $(field "$j" forward_tokens_per_second)" | tee -a "$out/results.txt"
    done
    ;;
  *) echo "usage: $0 quick|full|export|ppl-f32|ppl-gptq|cmp-f32|cmp-gptq|speed" >&2; exit 2 ;;
esac
