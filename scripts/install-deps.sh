#!/usr/bin/env bash
# Installs what microseg needs on a fresh Debian 12 machine (run as root). Quiet and quick when
# everything is already there: it only calls apt when a package is missing.
set -euo pipefail
packages=(clang llvm libbpf-dev libbpf1 bpftool linux-libc-dev iproute2 iputils-ping iperf3 nftables procps dnsmasq-base udhcpc chromium chromium-driver
  systemd man-db groff-base init-system-helpers)
# etcd: the cluster store's tests start their own members on free localhost ports.
packages+=(etcd-server etcd-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (or install them) first" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
