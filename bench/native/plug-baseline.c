/* The kernel work of `microseg apply IFACE` for one NIC, done by a C program with libbpf on the
 * same pins, as the plug-path benchmark's baseline (never shipped):
 *   plug-baseline POLICY_PIN_ROOT IFNAME GROUP
 * opens the pinned policy programs and nic_group map under POLICY_PIN_ROOT (the agent's
 * <bpffs>/policy), writes IFNAME's group (one map update), creates the egress then the ingress
 * tcx link on IFNAME and pins them as links/{ifindex}-{egress|ingress}: what microseg does for a
 * NIC whose group already has its verdicts on the host. Exits non-zero with a message on failure. */
#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Debian 12's kernel headers predate tcx (Linux 6.6). */
#define ATTACH_TCX_INGRESS 46
#define ATTACH_TCX_EGRESS 47

static int fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "plug-baseline: %s %s: %s\n", what, path, strerror(err < 0 ? -err : err));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: plug-baseline POLICY_PIN_ROOT IFNAME GROUP\n");
		return 2;
	}
	const char *root = argv[1], *ifname = argv[2];
	unsigned int ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return fail("find interface", ifname, errno);
	unsigned int group = (unsigned int)strtoul(argv[3], NULL, 10) & 0xffff; /* NicInfo: u16 group + pad */
	char path[4096];

	snprintf(path, sizeof(path), "%s/nic_group", root);
	int map = bpf_obj_get(path);
	if (map < 0)
		return fail("open", path, map);
	int err = bpf_map_update_elem(map, &ifindex, &group, BPF_ANY);
	if (err)
		return fail("update", path, err);

	static const struct { const char *name; int attach; } hooks[] = {
		{ "egress", ATTACH_TCX_EGRESS },
		{ "ingress", ATTACH_TCX_INGRESS },
	};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/prog/%s", root, hooks[i].name);
		int prog = bpf_obj_get(path);
		if (prog < 0)
			return fail("open", path, prog);
		int link = bpf_link_create(prog, (int)ifindex, hooks[i].attach, NULL);
		if (link < 0)
			return fail("create tcx link on", ifname, link);
		snprintf(path, sizeof(path), "%s/links/%u-%s", root, ifindex, hooks[i].name);
		err = bpf_obj_pin(link, path);
		if (err)
			return fail("pin", path, err);
	}
	return 0;
}
