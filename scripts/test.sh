#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test
# (unit tests, syscall conformance natively and in the sandbox, end-to-end).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/build.sh"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300 "$@"
