#!/usr/bin/env bash
# Wall time of real programs under native, runc, gVisor's runsc (Debian's
# /usr/bin/runsc on ptrace) and ours, measured in one run:
#   python3 -c pass          the interpreter's start-up (~1000 syscalls, many
#                            opens and mmaps of shared libraries)
#   gcc -O2 hello.c          a C build: fork+exec of cc1, as, collect2, ld
# Each runtime runs one container whose rootfs shows the host's /usr and /etc
# read-only; inside it, the command runs ITER times and the mean per run is
# printed (sandbox start-up excluded), plus the wall time of the whole
# container (start-up included). ROUNDS (default 3) containers per runtime,
# interleaved; medians. Run as root.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3} iters=${ITER:-10}
ours="$top/build/runsc/runsc --platform=ptrace --network=none"
runtimes=(native runc "/usr/bin/runsc --platform=ptrace --network=none" "$ours")
names=(native runc "gVisor ptrace" ours)
[[ -x $top/build/runsc/runsc ]] || "$top/scripts/build.sh" >/dev/null

work=$(mktemp -d "${TMPDIR:-/var/tmp}/cvbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' >"$work/hello.c"

commands=("python3 -c pass" "gcc -O2 -o /tmp/h /bench/hello.c")
labels=("python3 -c pass" "gcc -O2 hello.c")

# The script each container runs: ITER runs of $1, then the mean in µs.
inner() {
  printf 'cd /tmp; s=$(date +%%s%%N); i=0; while [ $i -lt %d ]; do %s >/dev/null || exit 1; i=$((i+1)); done; e=$(date +%%s%%N); echo $(( (e - s) / %d / 1000 ))' \
    "$iters" "$1" "$iters"
}

bundle() {  # $1 = script
  local b=$work/bundle
  rm -rf "$b"
  mkdir -p "$b/rootfs"/{usr,etc,proc,dev,sys,tmp,bench}
  for l in bin sbin lib lib64; do ln -s "usr/$l" "$b/rootfs/$l"; done
  local args
  args=$(printf '%s' "$1" | python3 -c 'import json,sys; print(json.dumps(["/bin/sh", "-c", sys.stdin.read()]))')
  cat >"$b/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": $args,
              "env": ["PATH=/usr/bin:/bin", "HOME=/tmp"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": false},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
    {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
    {"destination": "/etc", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]},
    {"destination": "/bench", "type": "bind", "source": "$work", "options": ["rbind", "ro"]}
  ],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}, {"type": "network"}]}
}
EOF
}

# Prints "<inner µs> <wall µs>" for one container of runtime $1 running $2.
measure() {
  local rt=$1 cmd=$2 out s e
  s=$(date +%s%N)
  if [[ $rt == native ]]; then
    out=$(cd /tmp && env -i PATH=/usr/bin:/bin HOME=/tmp sh -c "$(inner "${cmd//\/bench\//$work/}")")
  else
    bundle "$(inner "$cmd")"
    out=$(cd "$work/bundle" && $rt run "cvbench-$$" 2>"$work/err") ||
      { echo "programs.sh: $rt failed: $(cat "$work/err")" >&2; exit 1; }
  fi
  e=$(date +%s%N)
  echo "$out $(((e - s) / 1000))"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '| program | measure | %s |\n' "$(IFS='|'; echo "${names[*]}" | sed 's/|/ | /g')"
printf '|---|---|%s\n' "$(for _ in "${names[@]}"; do printf -- '---|'; done)"
for c in "${!commands[@]}"; do
  declare -A in_t=() wall_t=()
  for ((r = 0; r < rounds; r++)); do
    for i in "${!runtimes[@]}"; do
      read -r a b < <(measure "${runtimes[$i]}" "${commands[$c]}")
      in_t[$i]+="$a "
      wall_t[$i]+="$b "
    done
  done
  base_in=$(tr ' ' '\n' <<<"${in_t[0]}" | grep . | median)
  row_in="" row_wall=""
  for i in "${!runtimes[@]}"; do
    m=$(tr ' ' '\n' <<<"${in_t[$i]}" | grep . | median)
    w=$(tr ' ' '\n' <<<"${wall_t[$i]}" | grep . | median)
    row_in+=" $(awk -v m="$m" -v b="$base_in" 'BEGIN {printf "%.1f ms (%.2fx)", m/1000, m/b}') |"
    row_wall+=" $(awk -v w="$w" 'BEGIN {printf "%.0f ms", w/1000}') |"
  done
  echo "| ${labels[$c]} | per run, in the container |$row_in"
  echo "| ${labels[$c]} | whole container, $iters runs + start-up |$row_wall"
done
