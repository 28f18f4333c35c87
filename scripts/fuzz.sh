#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser with Jazzer (libFuzzer), one target after another; prints a table of
# executions, coverage (libFuzzer's cov: edges and ft: features), corpus size and crashes per target.
#
#   scripts/fuzz.sh [DURATION] [TARGET...]             each target for DURATION (default 60s; e.g. 90s, 10m, 2h)
#   scripts/fuzz.sh --runs N [DURATION] [TARGET...]    each target for N executions (libFuzzer's -runs), or until
#                                                      DURATION has passed if that comes first (default: no limit)
#   scripts/fuzz.sh --merge [TARGET...]                minimise each target's corpus into its regression inputs
#   scripts/fuzz.sh --total LOG...                     one row per target over runs that went on from each other's
#                                                      corpus: executions and crashes summed, cov / ft / corpus of
#                                                      the last run, the runs' rates (the tables these logs hold)
#   TARGET: safetensors gguf imatrix config tokenizer recipe onnx (default: all)
#
# JAZZER_FUZZ=1 makes each @FuzzTest fuzz instead of replaying its seeds, with the instrumentation hooks on (FuzzMode):
# without them libFuzzer sees no coverage. The corpus grows under <module>/.cifuzz-corpus/<class>/<method>/ (not
# committed) and a later run goes on from it; a crashing input is written next to the target's seeds
# (src/test/resources/.../<Class>Inputs/<method>/), where every `mvn test` replays it: fix the parser, keep the input.
#
# --merge: libFuzzer's merge, run in Jazzer's JUnit process: its "-merge=1" re-executes argv[0] for each inner step,
# which a JUnit run cannot, so the script writes the control file (every committed input, then the generated corpus),
# runs the inner step (-merge_inner=1: each input once, its coverage features appended to the control file), and does
# the outer step itself as libFuzzer does: the committed inputs' features first, then the generated inputs, smallest
# first (more features first at equal size), each kept if it adds a feature. The kept inputs are copied into the
# regression directory as corpus-<sha1>, replacing the corpus-* files of an earlier merge; hand-made seeds and crash
# inputs are kept as they are. Runs under the measurement lock when it exists (LOCK=; LOCK= for none).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=""; merge=0
case ${1:-} in
  --total) shift
    echo "| target | executions | runs | exec/s | cov | ft | corpus | crashes (fixed) |"
    echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"
    cat "$@" | awk -F'|' '
      NF == 10 && $3 ~ /^ *[0-9]+ *$/ {
        t = $2; gsub(/ /, "", t); if (!(t in ex)) order[n++] = t
        ex[t] += $3; runs[t]++; rate[t] = rate[t] (rate[t] == "" ? "" : " / ") ($4 + 0)
        cov[t] = $5 + 0; ft[t] = $6 + 0; corp[t] = $7 + 0; cr[t] += $8 + 0
      }
      END { for (i = 0; i < n; i++) { t = order[i]; printf "| %s | %d | %d | %s | %d | %d | %d | %d |\n", t, ex[t], runs[t], rate[t], cov[t], ft[t], corp[t], cr[t] } }'
    exit 0 ;;
  --runs) runs=${2:?--runs needs a number}; shift 2
          [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --runs $runs: expected a positive number of executions" >&2; exit 2; } ;;
  --merge) merge=1; shift ;;
esac
duration=""
if [ $merge = 0 ] && [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+[smhd]?$ ]]; then duration=$1; shift; fi
[ -n "$duration" ] || { [ -n "$runs" ] && duration=1000h || duration=60s; }
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(safetensors gguf imatrix config tokenizer recipe onnx)

# target -> module, test class, method
spec() {
  case $1 in
    safetensors) echo "io-formats dev.lowbit.io.safetensors.SafetensorsFuzzTest parse" ;;
    gguf)        echo "io-formats dev.lowbit.io.gguf.GgufFuzzTest parse" ;;
    imatrix)     echo "io-formats dev.lowbit.io.fuzz.ImatrixFuzzTest read" ;;
    config)      echo "io-formats dev.lowbit.io.fuzz.HfConfigFuzzTest parse" ;;
    tokenizer)   echo "io-formats dev.lowbit.io.fuzz.GgufTokenizerFuzzTest synthesize" ;;
    recipe)      echo "quantize-cli dev.lowbit.pipeline.recipe.RecipeFuzzTest read" ;;
    onnx)        echo "io-formats dev.lowbit.io.onnx.OnnxFuzzTest parse" ;;
    *) echo "fuzz: unknown target $1 (targets: safetensors gguf imatrix config tokenizer recipe onnx)" >&2; return 2 ;;
  esac
}

for t in "${targets[@]}"; do spec "$t" > /dev/null || exit 2; done
lock=${LOCK-/work/notes/measure.lock}
locker=(); [ -n "$lock" ] && [ -e "$lock" ] && locker=(flock "$lock")
logs=$(mktemp -d /tmp/lowbit-fuzz.XXXXXX)

# one Jazzer run of a target: mvn test of its class with the fuzzing environment and extra -D options
jazzer() {
  local m=$1 cls=$2 log=$3; shift 3
  (cd "$root" && ${locker[@]+"${locker[@]}"} env JAZZER_FUZZ=1 "$@" ./mvnw -B -ntp -o -pl "$m" -am test \
      -Dtest="${cls##*.}#*" -Dsurefire.failIfNoSpecifiedTests=false -Djacoco.skip=true ${MVN_D[@]+"${MVN_D[@]}"}) > "$log" 2>&1
}

if [ $merge = 1 ]; then
  echo "| target | committed inputs | generated corpus | kept from corpus | features | regression inputs |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for t in "${targets[@]}"; do
    read -r m cls meth < <(spec "$t")
    pkgdir=$(dirname "${cls//.//}")
    seeds=$root/$m/src/test/resources/$pkgdir/${cls##*.}Inputs/$meth
    corpus=$root/$m/.cifuzz-corpus/$cls/$meth
    ctl=$logs/$t.ctl
    mapfile -t fixed < <(find "$seeds" -maxdepth 1 -type f ! -name 'corpus-*' | sort)
    mapfile -t gen < <({ [ -d "$corpus" ] && find "$corpus" -maxdepth 1 -type f; find "$seeds" -maxdepth 1 -type f -name 'corpus-*'; } | sort)
    { echo $(( ${#fixed[@]} + ${#gen[@]} )); echo ${#fixed[@]}; printf '%s\n' "${fixed[@]}" ${gen[@]+"${gen[@]}"}; } > "$ctl"
    set +e
    MVN_D=(-Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-merge_inner=1 -Djazzer.internal.arg.2=-merge_control_file="$ctl")
    jazzer "$m" "$cls" "$logs/$t.merge.log" JAZZER_MAX_DURATION=1000h
    rc=$?
    unset MVN_D
    set -e
    if [ "$rc" != 0 ] || [ "$(grep -c '^FT ' "$ctl")" != "$(( ${#fixed[@]} + ${#gen[@]} ))" ]; then
      echo "fuzz: $t: the merge step did not run every input (exit $rc; log $logs/$t.merge.log)" >&2; exit 1
    fi
    # outer step: names of the generated inputs to keep, on stdout
    keep=$(awk -v nfixed=${#fixed[@]} '
      NR == 1 { n = $1; next }
      NR == 2 { next }
      NR <= n + 2 { name[NR - 3] = $0; next }
      $1 == "STARTED" { size[$2] = $3; next }
      $1 == "FT" { i = $2; nf[i] = NF - 2; ft[i] = ""; for (k = 3; k <= NF; k++) ft[i] = ft[i] " " $k; next }
      END {
        for (i = 0; i < nfixed; i++) { split(ft[i], f, " "); for (k in f) seen[f[k]] = 1 }
        m = 0; for (i = nfixed; i < n; i++) order[m++] = i
        for (a = 1; a < m; a++) {              # insertion sort: size up, then features down
          x = order[a]; b = a - 1
          while (b >= 0 && (size[order[b]] > size[x] || (size[order[b]] == size[x] && nf[order[b]] < nf[x]))) { order[b + 1] = order[b]; b-- }
          order[b + 1] = x
        }
        for (a = 0; a < m; a++) {
          i = order[a]; added = 0; split(ft[i], f, " ")
          for (k in f) if (!(f[k] in seen)) { seen[f[k]] = 1; added = 1 }
          if (added) print name[i]
        }
        total = 0; for (x in seen) total++
        print total > "/dev/stderr"
      }' "$ctl" 2> "$logs/$t.features")
    tmp=$logs/$t.kept; mkdir -p "$tmp"
    while IFS= read -r f; do [ -n "$f" ] && cp "$f" "$tmp/corpus-$(sha1sum < "$f" | cut -c1-40)"; done <<< "$keep"
    find "$seeds" -maxdepth 1 -type f -name 'corpus-*' -delete
    cp "$tmp"/corpus-* "$seeds"/ 2>/dev/null || true
    kept=$(find "$tmp" -type f | wc -l)
    ngen=$([ -d "$corpus" ] && find "$corpus" -maxdepth 1 -type f | wc -l || echo 0)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "${#fixed[@]}" "$ngen" "$kept" "$(cat "$logs/$t.features")" \
        "$(find "$seeds" -maxdepth 1 -type f | wc -l) ($(du -sh "$seeds" | cut -f1))"
  done
  echo "(logs: $logs)"
  exit 0
fi

limit=$duration; [ -n "$runs" ] && limit="$runs runs or $duration"
echo "| target | executions | exec/s | cov | ft | corpus | crashes | limit |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for t in "${targets[@]}"; do
  read -r m cls meth < <(spec "$t")
  log=$logs/$t.log
  env=(JAZZER_MAX_DURATION="$duration"); [ -n "$runs" ] && env+=(JAZZER_MAX_EXECUTIONS="$runs")
  set +e
  jazzer "$m" "$cls" "$log" "${env[@]}"
  rc=$?
  set -e
  # libFuzzer's last status line: "#1234567 DONE cov: 812 ft: 2301 corp: 240/9144b ... exec/s: 20576 ..."
  last=$(grep -aE '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -1)
  execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.*corp: ([0-9]+).*/\1/p' <<<"$last")
  rate=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")
  crashes=$(grep -acE '== Java Exception|FuzzerSecurityIssue|Test .* failed|crash-[0-9a-f]+' "$log" || true)
  [ "$rc" = 0 ] || crashes="$crashes (exit $rc)"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "${corp:--}" "$crashes" "$limit"
done
echo "(logs: $logs)"
