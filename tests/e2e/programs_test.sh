#!/usr/bin/env bash
# End-to-end cases with the host's own dynamically linked programs (bash,
# coreutils, python3, gcc, make, git, sqlite3) run by `runsc do` over the
# host's root, and the file-system guarantees around them: the host's root
# never changes under the default overlay, writable bind mounts do write
# through, and nothing outside a container's root is reachable.
# Run as `programs_test.sh RUNSC CASE`; CTest registers every case.
set -uo pipefail
runsc=$1
case_name=$2
# Not under /tmp: the sandbox mounts its own tmpfs there.
work=$(mktemp -d "${E2E_WORKDIR:-$PWD}/prog.XXXXXX")
state=$work/state
trap 'rm -rf "$work"' EXIT
# The host's programs, whatever PATH the caller has (pyenv shims...).
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
unset PYTHONPATH PYTHONHOME

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [[ $2 == "$3" ]] || fail "$1: got [$2], want [$3]"; }
rsc() { "$runsc" --root "$state" "$@"; }
json_string() { printf '%s' "$1" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))'; }
# Runs a bash script in the sandbox, in /tmp.
sbash() { rsc do --cwd=/tmp /bin/bash -c "$1"; }

case_bash_features() {
  out=$(sbash '
    set -e
    for i in 1 2 3; do echo "n$i"; done > /tmp/loop.txt
    mkdir -p /tmp/g && touch /tmp/g/a.c /tmp/g/b.c /tmp/g/c.h
    echo /tmp/g/*.c
    cat <<EOF >> /tmp/loop.txt
here $((2+3))
EOF
    wc -l < /tmp/loop.txt
    exec 3>/tmp/fd3; echo via3 >&3; exec 3>&-; cat /tmp/fd3
    ls /nonexistent 2>/tmp/err || true; grep -c "No such file" /tmp/err
    x=$(echo sub | tr a-z A-Z); echo "$x"
    [[ "abc" =~ b ]] && echo regex') || fail "exit status $?"
  expect_eq "bash" "$out" $'/tmp/g/a.c /tmp/g/b.c\n4\nvia3\n1\nSUB\nregex'
}

case_coreutils() {
  out=$(rsc do /bin/bash -c 'ls -la /usr/bin | head -n 3 | wc -l') || fail "ls: $?"
  expect_eq "ls -la | head" "$out" "3"
  want=$(find /usr/share/doc -name '*.gz' | wc -l)
  out=$(rsc do /bin/bash -c "find /usr/share/doc -name '*.gz' | wc -l") || fail "find: $?"
  expect_eq "find count" "$out" "$want"
  out=$(sbash '
    set -e
    mkdir -p src/d && echo one > src/f && echo two > src/d/g && ln -s f src/l
    chmod 640 src/f
    cp -a src dst
    stat -c "%a %s" dst/f; readlink dst/l
    mv dst moved && [ ! -e dst ] && cat moved/d/g
    printf "b\nc\na\n" | sort | tr -d "\n"; echo
    tar czf t.tgz moved && mkdir x && tar xzf t.tgz -C x && cat x/moved/f
    rm -r moved x && [ ! -e moved ] && echo removed
    du -sh src | cut -f2
    df /tmp | tail -n 1 | wc -l
    df -h / >/dev/null && echo df-root') || fail "files: exit status $?"
  expect_eq "coreutils" "$out" $'640 4\nf\ntwo\nabc\none\nremoved\nsrc\n1\ndf-root'
  out=$(rsc do /bin/bash -c 'ps aux | head -n 1 | cut -c1-4; ps aux | awk "\$11 == \"ps\"" | wc -l') || fail "ps: $?"
  expect_eq "ps aux" "$out" $'USER\n1'
  out=$(rsc do /bin/bash -c 'free | grep -c ^Mem:') || fail "free: $?"
  expect_eq "free" "$out" "1"
}

case_python() {
  out=$(rsc do --cwd=/tmp /usr/bin/python3 -c '
import os, json, sqlite3, subprocess, threading, multiprocessing
with open("/tmp/p.json", "w") as f:
    json.dump({"a": [1, 2, 3]}, f)
with open("/tmp/p.json") as f:
    print(sum(json.load(f)["a"]))
db = sqlite3.connect("/tmp/p.db")
db.execute("create table t(x)")
db.executemany("insert into t values (?)", [(i,) for i in range(10)])
db.commit()
print(db.execute("select sum(x) from t").fetchone()[0])
print(subprocess.run(["echo", "child"], capture_output=True, text=True).stdout.strip())
out = []
ts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(out))
def sq(x):
    return x * x
if __name__ == "__main__":
    with multiprocessing.Pool(2) as p:
        print(p.map(sq, range(5)))
print(os.getpid(), os.path.exists("/tmp/p.db"))
') || fail "exit status $?"
  expect_eq "python" "$out" $'6\n45\nchild\n[0, 1, 2, 3]\n[0, 1, 4, 9, 16]\n1 True'
}

case_gcc() {
  out=$(sbash '
    set -e
    printf "#include <stdio.h>\nint main(void){printf(\"hi %%d\\\\n\", 6*7);return 0;}\n" > hello.c
    gcc -O2 -o /tmp/h hello.c && /tmp/h') || fail "exit status $?"
  expect_eq "gcc hello" "$out" "hi 42"
}

case_make() {
  out=$(sbash '
    set -e
    mkdir proj && cd proj
    printf "int twice(int x);\nint main(void){return twice(21) == 42 ? 0 : 1;}\n" > main.c
    printf "int twice(int x){return 2*x;}\n" > twice.c
    printf "prog: main.o twice.o\n\tcc -o \$@ \$^\n%%.o: %%.c\n\tcc -O2 -c \$<\n" > Makefile
    make -s && ./prog && echo built
    make -q prog && echo up-to-date') || fail "exit status $?"
  expect_eq "make" "$out" $'built\nup-to-date'
}

case_git() {
  out=$(sbash '
    set -e
    export HOME=/tmp GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e
    git init -q repo && cd repo
    echo a > a.txt && git add a.txt && git commit -qm first
    echo b >> a.txt && git commit -qam second
    git log --format=%s | tr "\n" " "; echo
    git show HEAD~1:a.txt') || fail "exit status $?"
  expect_eq "git" "$out" $'second first \na'
}

case_sqlite3() {
  out=$(sbash '
    set -e
    sqlite3 /tmp/s.db "create table kv(k text primary key, v int);
      insert into kv values (\"a\", 1), (\"b\", 2), (\"c\", 3);"
    sqlite3 /tmp/s.db "select k || \"=\" || v from kv where v >= 2 order by k;"') || fail "exit status $?"
  expect_eq "sqlite3" "$out" $'b=2\nc=3'
}

# Checksums of a few files and listings of a few directories of the host.
host_snapshot() {
  sha256sum /etc/passwd /etc/os-release /usr/bin/ls /bin/bash 2>&1
  # (/ by name only: the link counts of /proc and friends move on their own.)
  ls -A / 2>&1
  ls -la --time-style=full-iso /etc /usr/bin /usr/lib 2>&1
}

case_host_root_unchanged() {
  before=$(host_snapshot)
  out=$(rsc do --cwd=/ /bin/bash -c '
    set -e
    echo intruder >> /etc/passwd
    rm /usr/bin/ls
    mkdir /new-top-dir && echo x > /new-top-dir/f
    touch /usr/lib/zz-new-file
    mv /etc/os-release /etc/os-release.moved
    chmod 600 /bin/bash
    tail -n 1 /etc/passwd; [ ! -e /usr/bin/ls ] && echo gone
    cat /new-top-dir/f; [ -e /etc/os-release.moved ] && echo /etc/os-release.moved
    cp -a /usr/share/doc /doc-copy && echo copied') || fail "exit status $?"
  expect_eq "writes seen inside" "$out" $'intruder\ngone\nx\n/etc/os-release.moved\ncopied'
  after=$(host_snapshot)
  [[ "$before" == "$after" ]] || fail "the host's root changed: $(diff <(echo "$before") <(echo "$after") | head -20)"
  [[ ! -e /new-top-dir ]] || fail "/new-top-dir reached the host"
  # --overlay=none serves the root read-only to `runsc do` by default.
  out=$(rsc --overlay=none do /bin/bash -c 'echo x > /etc/zz-test 2>&1; echo $?' 2>&1)
  grep -q "Read-only file system" <<<"$out" || fail "--overlay=none write: $out"
  [[ ! -e /etc/zz-test ]] || fail "/etc/zz-test reached the host"
}

# A bundle over a copy of busybox with bind mounts; $1 is the mounts JSON
# array, $2 process.args, $3 (optional) more process fields.
make_bundle() {
  local b=$work/bundle
  rm -rf "$b"
  mkdir -p "$b/rootfs"/{bin,etc,mnt/rw,mnt/ro}
  cp /bin/busybox "$b/rootfs/bin/busybox"
  for a in sh echo cat ls ln mv; do ln -s busybox "$b/rootfs/bin/$a"; done
  cat >"$b/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"user": {"uid": 0, "gid": 0}, "args": $2, ${3:-}
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": false},
  "mounts": $1
}
JSON
  echo "$b"
}

case_bind_mounts() {
  mkdir -p "$work/rw" "$work/ro"
  echo hosted >"$work/ro/file"
  echo conf >"$work/hostfile"
  mounts='[{"destination": "/mnt/rw", "type": "bind", "source": "'$work/rw'", "options": ["rbind", "rw"]},
           {"destination": "/mnt/ro", "type": "bind", "source": "'$work/ro'", "options": ["rbind", "ro"]},
           {"destination": "/etc/conf", "type": "bind", "source": "'$work/hostfile'", "options": ["bind", "ro"]},
           {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700"]}]'
  b=$(make_bundle "$mounts" '["/bin/sh", "-c", "echo written > /mnt/rw/new; mkdir /mnt/rw/d; cat /mnt/ro/file; echo x > /mnt/ro/no 2>/dev/null || echo ro-refused; cat /etc/conf; echo in-root > /rootfile; cat /rootfile; ls -ld /data | cut -c1-10"]')
  out=$(rsc run --bundle "$b" e2e-bind) || fail "exit status $?"
  expect_eq "output" "$out" $'hosted\nro-refused\nconf\nin-root\ndrwx------'
  expect_eq "rw bind write on the host" "$(cat "$work/rw/new")" "written"
  [[ -d $work/rw/d ]] || fail "mkdir in the rw bind mount did not reach the host"
  [[ ! -e $work/ro/no ]] || fail "write reached the ro bind mount"
  # The root is an overlay by default: the bundle's rootfs is unchanged.
  [[ ! -e $b/rootfs/rootfile ]] || fail "the overlay root wrote to the bundle"
  # With --overlay=none and a writable root, writes reach the rootfs.
  out=$(rsc --overlay=none run --bundle "$b" e2e-bind) || fail "overlay=none: exit status $?"
  expect_eq "overlay=none root write" "$(cat "$b/rootfs/rootfile")" "in-root"
}

case_path_escapes() {
  mkdir -p "$work/rw"
  echo secret >"$work/outside"
  mounts='[{"destination": "/mnt/rw", "type": "bind", "source": "'$work/rw'", "options": ["rw"]}]'
  script='cat /../outside /../../outside /mnt/rw/../../outside /mnt/rw/../../../outside 2>/dev/null
    ln -s ../../../../../outside /mnt/rw/up; cat /mnt/rw/up 2>/dev/null
    ln -s /../../outside /mnt/rw/abs; cat /mnt/rw/abs 2>/dev/null
    echo pwned > /mnt/rw/up 2>/dev/null
    mv /mnt/rw/up /mnt/rw/up2; cat /mnt/rw/up2 2>/dev/null
    ls /mnt/rw/.. | tr "\n" " "'
  b=$(make_bundle "$mounts" "[\"/bin/sh\", \"-c\", $(json_string "$script")]")
  out=$(rsc run --bundle "$b" e2e-esc) || fail "exit status $?"
  grep -q secret <<<"$out" && fail "a host file outside the root was read: $out"
  expect_eq "outside untouched" "$(cat "$work/outside")" "secret"
  # The write through the dangling symlink landed inside the root (as
  # /outside of the container) or nowhere, never next to the bundle.
  [[ ! -e $work/bundle/outside ]] || fail "a write escaped to $work/bundle/outside"
  [[ -L $work/rw/up2 ]] || fail "rename inside the bind mount did not reach it"
  grep -q "ro rw" <<<"$out" || fail "/mnt/rw/.. is not the container's /mnt: $out"
}

case_mount_in_sandbox() {
  caps='"capabilities": {"bounding": ["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"],
        "effective": ["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"],
        "permitted": ["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"]},'
  script='bb=/bin/busybox
    $bb mount -t tmpfs -o size=1m,mode=700 none /mnt/rw && echo hi > /mnt/rw/f && cat /mnt/rw/f
    $bb grep -c " /mnt/rw tmpfs " /proc/mounts
    $bb umount /mnt/rw && [ ! -e /mnt/rw/f ] && echo unmounted
    $bb mount -t nosuchfs none /mnt/ro 2>/dev/null || echo refused
    $bb mkdir -p /jail/bin /jail/etc && $bb cp $bb /jail/bin/ && echo jailed > /jail/etc/motd
    $bb chroot /jail /bin/busybox cat /etc/motd
    $bb mount --bind /jail /mnt/ro && cat /mnt/ro/etc/motd && $bb umount /mnt/ro'
  b=$(make_bundle '[]' "[\"/bin/sh\", \"-c\", $(json_string "$script")]" "$caps")
  out=$(rsc run --bundle "$b" e2e-mount 2>&1) || fail "exit status $?: $out"
  expect_eq "mount, umount, chroot" "$out" $'hi\n1\nunmounted\nrefused\njailed\njailed'
  # Without CAP_SYS_ADMIN (runsc do gives Docker's defaults): EPERM.
  out=$(rsc do /bin/busybox mount -t tmpfs none /mnt 2>&1) && fail "mount without CAP_SYS_ADMIN: $out"
  grep -qi "permission\|not permitted" <<<"$out" || fail "mount without CAP_SYS_ADMIN: $out"
}

"case_$case_name"
echo "PASS: $case_name"
