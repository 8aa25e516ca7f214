#!/bin/sh
# Memory and CPU of the Base Station daemon next to baresip, measured in the
# same run (issue 6; method in shared/reference/performance.md §8 rows 2-4,
# §9). Runs internal/perf's TestDaemonVsBaresip in full: 10 s windows,
# 0..4 concurrent G.711 calls, RUNS alternating runs (default 5), medians;
# the basestationd binary alone against the virtual board (issue 11): idle
# for 60 s with two extensions and two devices (CPU, VmRSS, context
# switches per second), then 0..4 calls.
#
#   scripts/perf-vs-baresip.sh            # 5 runs, unpinned
#   RUNS=1 scripts/perf-vs-baresip.sh     # one run (about 3.5 minutes)
#   CPU=1 scripts/perf-vs-baresip.sh      # pin the measured processes to CPU 1
#   PROFILES=/tmp/p scripts/perf-vs-baresip.sh   # keep the daemon's CPU profiles
#   HEAP=1 scripts/perf-vs-baresip.sh     # also split the live heap per call by
#                                         # part (MemProfileRate 4096: a little CPU)
#
# Needs baresip (scripts/install-peers.sh). Never built with -race: race
# figures are not representative.
set -eu
cd "$(dirname "$0")/.."
if [ -n "${PROFILES:-}" ]; then
	mkdir -p "$PROFILES"
	out=$PROFILES # keep the binary next to the profiles for go tool pprof
else
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
go test -c -o "$out/perf.test" ./internal/perf
runs=${RUNS:-5}
BASESTATION_PERF=1 BASESTATION_PERF_RUNS="$runs" \
BASESTATION_PERF_CPU="${CPU:-}" BASESTATION_PERF_PROFILES="${PROFILES:-}" BASESTATION_PERF_HEAP="${HEAP:-}" \
	"$out/perf.test" -test.run '^TestDaemonVsBaresip$' -test.v -test.timeout $((runs * 6 + 5))m
