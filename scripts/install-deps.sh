#!/usr/bin/env bash
# Installs what microseg needs on a fresh Debian 12 machine (run as root). Quiet and quick when
# everything is already there: it only calls apt when a package is missing.
set -euo pipefail

# The .NET 10 SDK builds microseg (global.json: 10.0.100 or a later 10.0 feature band). Debian 12
# has no package for it: say exactly what to install and from where, before anything else fails.
dotnet_sdk_ok() { command -v dotnet >/dev/null 2>&1 && dotnet --list-sdks 2>/dev/null | grep -q '^10\.0\.[1-9]'; }
if ! dotnet_sdk_ok; then
  if ! command -v dotnet >/dev/null 2>&1; then found="no 'dotnet' on PATH"
  else found="dotnet has SDKs: $(dotnet --list-sdks 2>/dev/null | cut -d' ' -f1 | paste -sd' ')"; fi
  cat >&2 <<MSG
install-deps: the .NET 10 SDK is missing ($found).
microseg is built with it (Native AOT publish); the hosts that run microseg do not need it.
Install it from Microsoft's Debian 12 repository, as root:

  apt-get update && apt-get install -y wget ca-certificates
  wget https://packages.microsoft.com/config/debian/12/packages-microsoft-prod.deb -O /tmp/packages-microsoft-prod.deb
  dpkg -i /tmp/packages-microsoft-prod.deb
  apt-get update && apt-get install -y dotnet-sdk-10.0

(or without apt: https://dot.net/v1/dotnet-install.sh --channel 10.0, then put ~/.dotnet on PATH),
then run this command again.
MSG
  exit 1
fi

packages=(clang llvm libbpf-dev libbpf1 bpftool linux-libc-dev iproute2 iputils-ping iperf3 nftables procps dnsmasq-base udhcpc chromium chromium-driver
  systemd man-db groff-base init-system-helpers)
# Native AOT links the executable with clang (above) and needs zlib's headers and static library.
packages+=(zlib1g-dev)
# etcd: the cluster store's tests start their own members on free localhost ports.
packages+=(etcd-server etcd-client)
# promtool (in Debian's prometheus package): the tests check what /metrics answers with it.
# On a host that runs systemd the package also enables a Prometheus server on :9090.
packages+=(prometheus)
# The scale benchmark times commands with /usr/bin/time -v; BENCH_PROFILE=1 counts syscalls with strace.
packages+=(time strace)
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
