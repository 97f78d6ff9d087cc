#!/usr/bin/env bash
# Runs each fuzz target for SECONDS seconds (default 30), one after the other, starting from its
# seeds and the corpus it grew in earlier runs. A crash, a broken invariant, or one allocation
# above 64 MB (no input here justifies more) stops the target and fails the script; the input is
# saved as BUILD_DIR/fuzz/crash-<target>-*.
# Usage: fuzz/run_fuzzers.sh BUILD_DIR [SECONDS] [TARGET...]
set -euo pipefail
build=$1
seconds=${2:-30}
shift $(($# < 2 ? $# : 2))
targets=("${@:-idx csv checkpoint config}")
here=$(cd "$(dirname "$0")" && pwd)
export MINIGRAD_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive

declare -A max_len=([idx]=4096 [csv]=4096 [checkpoint]=16384 [config]=4096)
declare -A extra_seeds=([config]="$here/../../apps/fashion_mlp/recipes")
status=0
for target in ${targets[*]}; do
  corpus=$build/fuzz/corpus/$target
  mkdir -p "$corpus"
  echo "fuzz_$target: ${seconds}s"
  log=$build/fuzz/$target.log
  # shellcheck disable=SC2086  # extra_seeds is empty or one folder
  if ! "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len="${max_len[$target]}" \
      -malloc_limit_mb=64 -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz/crash-$target-" "$corpus" "$here/seeds/$target" ${extra_seeds[$target]:-} \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
done
exit $status
