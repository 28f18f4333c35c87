#!/usr/bin/env bash
# JMH for the linear-algebra kernels (GEMM, SYRK, Cholesky; vector vs scalar) and DJL/PyTorch matMul as the
# baseline, at n = 512, 1536, 4096 unless given: scripts/bench-linalg.sh [n,n,...] [extra JMH args]
# Prints time per op and GFLOP/s (GEMM 2n³, SYRK n³, Cholesky n³/3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/java-home.sh
sizes=${1:-512,1536,4096}
shift || true
./mvnw -q -o -Pbench -pl benchmarks -am package -DskipTests
out=benchmarks/target/bench-linalg.csv
cp="benchmarks/target/classes:benchmarks/target/lib/*"
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
  -cp "$cp" org.openjdk.jmh.Main 'dev.lowbit.bench.Linalg.*' -p n="$sizes" -rf csv -rff "$out" "$@"
echo
echo "benchmark,impl,n,ms/op,GFLOP/s"
awk -F, 'NR > 1 {
  gsub(/"/, "");
  name = $1; sub(/.*\./, "", name); ms = $5; n = $NF; impl = $(NF-1); if (impl == "") impl = "djl-pytorch";
  if (name == "gemm" || name == "matMul") f = 2 * n^3; else if (name == "syrk") f = n^3; else f = n^3 / 3;
  printf "%s,%s,%d,%.2f,%.1f\n", name, impl, n, ms, f / (ms * 1e6)
}' "$out"
