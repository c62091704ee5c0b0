#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The BPF programs, maps and links one process holds, by their ids.

tests/crash.sh and tests/soak.sh check faultloop by its own objects, never
by counting the whole system (other BPF users come and go).  A process
holds an object through a descriptor whose /proc/PID/fdinfo names it
(prog_id, map_id, link_id; a link's prog_id is its program).

  bpf_ids.py owned PID            {"prog": [...], "map": [...], "link": [...]}
  bpf_ids.py watch PID            the union of owned PID, polled every 20 ms
                                  until the process exits
  bpf_ids.py gone IDS.json [S]    wait up to S (20) seconds until none of the
                                  ids exists; print those left, fail if any
  bpf_ids.py memlock PID          bytes of memory of the maps PID holds
                                  (bpftool map show: bytes_memlock)
"""
import json
import os
import subprocess
import sys
import time

KINDS = ("prog", "map", "link")


def owned(pid):
    ids = {k: set() for k in KINDS}
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        return ids
    for fd in fds:
        try:
            with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                info = f.read()
        except OSError:
            continue
        fields = dict(l.split(":\t", 1) for l in info.splitlines() if ":\t" in l)
        for k in KINDS:
            if k + "_id" in fields:
                ids[k].add(int(fields[k + "_id"]))
    return ids


def live(kind):
    out = subprocess.run(["bpftool", kind, "show", "--json"], capture_output=True,
                         text=True, check=True).stdout
    return {o["id"]: o for o in json.loads(out or "[]")}


def dump(ids):
    json.dump({k: sorted(v) for k, v in ids.items()}, sys.stdout)
    print()


def main():
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "owned":
        dump(owned(arg))
    elif cmd == "watch":
        seen = {k: set() for k in KINDS}
        while os.path.exists("/proc/%s/fd" % arg):
            for k, v in owned(arg).items():
                seen[k] |= v
            time.sleep(0.02)
        dump(seen)
    elif cmd == "gone":
        want = json.load(open(arg))
        deadline = time.monotonic() + float(sys.argv[3] if len(sys.argv) > 3 else 20)
        while True:
            left = {}
            for k in KINDS:
                still = set(want.get(k, [])) & set(live(k))
                if still:
                    left[k] = sorted(still)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        print(" ".join("%s %s" % (k, ",".join(map(str, v))) for k, v in left.items()))
        sys.exit(1 if left else 0)
    elif cmd == "memlock":
        maps = live("map")
        print(sum(int(maps[i].get("bytes_memlock", 0)) for i in owned(arg)["map"] if i in maps))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
