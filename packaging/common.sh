# Shared by the maintainer scripts and the hooks (copied into each at build time, so every
# installed script stands alone): read /etc/default/microseg like the units do.
microseg_load_defaults() {
	if [ -r /etc/default/microseg ]; then
		set -a
		. /etc/default/microseg
		set +a
	fi
}
