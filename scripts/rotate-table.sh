#!/usr/bin/env bash
# Hadamard rotation (R1 + R2, norms folded) on tiny-llama-code, with and without: weight-only RTN / GPTQ at w4 / w3,
# per channel and g128 (reference protocol on eval_code.txt; calibration: the first 128 × 512 windows of
# calib_code.txt), and the GGUF mixes (lowbit convert to F32, then llama.cpp's llama-quantize, no imatrix) of the
# rotated checkpoint beside the unrotated one in llama.cpp's own llama-perplexity (ctx 512, 60 windows).
# Prints markdown tables; JSON lines go to $OUT/results.jsonl.
#
# Usage: scripts/rotate-table.sh [OUT_DIR]          (default /tmp/lowbit-rotate-table)
#   WINDOWS=16        reference-protocol windows per evaluation (default 0 = the whole file)
#   SEED=0            rotation seed
#   PARTS="fp weight gguf act"   which tables (act: W4A4 / W4A8, weights GPTQ w4 per channel, activations int per
#                     token on every decoder Linear input; rotated = R1 + R2 + online R3/R4, quantized with
#                     --format dequantized for our runtime; unrotated = the GPTQ checkpoint)
#   ACT_METHOD=gptq   the act table's weight quantizer (rtn for a quick look)
#   ACT_WEIGHT_ARGS=  extra quantize flags for the act table's weights, e.g. "--mse-clip" (QuaRot's w_clip),
#                     "--mse-clip --act-order", "--sym --mse-clip"
#   ACT_CLIP=0.9      --act-clip of the int4 activations (QuaRot's ratio; int8 is not clipped)
#   FP=11.46609863    the fp perplexity the act table compares with (reference.json; give the 16-window one with WINDOWS=16)
#   METHODS="rtn gptq" BITS="4 3" GROUP_SIZES="-1 128"
#   MIXES="Q4_K_M Q3_K_M Q2_K"  LLAMA_CPP=/work/llama.cpp/build/bin (needed for the GGUF table)
#   THREADS=2         LOWBIT=path/to/lowbit (default: the launcher in this checkout)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/lowbit-rotate-table}
lowbit=${LOWBIT:-$root/lowbit}
windows=${WINDOWS:-0}
seed=${SEED:-0}
threads=${THREADS:-2}
parts=${PARTS:-fp weight gguf act}
model="$root/../shared/models/tiny-llama-code"
eval="$root/../shared/data/eval_code.txt"
calib="$root/../shared/data/calib_code.txt"
mkdir -p "$out"
results="$out/results.jsonl"
rot="$out/rotated-seed$seed"

if [ ! -f "$rot/lowbit-manifest.json" ]; then
  "$lowbit" quantize "$model" -o "$rot" --rotate --method none --seed "$seed" --force -q --json >> "$out/rotate.jsonl"
fi

ppl() { # model → perplexity (reference protocol)
  "$lowbit" evaluate "$1" --data "$eval" --max-windows "$windows" --threads "$threads" --json \
    | sed -n 's/.*"perplexity":\([0-9.]*\).*/\1/p'
}
record() { echo "{\"table\":\"$1\",\"config\":\"$2\",\"rotated\":$3,\"perplexity\":$4,\"windows\":$windows,\"seed\":$seed}" >> "$results"; }

if [[ " $parts " == *" fp "* ]]; then
  a=$(ppl "$model"); b=$(ppl "$rot")
  record fp fp32 false "$a"; record fp fp32 true "$b"
  echo "| fp32 | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2e", (b - a) / a }') relative |"
fi

if [[ " $parts " == *" weight "* ]]; then
  echo "| method | bits | group | unrotated | rotated (seed $seed) | Δ |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for m in ${METHODS:-rtn gptq}; do
    for b in ${BITS:-4 3}; do
      for g in ${GROUP_SIZES:--1 128}; do
        name="$m-w$b-g$g"
        extra=(); [ "$m" = gptq ] && extra=(--calib "$calib")
        for src in plain rot; do
          s="$model"; [ "$src" = rot ] && s="$rot"
          if [ ! -f "$out/$name-$src/lowbit-manifest.json" ]; then
            "$lowbit" quantize "$s" -o "$out/$name-$src" --method "$m" --bits "$b" --group-size "$g" "${extra[@]}" \
              --threads "$threads" --force -q --json > "$out/$name-$src.quantize.json"
          fi
        done
        p=$(ppl "$out/$name-plain"); r=$(ppl "$out/$name-rot")
        record weight "$name" false "$p"; record weight "$name" true "$r"
        echo "| $m | $b | $g | $p | $r | $(awk -v p="$p" -v r="$r" 'BEGIN { printf "%+.2f%%", 100 * (r - p) / p }') |"
      done
    done
  done
fi

if [[ " $parts " == *" gguf "* ]]; then
  [ -n "${LLAMA_CPP:-}" ] || { echo "lowbit: the GGUF table needs LLAMA_CPP=/path/to/llama.cpp/build/bin" >&2; exit 2; }
  echo "| mix | unrotated (llama-perplexity) | rotated (seed $seed) | Δ |"
  echo "| --- | --- | --- | --- |"
  lp() { { "$LLAMA_CPP/llama-perplexity" -m "$1" -f "$eval" -c 512 --chunks 60 -t "$threads" 2>&1 || true; } \
    | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p'; }
  for mix in F32 ${MIXES:-Q4_K_M Q3_K_M Q2_K}; do
    for src in plain rot; do
      s="$model"; [ "$src" = rot ] && s="$rot"
      f="$out/$mix-$src.gguf"
      if [ ! -f "$f" ]; then
        # F32 by lowbit's converter; the mixes by llama.cpp's own llama-quantize from that file (no imatrix)
        if [ "$mix" = F32 ]; then "$lowbit" convert "$s" -o "$f" --type f32 > /dev/null
        else "$LLAMA_CPP/llama-quantize" "$out/F32-$src.gguf" "$f" "$mix" "$threads" > "$f.log" 2>&1; fi
      fi
    done
    p=$(lp "$out/$mix-plain.gguf"); r=$(lp "$out/$mix-rot.gguf")
    record gguf "$mix" false "$p"; record gguf "$mix" true "$r"
    echo "| $mix | $p | $r | $(awk -v p="$p" -v r="$r" 'BEGIN { printf "%+.2f%%", 100 * (r - p) / p }') |"
  done
fi

if [[ " $parts " == *" act "* ]]; then
  online="$out/rotated-online-seed$seed"
  if [ ! -f "$online/lowbit-manifest.json" ]; then
    "$lowbit" quantize "$model" -o "$online" --rotate --rotate-online --method none --seed "$seed" --force -q --json >> "$out/rotate.jsonl"
  fi
  wargs=(${ACT_WEIGHT_ARGS:-})
  wtag=$(printf '%s' "${ACT_WEIGHT_ARGS:-}" | tr -d ' ' | sed 's/--/-/g')
  for src in plain rot; do
    q="$out/act-${ACT_METHOD:-gptq}$wtag-w4-pc-$src"
    if [ ! -f "$q/lowbit-manifest.json" ]; then
      if [ "$src" = plain ]; then s="$model"; fmt=gptq; else s="$online"; fmt=dequantized; fi
      extra=(); [ "${ACT_METHOD:-gptq}" = gptq ] && extra=(--calib "$calib")
      "$lowbit" quantize "$s" -o "$q" --method "${ACT_METHOD:-gptq}" --bits 4 --group-size -1 "${extra[@]}" "${wargs[@]}" --format "$fmt" \
        --threads "$threads" --force -q --json > "$q.quantize.json"
    fi
  done
  f=${FP:-11.46609863} # fp32 reference perplexity (reference.json) on the whole file; set FP= for --max-windows runs
  echo "| weights / activations | unrotated | rotated (R1+R2+R3+R4, seed $seed) | fp $f |"
  echo "| --- | --- | --- | --- |"
  m=${ACT_METHOD:-gptq}$wtag
  for a in int4-token int8-token; do
    clip=(); [ "$a" = int4-token ] && clip=(--act-clip "${ACT_CLIP:-0.9}")
    pr=()
    for src in plain rot; do
      pr+=("$("$lowbit" evaluate "$out/act-$m-w4-pc-$src" --activations "$a" "${clip[@]}" --data "$eval" --max-windows "$windows" \
        --threads "$threads" --json | sed -n 's/.*"perplexity":\([0-9.]*\).*/\1/p')")
    done
    p=${pr[0]}; r=${pr[1]}
    record act "$m-w4-pc-$a${clip[1]:+-clip${clip[1]}}" false "$p"; record act "$m-w4-pc-$a${clip[1]:+-clip${clip[1]}}" true "$r"
    echo "| $m w4 per channel, $a ${clip[*]} | $p ($(awk -v p="$p" -v f="$f" 'BEGIN { printf "%+.2f%%", 100 * (p - f) / f }')) | $r ($(awk -v r="$r" -v f="$f" 'BEGIN { printf "%+.2f%%", 100 * (r - f) / f }')) | |"
  done
fi
