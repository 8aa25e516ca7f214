#!/usr/bin/env bash
# A short run of the fuzz targets that face outside input directly (SIP
# requests, RTP, radio frames, MQTT payloads, firmware-update commands and
# job reports, the updater's persisted jobs, the daemon's config file), for
# CI. `make fuzz FUZZTIME=10m` runs every target for longer.
set -euo pipefail
t=${1:-15s}
cd "$(dirname "$0")/.."
targets=(
  "./sipua FuzzHandlers"
  "./sipua/media FuzzReceiveDatagram"
  "./dect/wire FuzzFrameDecoder"
  "./provisioning FuzzDecodeCommand"
  "./provisioning FuzzDecodeConfig"
  "./provisioning FuzzDecodeStrict"
  "./provisioning FuzzDecodeFirmwareUpdateArgs"
  "./provisioning FuzzDecodeFirmwareJob"
  "./update FuzzDecodeJobs"
  "./internal/daemon FuzzDecodeConfig"
)
for tg in "${targets[@]}"; do
  set -- $tg
  echo "== fuzz-smoke $1 $2 ($t)"
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" "$1"
done
