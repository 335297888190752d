#!/usr/bin/env bash
# Builds, then prints the shared syscall micro-benchmark table (../shared/bench)
# for native, runc, gVisor's runsc (Debian's /usr/bin/runsc on ptrace) and ours,
# measured in one run. ROUNDS (default 3) runs each that many times, interleaved.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$top/../shared/bench}
[[ -x $shared/compare.sh ]] || { echo "bench/run.sh: no $shared/compare.sh (set SHARED_BENCH)" >&2; exit 2; }
"$top/scripts/build.sh" >/dev/null
exec "$shared/compare.sh" -r "${ROUNDS:-3}" -s "${SCALE:-1}" \
  native runc \
  "/usr/bin/runsc --platform=ptrace --network=none" \
  "$top/build/runsc/runsc --platform=ptrace --network=none" "$@"
