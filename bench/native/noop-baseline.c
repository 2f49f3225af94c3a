/* The kernel work of a no-op `microseg apply` (nothing to change), done by a C program with
 * libbpf on the same pins, as the apply benchmark's floor (never shipped):
 *   noop-baseline POLICY_PIN_ROOT
 * reads the host's interfaces (one netlink dump, glibc's if_nameindex), opens every link pin
 * under POLICY_PIN_ROOT/links and checks that it is a live link (its fd's kind, one info call),
 * and reads nic_group, verdicts and services whole with batch lookups: what microseg must ask
 * the kernel to know that the host is as the last full apply left it. Prints the numbers it
 * saw; exits non-zero with a message on failure. */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "noop-baseline: %s %s: %s\n", what, path, strerror(err < 0 ? -err : err));
	return 1;
}

/* Every entry of the map pinned at PATH, in batches of 4,096; the count, or -1. */
static long read_map(const char *path)
{
	int map = bpf_obj_get(path);
	if (map < 0)
		return fail("open", path, map), -1;
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	memset(&info, 0, sizeof(info));
	int err = bpf_obj_get_info_by_fd(map, &info, &len);
	if (err)
		return fail("info of", path, err), -1;
	size_t key_size = info.key_size, value_size = info.value_size;
	enum { BATCH = 4096 };
	char *keys = malloc(BATCH * key_size), *values = malloc(BATCH * value_size);
	unsigned long long token = 0;
	long total = 0;
	int first = 1;
	for (;;) {
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(map, first ? NULL : &token, &token, keys, values, &count, NULL);
		first = 0;
		total += count;
		if (err == -ENOENT || (err && errno == ENOENT))
			break;
		if (err) {
			fail("batch lookup", path, err);
			total = -1;
			break;
		}
	}
	free(keys);
	free(values);
	close(map);
	return total;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: noop-baseline POLICY_PIN_ROOT\n");
		return 2;
	}
	const char *root = argv[1];
	char path[4096], fdpath[64], kind[64];

	struct if_nameindex *ifs = if_nameindex();
	if (!ifs)
		return fail("list", "interfaces", errno);
	int interfaces = 0;
	for (struct if_nameindex *i = ifs; i->if_index; i++)
		interfaces++;
	if_freenameindex(ifs);

	snprintf(path, sizeof(path), "%s/links", root);
	DIR *dir = opendir(path);
	if (!dir)
		return fail("open", path, errno);
	int links = 0;
	for (struct dirent *e; (e = readdir(dir));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/links/%s", root, e->d_name);
		int link = bpf_obj_get(path);
		if (link < 0)
			return fail("open", path, link);
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", link);
		ssize_t n = readlink(fdpath, kind, sizeof(kind) - 1);
		if (n < 0 || (kind[n] = 0, strcmp(kind, "anon_inode:bpf-link")))
			return fail("check", path, EINVAL);
		struct bpf_link_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		int err = bpf_obj_get_info_by_fd(link, &info, &len);
		if (err)
			return fail("info of", path, err);
		close(link);
		links++;
	}
	closedir(dir);

	snprintf(path, sizeof(path), "%s/nic_group", root);
	long nics = read_map(path);
	snprintf(path, sizeof(path), "%s/verdicts", root);
	long words = read_map(path);
	snprintf(path, sizeof(path), "%s/services", root);
	long services = read_map(path);
	if (nics < 0 || words < 0 || services < 0)
		return 1;
	printf("%d interfaces, %d links, nic_group %ld, verdicts %ld, services %ld\n", interfaces, links, nics, words, services);
	return 0;
}
