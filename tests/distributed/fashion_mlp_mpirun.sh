#!/usr/bin/env bash
# fashion_mlp train under mpirun: rank 0 alone prints and writes the run; Ctrl-C on mpirun (which
# sends SIGTERM to every rank) saves a resume point and stops every rank; --resume on 2 processes
# ends bit-identical to an uninterrupted run; 3 processes may continue an MLP run.
# Usage: fashion_mlp_mpirun.sh FASHION_MLP HIDDEN MPIRUN [ARGS...] (ending with the flag before the
# count); HIDDEN: the MLP's hidden sizes, a model whose 80 epochs take seconds in this build.
set -uo pipefail
exe=$1
hidden=$2
shift 2
mpirun=("$@")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "FAILED: $*"
  for log in "$dir"/*.log; do echo "--- $log"; cat "$log"; done
  exit 1
}
# 80 epochs: long enough (7 s for 512,512 on a Zen 5 core) for the SIGTERM to land mid-run.
args=(--train-limit 3000 --test-limit 500 --hidden "$hidden" --epochs 80 --threads 1)

"${mpirun[@]}" 2 "$exe" train "${args[@]}" --out "$dir/run" > "$dir/whole.log" 2>&1 || fail "uninterrupted run"
[ "$(grep -c '^epoch   1/80' "$dir/whole.log")" = 1 ] || fail "not rank 0 alone printed the epoch lines"
grep -q "^data parallel: " "$dir/whole.log" || fail "no communication report"
mv "$dir/run" "$dir/whole"

# Job control: a background job of a script otherwise starts with SIGINT ignored, as POSIX asks.
set -m
# Once rank 0 printed its header every rank has passed the model check, after installing its
# signal handler. On SIGINT mpirun sends SIGCONT, waits odls_base_sigkill_timeout seconds (1 by
# default), sends SIGTERM, waits as long again and kills: 3 s lets a loaded machine's slow steps
# end and save (a step takes milliseconds), and the SIGTERM still lands mid-run.
OMPI_MCA_odls_base_sigkill_timeout=3 "${mpirun[@]}" 2 "$exe" train "${args[@]}" --out "$dir/run" \
  > "$dir/interrupted.log" 2>&1 &
pid=$!
until grep -q "GEMM kernels" "$dir/interrupted.log"; do
  kill -0 "$pid" 2> /dev/null || fail "the run ended before it started training"
  sleep 0.05
done
kill -INT "$pid"
wait "$pid" && fail "mpirun exited 0 after SIGINT"
[ -f "$dir/run/resume.ckpt" ] || fail "no resume.ckpt after SIGINT"
[ "$(grep -c 'interrupted by SIGTERM' "$dir/interrupted.log")" = 1 ] || fail "rank 0 did not report the stop"
[ -f "$dir/run/model.ckpt" ] && fail "the interrupted run finished"
cp -r "$dir/run" "$dir/three"

"${mpirun[@]}" 2 "$exe" train --resume "$dir/run" --threads 1 > "$dir/resumed.log" 2>&1 || fail "resume on 2 processes"
cmp -s "$dir/whole/model.ckpt" "$dir/run/model.ckpt" || fail "resumed model.ckpt differs from the uninterrupted run's"

"${mpirun[@]}" 3 "$exe" train --resume "$dir/three" --threads 1 > "$dir/three.log" 2>&1 || fail "resume on 3 processes"
[ -f "$dir/three/model.ckpt" ] || fail "no model.ckpt after resuming on 3 processes"
echo "ok"
