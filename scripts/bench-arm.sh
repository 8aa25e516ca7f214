#!/usr/bin/env bash
# The DSP and codec benchmarks (fxs/dsp DTMF detector and tone generation,
# G.711, G.722, the dect/wire frame codec) natively and under qemu-user for
# linux/arm (GOARM=7) and linux/arm64: the figures of BENCHMARKS.md
# "Emulated ARM". Emulated figures say how the code runs under qemu on
# this host, not on a real ARM board.
#
# Usage: scripts/bench-arm.sh [benchtime]   (default 1s)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
bt=${1:-1s}
pkgs=(fxs/dsp sipua/media/g711 sipua/media/g722 dect/wire)
re='^Benchmark(DTMFDetect8k|ToneFill8k|(En|De)code(Ulaw|Alaw)Frame|(En|De)code20ms|Frame(En|De)code)$'
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A qemu=([amd64]="" [arm]=qemu-arm-static [arm64]=qemu-aarch64-static)
for a in amd64 arm arm64; do
  mkdir -p "$out/$a"
  CGO_ENABLED=0 GOOS=linux GOARCH=$a GOARM=7 $GO test -c -o "$out/$a/" "${pkgs[@]/#/./}"
  for p in "${pkgs[@]}"; do
    echo "# $a $p"
    (cd "$p" && ${qemu[$a]} "$out/$a/$(basename "$p").test" -test.run '^$' -test.bench "$re" \
      -test.benchtime "$bt" -test.benchmem -test.count 1 | grep '^Benchmark')
  done
done
