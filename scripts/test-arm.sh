#!/usr/bin/env bash
# The ARM step of `make test` (make test-arm): the test binaries of every
# hardware-free package, cross-compiled for linux/arm (GOARM=7) and
# linux/arm64, run under Debian's qemu-user-static; then internal/armtest,
# which runs the armv7 daemon (basesim) under qemu-arm-static through one
# whole call. binfmt_misc need not be registered: every ARM binary is
# started through qemu-arm-static / qemu-aarch64-static explicitly. Tests
# that exec host peers (spandsp tools, minimodem, sox) work: qemu-user runs
# the ARM test binary, which execs the native amd64 peers.
#
# Usage: scripts/test-arm.sh [arm|arm64 ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=(arm arm64)
pkgs=(fxs/dsp fxs dect/wire dect sipua/media sipua/media/g711 sipua/media/g722 provisioning)

# Tests excluded by name under qemu, and why. Nothing else is left out.
declare -A skip
# Re-execute their own test binary (os.Args[0]) to kill it mid-write: the
# kernel cannot exec an ARM binary unless binfmt_misc has qemu registered
# (it is not in this container); run where it is.
reexec_arm=TestTableSurvivesSIGKILL reexec_prov=TestStorePowerLoss
# qemu-user (7.2) does not implement SO_TIMESTAMPNS: setsockopt fails with
# ENOPROTOOPT, so there are no kernel arrival stamps and sipua/media falls
# back to the read time, as designed; this test asserts the kernel stamps.
skip[sipua/media]=TestDatagramReader

declare -A qemu=([arm]=qemu-arm-static [arm64]=qemu-aarch64-static)
declare -A binfmt=([arm]=qemu-arm [arm64]=qemu-aarch64)
for a in "${arches[@]}"; do
  q=${qemu[$a]:-}
  [ -n "$q" ] || { echo "test-arm: unknown arch $a (arm, arm64)" >&2; exit 2; }
  command -v "$q" >/dev/null || { echo "test-arm: $q missing; install qemu-user-static (scripts/install-peers.sh, run by make test)" >&2; exit 1; }
done

t0=$(date +%s)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
s=$(date +%s)
for a in "${arches[@]}"; do
  mkdir -p "$out/$a"
  # One go command builds every package's test binary (name: last path
  # element + .test, unique in pkgs).
  CGO_ENABLED=0 GOOS=linux GOARCH=$a GOARM=7 $GO test -c -o "$out/$a/" "${pkgs[@]/#/./}"
done
echo "test-arm: built ${#pkgs[@]} test binaries for ${arches[*]} in $(( $(date +%s) - s ))s"

# runarch runs every package's tests for one arch, one package at a time;
# it prints a line per package (a failure's whole output) and fails if any
# package failed.
runarch() {
  local a=$1 rc=0 p names s
  for p in "${pkgs[@]}"; do
    names=${skip[$p]:-}
    if ! grep -q 1 "/proc/sys/fs/binfmt_misc/${binfmt[$a]}" 2>/dev/null; then
      [ "$p" = dect ] && names=${names:+$names|}$reexec_arm
      [ "$p" = provisioning ] && names=${names:+$names|}$reexec_prov
    fi
    local args=(-test.short -test.timeout 5m -test.count 1)
    [ -n "$names" ] && args+=(-test.skip "^($names)\$") && echo "test-arm: $a $p: excluded under qemu: $names"
    s=$(date +%s)
    if (cd "$p" && "${qemu[$a]}" "$out/$a/$(basename "$p").test" "${args[@]}" >"$out/$a.log" 2>&1); then
      echo "ok    $a $p $(( $(date +%s) - s ))s"
    else
      echo "FAIL  $a $p $(( $(date +%s) - s ))s"; cat "$out/$a.log"; rc=1
    fi
  done
  return $rc
}

# The arches run side by side (one emulated test binary each: two cores).
pids=()
for a in "${arches[@]}"; do
  runarch "$a" >"$out/$a.summary" 2>&1 &
  pids+=($!)
done
fail=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || fail+=("${arches[$i]}")
  cat "$out/${arches[$i]}.summary"
done
echo "test-arm: unit tests under qemu $(( $(date +%s) - t0 ))s"

s=$(date +%s)
if $GO test -count=1 -timeout 15m ./internal/armtest; then :; else fail+=(internal/armtest); fi
echo "test-arm: internal/armtest (armv7 basesim call under qemu) $(( $(date +%s) - s ))s"
echo "test-arm: whole ARM step $(( $(date +%s) - t0 ))s"
if [ ${#fail[@]} -gt 0 ]; then
  echo "test-arm: FAILED: ${fail[*]}" >&2
  exit 1
fi
