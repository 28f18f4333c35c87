#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser with Jazzer (libFuzzer), one target after another; prints a table of
# executions, coverage (libFuzzer's cov: edges and ft: features), corpus size and crashes per target.
#
#   scripts/fuzz.sh [DURATION] [TARGET...]      DURATION per target (default 60s; e.g. 10m, 2h); TARGET: safetensors
#                                               gguf imatrix config tokenizer recipe (default: all)
#
# JAZZER_FUZZ=1 makes each @FuzzTest fuzz instead of replaying its seeds, with the instrumentation hooks on (FuzzMode):
# without them libFuzzer sees no coverage. The corpus grows under <module>/.cifuzz-corpus/ (not committed); a crashing
# input is written next to the target's seeds (src/test/resources/.../<Class>Inputs/<method>/), where every
# `mvn test` replays it: fix the parser, keep the input. Runs under the measurement lock when it exists (LOCK=).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${1:-60s}; [ $# -gt 0 ] && shift
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(safetensors gguf imatrix config tokenizer recipe)
lock=${LOCK-/work/notes/measure.lock}
locker=(); [ -n "$lock" ] && [ -e "$lock" ] && locker=(flock "$lock")
logs=$(mktemp -d /tmp/lowbit-fuzz.XXXXXX)
echo "| target | executions | exec/s | cov | ft | corpus | crashes | duration |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for t in "${targets[@]}"; do
  case $t in
    safetensors) m=io-formats; c=SafetensorsFuzzTest ;;
    gguf)        m=io-formats; c=GgufFuzzTest ;;
    imatrix)     m=io-formats; c=ImatrixFuzzTest ;;
    config)      m=io-formats; c=HfConfigFuzzTest ;;
    tokenizer)   m=io-formats; c=GgufTokenizerFuzzTest ;;
    recipe)      m=quantize-cli; c=RecipeFuzzTest ;;
    *) echo "fuzz: unknown target $t" >&2; exit 2 ;;
  esac
  log=$logs/$t.log
  set +e
  (cd "$root" && ${locker[@]+"${locker[@]}"} env JAZZER_FUZZ=1 JAZZER_MAX_DURATION="$duration" ./mvnw -B -ntp -pl "$m" -am test \
      -Dtest="$c#*" -Dsurefire.failIfNoSpecifiedTests=false -Djacoco.skip=true) > "$log" 2>&1
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
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "${corp:--}" "$crashes" "$duration"
done
echo "(logs: $logs)"
