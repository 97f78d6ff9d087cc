#!/usr/bin/env bash
# Installs what minigrad needs on Debian 12 (run as root). Safe to run again.
set -euo pipefail
packages=(
  build-essential cmake       # compiler and build
  libfmt-dev catch2 libstb-dev zlib1g-dev libcli11-dev libtomlplusplus-dev
  libbenchmark-dev            # apps/bench
  pkgconf                     # tests/consumers: a project built with pkg-config's flags
  dataset-fashion-mnist       # the real data, under /usr/share/datasets/fashion-mnist
  chromium                    # the browser test of report.html (ctest label browser)
  clang-14 libclang-rt-14-dev  # tests/fuzz/: libFuzzer (-fsanitize=fuzzer)
  valgrind                    # memcheck of a small training run
  libopenmpi-dev openmpi-bin  # minigrad::distributed and its tests under mpirun
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
