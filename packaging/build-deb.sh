#!/usr/bin/env bash
# Builds the microseg Debian package by hand with dpkg-deb (no debhelper):
#   packaging/build-deb.sh APP_DIR VERSION OUT_DIR
# APP_DIR is the published program (`make build` leaves it in out/); its own `microseg generate`
# writes the man page and the bash completion, so both match the binary they ship with.
set -euo pipefail
app=${1:?usage: build-deb.sh APP_DIR VERSION OUT_DIR}
version=${2:?usage: build-deb.sh APP_DIR VERSION OUT_DIR}
out=${3:?usage: build-deb.sh APP_DIR VERSION OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
[ -x "$app/microseg" ] || { echo "build-deb: $app/microseg is missing (run 'make build')" >&2; exit 1; }

root=$(mktemp -d "${TMPDIR:-/tmp}/microseg-deb.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

# The one place that knows the program's layout: `make build` publishes one native executable
# (Native AOT: no .NET runtime on the host), installed as /usr/sbin/microseg. Its debug symbols
# (microseg.dbg) stay in APP_DIR.
install_program() {
	install -d "$root/usr/sbin"
	install -m 0755 "$app/microseg" "$root/usr/sbin/microseg"
}
install_program

# Maintainer scripts and hooks get the shared snippet pasted in, so each stands alone.
with_common() { sed -e "/^#COMMON#$/{r $here/common.sh" -e 'd}' "$1"; }

install -d "$root/lib/systemd/system" "$root/usr/share/man/man8" "$root/usr/share/bash-completion/completions" \
	"$root/etc/microseg" "$root/etc/default" "$root/usr/share/microseg/hooks" "$root/usr/share/doc/microseg" "$root/DEBIAN"
install -m 0644 "$here/microseg-apply.service" "$here/microseg-agent.service" "$root/lib/systemd/system/"
"$app/microseg" generate man --package-version "$version" | gzip -9n > "$root/usr/share/man/man8/microseg.8.gz"
"$app/microseg" generate completion bash > "$root/usr/share/bash-completion/completions/microseg"
chmod 0644 "$root/usr/share/bash-completion/completions/microseg"
install -m 0644 "$here/default" "$root/etc/default/microseg"
install -m 0644 "$here/../examples/microseg.cfg" "$root/etc/microseg/microseg.cfg.example"
for hook in qemu-ifup lxc-net-up; do
	with_common "$here/hooks/$hook" > "$root/usr/share/microseg/hooks/$hook"
	chmod 0755 "$root/usr/share/microseg/hooks/$hook"
done
install -m 0644 "$here/copyright" "$root/usr/share/doc/microseg/copyright"
printf 'microseg (%s) unstable; urgency=medium\n\n  * Built from the microseg repository.\n\n -- microseg <root@localhost>  %s\n' \
	"$version" "$(date -R -d @"${SOURCE_DATE_EPOCH:-0}")" | gzip -9n > "$root/usr/share/doc/microseg/changelog.Debian.gz"

for script in postinst prerm postrm; do
	with_common "$here/$script" > "$root/DEBIAN/$script"
	chmod 0755 "$root/DEBIAN/$script"
done
printf '/etc/default/microseg\n/etc/microseg/microseg.cfg.example\n' > "$root/DEBIAN/conffiles"
# Depends: the native executable links libc; it loads libbpf1 by name, and OpenSSL (libssl3)
# for hashes and TLS, as .NET does on Linux.
cat > "$root/DEBIAN/control" <<CONTROL
Package: microseg
Version: $version
Architecture: $arch
Maintainer: microseg <root@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: libc6, libssl3, libbpf1, iproute2
Recommends: bpftool
Section: net
Priority: optional
Description: group-based microsegmentation of VM and container NICs with eBPF
 microseg puts each guest NIC (tap{vmid}i{n} for QEMU, veth{vmid}i{n} for
 LXC) in a group and enforces allow/deny rules between groups in the kernel
 with BPF programs attached by tcx links. One executable: config editor,
 policy engine, agent, REST API and web UI.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sed -z 's|^\./||' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/microseg_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
