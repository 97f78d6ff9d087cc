#!/usr/bin/env bash
# Reproduces the README's results table: every recipe (and the default) with seeds 1, 2, 3,
# reporting the median test accuracy and the median wall time.
#   bash apps/fashion_mlp/run_recipes.sh [BUILD_DIR] [recipe ...]
set -euo pipefail
build=${1:-build}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
recipes=("$@")
if ((${#recipes[@]} == 0)); then
  recipes=(default)
  for f in "$here"/recipes/*.toml; do recipes+=("$(basename "$f" .toml)"); done
fi
out=runs/recipes
mkdir -p "$out"
# The first number stored under "key" in a summary.json.
json_number() { sed -n "s/^ *\"$1\" *: *\([-0-9.eE+]*\).*/\1/p" "$2" | head -n 1; }
echo "| recipe | test accuracy (median of 3) | seeds 1/2/3 | wall time (median) |"
echo "|---|---|---|---|"
for r in "${recipes[@]}"; do
  accs=() times=()
  for seed in 1 2 3; do
    dir="$out/$r-seed$seed"
    args=(train --seed "$seed" --out "$dir")
    [[ $r != default ]] && args+=(--recipe "$r")
    if ! "$build/apps/fashion_mlp/fashion_mlp" "${args[@]}" > "$dir.log" 2>&1; then
      echo "run failed: $r seed $seed (see $dir.log)" >&2
      accs+=(failed) times+=(failed)
      continue
    fi
    accs+=("$(awk -v a="$(json_number accuracy "$dir/summary.json")" 'BEGIN { printf "%.2f", 100 * a }')")
    times+=("$(awk -v s="$(json_number seconds "$dir/summary.json")" 'BEGIN { printf "%.0f", s }')")
  done
  median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
  echo "| $r | $(median "${accs[@]}")% | ${accs[*]} | $(median "${times[@]}") s |"
done
