#!/usr/bin/env bash
# End-to-end tests of runsc with busybox-static: each case is one function,
# run as `e2e_test.sh RUNSC CASE` (CTest registers every case separately).
set -uo pipefail
runsc=$1
case_name=$2
crash=${E2E_CRASH:-}  # a static program that dies of SIGSEGV
busybox=/bin/busybox
# Not under /tmp: the sandbox has its own tmpfs there.
work=$(mktemp -d "${E2E_WORKDIR:-$PWD}/e2e.XXXXXX")
state=$work/state
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_eq WHAT GOT WANT
expect_eq() { [[ $2 == "$3" ]] || fail "$1: got [$2], want [$3]"; }

rsc() { "$runsc" --root "$state" "$@"; }

# A bundle whose rootfs holds busybox and a few files.
make_bundle() {
  local b=$work/bundle
  rm -rf "$b"
  mkdir -p "$b/rootfs"/{bin,etc,data/sub}
  cp "$busybox" "$b/rootfs/bin/busybox"
  for a in sh echo cat ls true false; do ln -s busybox "$b/rootfs/bin/$a"; done
  printf 'one\ntwo\nthree\n' >"$b/rootfs/data/lines.txt"
  echo sandbox >"$b/rootfs/etc/hostname"
  cat >"$b/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0},
              "args": $1, "env": ["PATH=/bin", "HOME=/"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "e2e-host",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
}
JSON
  echo "$b"
}

case_echo() {
  out=$(rsc do $busybox echo hello) || fail "exit status $?"
  expect_eq "echo" "$out" "hello"
}

case_cat() {
  printf 'alpha\nbeta\n' >"$work/f.txt"
  out=$(rsc do $busybox cat "$work/f.txt") || fail "exit status $?"
  expect_eq "cat" "$out" $'alpha\nbeta'
}

case_ls_root() {
  out=$(rsc do $busybox ls -l /) || fail "exit status $?"
  want=$($busybox ls -l / | wc -l)
  expect_eq "line count" "$(wc -l <<<"$out")" "$want"
  grep -q ' usr$' <<<"$out" || fail "no usr in: $out"
  grep -q ' bin -> usr/bin$' <<<"$out" || grep -q ' bin$' <<<"$out" || fail "no bin in: $out"
}

case_wc_head_stat() {
  seq 1 50 >"$work/n.txt"
  expect_eq "wc" "$(rsc do $busybox wc -l "$work/n.txt")" "50 $work/n.txt"
  expect_eq "head" "$(rsc do $busybox head -n 3 "$work/n.txt")" $'1\n2\n3'
  expect_eq "stat size" "$(rsc do $busybox stat -c %s "$work/n.txt")" "$(stat -c %s "$work/n.txt")"
  expect_eq "stat inode" "$(rsc do $busybox stat -c '%i %F %a' "$work/n.txt")" "$(stat -c '%i %F %a' "$work/n.txt")"
}

case_sh_arith_exit() {
  out=$(rsc do $busybox sh -c 'echo $((6*7)); exit 3')
  st=$?
  expect_eq "output" "$out" "42"
  expect_eq "status" "$st" "3"
}

case_sh_pid() {
  out=$(rsc do $busybox sh -c 'echo $$') || fail "exit status $?"
  expect_eq "pid" "$out" "1"
}

case_missing_executable() {
  out=$(rsc do /no/such/binary 2>&1)
  st=$?
  [[ $st != 0 ]] || fail "status 0 for a missing executable"
  grep -q '/no/such/binary' <<<"$out" || fail "message does not name the path: $out"
  expect_eq "one line" "$(wc -l <<<"$out")" "1"
}

case_strace() {
  out=$(rsc --strace do $busybox echo hello 2>&1 >/dev/null)
  grep -q 'write(1, "hello\\n", 6) = 6' <<<"$out" || fail "no write line in strace: $out"
  grep -q 'execve\|arch_prctl' <<<"$out" || fail "no startup syscalls in strace: $out"
}

case_run_bundle() {
  # No fork before the process-model issue: each run is one program, and the
  # shell uses only builtins.
  b=$(make_bundle '["/bin/busybox", "cat", "/data/lines.txt"]')
  out=$(cd "$b" && rsc run e2e-run) || fail "cat: exit status $?"
  expect_eq "cat output" "$out" $'one\ntwo\nthree'
  [[ ! -e $state/e2e-run ]] || fail "state directory left behind"
  b=$(make_bundle '["/bin/busybox", "hostname"]')
  out=$(rsc run --bundle "$b" e2e-run) || fail "hostname: exit status $?"
  expect_eq "hostname" "$out" "e2e-host"
  b=$(make_bundle '["/bin/sh", "-c", "read a < /data/lines.txt; echo $a; exit 7"]')
  out=$(rsc run --bundle "$b" --pid-file "$work/pid" e2e-run)
  st=$?
  expect_eq "status" "$st" "7"
  expect_eq "sh output" "$out" "one"
  [[ -s $work/pid ]] || fail "no pid file"
}

case_run_bad_config() {
  b=$(make_bundle '[]')
  out=$(rsc run --bundle "$b" e2e-bad 2>&1)
  st=$?
  [[ $st != 0 ]] || fail "status 0 for empty process.args"
  grep -q 'process.args' <<<"$out" || fail "message does not name process.args: $out"
  [[ ! -e $state/e2e-bad ]] || fail "state directory left behind"
  echo '{"ociVersion": ' >"$b/config.json"
  out=$(rsc run --bundle "$b" e2e-bad 2>&1) && fail "malformed config accepted"
  grep -q 'config.json' <<<"$out" || fail "message does not name config.json: $out"
  out=$(rsc run --bundle "$work/nope" e2e-bad 2>&1) && fail "missing bundle accepted"
  grep -q "$work/nope" <<<"$out" || fail "message does not name the bundle: $out"
}

# Every process of ours (CLI, gofer, sentry, stubs) runs the runsc binary.
our_processes() {
  local exe p
  exe=$(readlink -f "$runsc")
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/exe" 2>/dev/null) == "$exe" ]] && echo "${p#/proc/}"
  done
  return 0
}

case_no_leftover_processes() {
  [[ -z $(our_processes) ]] || fail "runsc processes running before the test"
  rsc do $busybox true || fail "true failed"
  rsc do /no/such/binary 2>/dev/null && fail "missing binary ran"
  b=$(make_bundle '["/bin/busybox", "true"]')
  rsc run --bundle "$b" e2e-left || fail "run failed"
  sleep 0.2
  left=$(our_processes)
  [[ -z $left ]] || fail "processes left: $(ps -o pid,args -p $left)"
}

case_pipelines() {
  out=$(rsc do $busybox sh -c 'ls / | wc -l') || fail "exit status $?"
  expect_eq "ls | wc" "$out" "$(ls / | wc -l)"
  printf 'b\na\nb\nc\nb\n' >"$work/u.txt"
  out=$(rsc do $busybox sh -c "cat $work/u.txt | sort | uniq -c | sed 's/^ *//'") || fail "exit status $?"
  expect_eq "sort | uniq -c" "$out" $'1 a\n3 b\n1 c'
}

case_subshells_and_jobs() {
  out=$(rsc do $busybox sh -c 'echo $(echo inner) $( (exit 3); echo $?)') || fail "exit status $?"
  expect_eq "subshells" "$out" "inner 3"
  out=$(rsc do $busybox sh -c 'for i in $(seq 100); do /bin/busybox true; done; echo ok') || fail "exit status $?"
  expect_eq "100 fork+exec" "$out" "ok"
  out=$(rsc do $busybox sh -c 'sleep 0.3 & sleep 0.1 & wait; echo done') || fail "exit status $?"
  expect_eq "background jobs and wait" "$out" "done"
  # Killed by SIGTERM: 128+15 (sh also says "Terminated" on stderr).
  out=$(rsc do $busybox sh -c 'sleep 5 & kill $!; wait $!; echo $?' 2>/dev/null) || fail "exit status $?"
  expect_eq "sleep & kill; wait" "$out" "143"
  out=$(rsc do $busybox sh -c 'echo x > /dev/null && head -c 4 /dev/zero | wc -c') || fail "exit status $?"
  expect_eq "/dev/null and /dev/zero" "$out" "4"
}


case_signals_in_shell() {
  out=$(rsc do $busybox sh -c 'trap "echo caught" TERM; kill -TERM $$; echo after') || fail "exit status $?"
  expect_eq "trap TERM" "$out" $'caught\nafter'
  # A child killed by a signal: 128+N as the shell reports it.
  out=$(rsc do $busybox sh -c '/bin/busybox sh -c "kill -9 \$\$"; echo $?' 2>/dev/null) || fail "exit status $?"
  expect_eq "kill -9 child" "$out" "137"
  # The init ignores signals it has no handler for when they come from
  # inside the container, SIGKILL included (as a PID namespace's init).
  out=$(rsc do $busybox sh -c 'kill -9 $$; kill -TERM $$; echo survived') || fail "exit status $?"
  expect_eq "init survives" "$out" "survived"
}

case_crash_exit_status() {
  # An init that dies of a fault: the status is 128+SIGSEGV, as runc's.
  rsc do "$crash" 2>/dev/null
  expect_eq "runsc do status" "$?" "139"
  b=$(make_bundle '["/crash"]')
  cp "$crash" "$b/rootfs/crash"
  (cd "$b" && rsc run e2e-crash 2>/dev/null)
  expect_eq "runsc run status" "$?" "139"
}

case_sigterm_to_runsc() {
  # runsc forwards SIGTERM to the container's init; a trap there runs.
  b=$(make_bundle '["/bin/sh", "-c", "trap \"echo got TERM; exit 7\" TERM; echo ready; while :; do /bin/busybox sleep 0.05; done"]')
  "$runsc" --root "$state" run --bundle "$b" e2e-term >"$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q ready "$work/out" 2>/dev/null && break; sleep 0.05; done
  kill -TERM $pid
  wait $pid
  st=$?
  expect_eq "status after SIGTERM" "$st" "7"
  expect_eq "trap output" "$(cat "$work/out")" $'ready\ngot TERM'
  # Without a handler the init ignores it, as under runc, and finishes.
  b=$(make_bundle '["/bin/sh", "-c", "echo ready; /bin/busybox sleep 0.5; echo finished"]')
  "$runsc" --root "$state" run --bundle "$b" e2e-term >"$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q ready "$work/out" 2>/dev/null && break; sleep 0.05; done
  kill -TERM $pid
  wait $pid
  st=$?
  expect_eq "status, init without handler" "$st" "0"
  expect_eq "output, init without handler" "$(cat "$work/out")" $'ready\nfinished'
}

"case_$case_name"
echo "PASS: $case_name"
