#!/usr/bin/env bash
# Weight error of two trit-planes against RTN, per decoder Linear of tiny-llama-code (dev.lowbit.bench.TritErrorTable):
# ‖W − Ŵ‖² / ‖W‖² of RTN w4 g128, RTN w3 g128, PTQTP data-free (progressive and multi start), the dense global search
# of the two-plane codebook and the best of the three trit fits, all on the same seeded sample of row-groups of 128.
# Prints a Markdown table (the README's "How low can two trit-planes go" table comes from it).
#
#   scripts/trit-error-table.sh [GROUPS_PER_LINEAR=512] [SEED=0]     # ~2 minutes on one core at 512 groups
#   MODEL=path/to/checkpoint scripts/trit-error-table.sh             # another Llama-layout checkpoint
# Set LOWBIT_BENCH_SKIP_BUILD=1 to run without rebuilding the benchmarks jar.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/java-home.sh
if [ "${LOWBIT_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  ./mvnw -q -Pbench -pl benchmarks -am package -DskipTests
fi
jar=$(ls benchmarks/target/benchmarks-*.jar 2>/dev/null | grep -v -e sources -e javadoc | head -n 1 || true)
[ -n "$jar" ] || { echo "lowbit: benchmarks jar not found under benchmarks/target (did the -Pbench build run?)" >&2; exit 1; }
model=${MODEL:-../shared/models/tiny-llama-code}
"$JAVA_HOME/bin/java" -Xmx2g --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "$jar:benchmarks/target/lib/*" dev.lowbit.bench.TritErrorTable "$model" "${1:-512}" "${2:-0}" 2>&1 \
  | grep -v 'Using incubator modules'
