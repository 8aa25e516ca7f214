#!/usr/bin/env bash
# Installs the third-party test peers from Debian's packages when any is
# missing: SIP server and phones, MQTT broker, modems and decoders, audio
# tools, tshark (decodes RTCP XR in the media tests), qemu-user for the ARM tests,
# chromium (the web panel's browser test, driven by chromedp), nats-server (the fleet's broker
# cluster). Safe to run again; does nothing when all are present.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
for pair in sipp:sip-tester baresip:baresip-core kamailio:kamailio mosquitto:mosquitto \
            mosquitto_pub:mosquitto-clients minimodem:minimodem multimon-ng:multimon-ng \
            sox:sox espeak-ng:espeak-ng openssl:openssl gcc:gcc xxd:xxd ip:iproute2 \
            qemu-arm-static:qemu-user-static qemu-aarch64-static:qemu-user-static \
            rauc:rauc mksquashfs:squashfs-tools dbus-daemon:dbus systemd-analyze:systemd \
            tshark:tshark chromium:chromium nats-server:nats-server; do
  bin=${pair%%:*}; pkg=${pair#*:}
  have "$bin" || need+=("$pkg")
done
[ -f /usr/include/spandsp/dtmf.h ] || need+=(libspandsp-dev)
[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/htable.so ] || [ -n "$(ls /usr/lib/*/kamailio/modules/htable.so 2>/dev/null)" ] || need+=(kamailio-extra-modules kamailio-utils-modules)
if dpkg -s kamailio >/dev/null 2>&1; then
  dpkg -s kamailio-extra-modules >/dev/null 2>&1 || need+=(kamailio-extra-modules)
  dpkg -s kamailio-utils-modules >/dev/null 2>&1 || need+=(kamailio-utils-modules)
  dpkg -s kamailio-tls-modules >/dev/null 2>&1 || need+=(kamailio-tls-modules)
else
  need+=(kamailio-tls-modules)
fi
dpkg -s libsox-fmt-base >/dev/null 2>&1 || need+=(libsox-fmt-base)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-peers: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# A concurrent apt run can delete cached .debs under us; retry once.
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}" || \
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
