#!/usr/bin/env bash
# The main job on a fresh machine: installs what is needed, builds, and runs
# programs in the sandbox — busybox over the host's root with `runsc do`, and
# the example OCI bundle (examples/hello) with `runsc run`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/build.sh"
runsc=$build/runsc/runsc
state=$(mktemp -d)
bundle=$(mktemp -d)
trap 'rm -rf "$state" "$bundle"' EXIT

set -x
"$runsc" --root "$state" do -- /bin/busybox echo hello from the sandbox
"$runsc" --root "$state" do -- /bin/busybox sh -c 'echo "the shell is pid $$"; exit 0'
"$runsc" --root "$state" do -- /bin/busybox uname -a
"$runsc" --root "$state" do -- /bin/busybox ls -l /
"$runsc" --root "$state" do -- /usr/bin/python3 -c 'import platform; print("python", platform.python_version(), "in the sandbox")'
# Writes land in the overlay in sandbox memory; the host's /etc is untouched.
"$runsc" --root "$state" do -- /bin/bash -c 'echo written > /etc/cvisor-demo && cat /etc/cvisor-demo'
test ! -e /etc/cvisor-demo
{ set +x; } 2>/dev/null

# An OCI bundle: busybox in a rootfs of its own.
cp -r "$top/examples/hello/." "$bundle/"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -sf busybox "$bundle/rootfs/bin/sh"
set -x
(cd "$bundle" && "$runsc" --root "$state" run demo-hello) || echo "exit status $?"
