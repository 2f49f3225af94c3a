#!/bin/bash
# One-off: records the kernel's raw RTNLGRP_LINK notifications for the event parser tests in
# this folder. Run as root from this directory: ./capture-events.sh. A plain Python AF_NETLINK
# socket (independent of the C# code under test) joins the group in a throwaway namespace, `ip`
# makes a bridge and a veth pair, enslaves, raises, frees and deletes; the notifications are
# written byte for byte (link-events.bin), the ifindexes `ip` saw next to them (link-events.json).
set -euo pipefail
cd "$(dirname "$0")"
ns=msnl-capture-events
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$ns"
ip netns exec "$ns" python3 - "$ns" <<'PY'
import json, socket, subprocess, sys

ns = sys.argv[1]
NETLINK_ROUTE, RTMGRP_LINK = 0, 1

def ip(*args):
    subprocess.run(["ip", *args], check=True)

sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
sock.bind((0, RTMGRP_LINK))
ip("link", "add", "br0", "type", "bridge")
ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
ip("link", "set", "veth0", "master", "br0")
ip("link", "set", "veth0", "up")
ifindex = {l["ifname"]: l["ifindex"] for l in json.loads(subprocess.run(["ip", "-j", "link"], check=True, capture_output=True).stdout)}
ip("link", "set", "veth0", "nomaster")
ip("link", "del", "veth0")
sock.setblocking(False)
events = b""
count = 0
while True:
    try:
        events += sock.recv(1 << 20)
        count += 1
    except BlockingIOError:
        break
with open("link-events.bin", "wb") as f:
    f.write(events)
with open("link-events.json", "w") as f:
    json.dump({name: ifindex[name] for name in ("br0", "veth0", "veth1")}, f)
    f.write("\n")
print(f"link-events.bin: {count} datagrams, {len(events)} bytes")
PY
