#!/usr/bin/env bash
# Installs what the project needs (scripts/install-deps.sh) and builds it
# into build/ (or $BUILD_DIR). Extra arguments go to cmake's configure step.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh"
cmake -S "$top" -B "$build" -G Ninja "$@" >/dev/null
ninja -C "$build"
