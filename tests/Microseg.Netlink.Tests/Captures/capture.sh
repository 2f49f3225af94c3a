#!/bin/bash
# One-off: records the kernel's raw rtnetlink replies for the parser tests in this folder.
# Run as root from this directory: ./capture.sh. It builds a throwaway namespace, asks the
# kernel with a plain Python AF_NETLINK socket (independent of the C# code under test), writes
# the replies byte for byte next to `ip -d -j link` of the same namespace, and removes it again.
set -euo pipefail
cd "$(dirname "$0")"
ns=msnl-capture
peer=msnl-capture-peer
cleanup() { ip netns del "$ns" 2>/dev/null || true; ip netns del "$peer" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$ns"
ip netns add "$peer"
ip -n "$ns" link add br0 type bridge
ip -n "$ns" link add veth0 type veth peer name veth1
ip -n "$ns" link add vx0 type vxlan id 42 dstport 4789 local 10.0.0.1 remote 10.0.0.2 gbp
ip -n "$ns" link add vx1 type vxlan id 43 dstport 4790 local 10.0.0.1 remote 10.0.0.2
ip -n "$ns" link add vx6 type vxlan id 44 dstport 4791 local fd00::1 remote fd00::2
ip -n "$ns" link add vpeer0 type veth peer name vpeer1 netns "$peer"
for dev in veth0 vx0 vx1; do ip -n "$ns" link set "$dev" master br0; done
for dev in lo br0 veth0 veth1 vx0 vx1 vx6 vpeer0; do ip -n "$ns" link set "$dev" up; done
ip -n "$ns" -d -j link show > links.json
ip netns exec "$ns" python3 - <<'PY'
import socket, struct

NETLINK_ROUTE, SOL_NETLINK = 0, 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 10, 11, 12
RTM_GETLINK, NLMSG_ERROR, NLMSG_DONE = 18, 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_DUMP = 0x1, 0x2, 0x300
IFLA_IFNAME, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 3, 29, 1 << 3

def attr(kind, payload):
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)

def request(sock, seq, flags, ifinfo, attrs=b""):
    body = ifinfo + attrs
    sock.send(struct.pack("=IHHII", 16 + len(body), RTM_GETLINK, flags, seq, 0) + body)
    replies = b""
    while True:
        data = sock.recv(1 << 20)
        replies += data
        off = 0
        while off < len(data):
            length, kind, mflags = struct.unpack_from("=IHH", data, off)
            if kind in (NLMSG_DONE, NLMSG_ERROR) or not mflags & NLM_F_MULTI:
                return replies
            off += (length + 3) & ~3

def ifinfomsg(index=0, change=0):
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, 0, change)

def open_socket(strict=False):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    sock.bind((0, 0))
    sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    if strict:
        sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    return sock

skip_stats = attr(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_SKIP_STATS))
with open_socket() as s:
    captures = {
        "links-dump.bin": request(s, 1, NLM_F_REQUEST | NLM_F_DUMP, ifinfomsg(), skip_stats),
        "link-get-vx0.bin": request(s, 2, NLM_F_REQUEST, ifinfomsg(), attr(IFLA_IFNAME, b"vx0\0") + skip_stats),
        "link-get-missing.bin": request(s, 3, NLM_F_REQUEST, ifinfomsg(), attr(IFLA_IFNAME, b"nosuch0\0") + skip_stats),
    }
with open_socket(strict=True) as s:
    # Strict checking rejects a non-zero ifi_change in a dump request with an extended ack.
    captures["links-dump-extack.bin"] = request(s, 4, NLM_F_REQUEST | NLM_F_DUMP, ifinfomsg(change=1))
for name, data in captures.items():
    with open(name, "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")
PY
