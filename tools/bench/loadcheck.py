#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Warn when something else is using the CPU while the benchmark measures.

    loadcheck.py STATEFILE

First call (no STATEFILE yet): samples every process for one second.  Later
calls: compares with the state the previous call saved, i.e. covers the
whole interval since (one repetition of the benchmark).  Prints a
"BENCH<TAB>warn<TAB>..." record (and the same on stderr) for each process
outside the benchmark's own session that used more than 10 % of a core
(kernel threads: 30 %), for any qemu, and, on the first call, for CPUs
more than 25 % busy.  Always exits 0.
"""
import os
import sys
import time

BUSY_USER = 0.10
BUSY_KTHREAD = 0.30
HZ = os.sysconf("SC_CLK_TCK")


def snapshot():
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        sid = int(rest[3])
        ticks = int(rest[11]) + int(rest[12])
        procs[pid] = (comm, sid, ticks, cmd[:80])
    return time.monotonic(), procs


def cpu_times():
    """(total, idle + iowait) jiffies of all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]


def save(path, t, procs):
    with open(path, "w") as f:
        f.write(f"{t}\n")
        for pid, (comm, sid, ticks, cmd) in procs.items():
            # one line per process: a command line may hold tabs and
            # newlines (python3 -c 'script'), which split the record
            comm, cmd = (" ".join(x.split()) for x in (comm, cmd))
            f.write(f"{pid}\t{comm}\t{sid}\t{ticks}\t{cmd}\n")


def load(path):
    with open(path) as f:
        t = float(f.readline())
        procs = {}
        for line in f:
            pid, comm, sid, ticks, cmd = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
            procs[pid] = (comm, int(sid), int(ticks), cmd)
    return t, procs


def warn(msg):
    print(f"BENCH\twarn\t{msg}", flush=True)
    print(f"bench: WARNING: {msg}", file=sys.stderr)


def main():
    path = sys.argv[1]
    me = os.getsid(0)
    first = not os.path.exists(path)
    if first:
        # the load average lags (a job that just released the lock still
        # shows): what counts is the CPU in use now
        load1 = float(open("/proc/loadavg").read().split()[0])
        c0 = cpu_times()
        t0, p0 = snapshot()
        time.sleep(1)
        c1 = cpu_times()
        busy = 1 - (c1[1] - c0[1]) / max(c1[0] - c0[0], 1)
        if busy > 0.25:
            warn(f"CPUs {100 * busy:.0f}% busy before the benchmark started (load average {load1:.2f})")
    else:
        t0, p0 = load(path)
    t1, p1 = snapshot()
    dt = max(t1 - t0, 1e-3)
    busy = []
    for pid, (comm, sid, ticks, cmd) in p1.items():
        if sid == me:
            continue
        if comm.startswith("qemu-system"):
            busy.append(f"{comm} (pid {pid}) is running: {cmd}")
            continue
        if pid not in p0:
            share = ticks / HZ / dt if ticks else 0.0  # started during the interval
        else:
            share = (ticks - p0[pid][2]) / HZ / dt
        limit = BUSY_USER if cmd else BUSY_KTHREAD
        if share > limit:
            busy.append(f"{comm} (pid {pid}) used {100 * share:.0f}% of a core over {dt:.0f} s: {cmd or '[kernel thread]'}")
    for b in busy:
        warn(b)
    save(path, t1, p1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
