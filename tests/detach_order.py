#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""faultloop detaches on SIGTERM/SIGINT before it exits, not at exit.

A process that exits loses its programs, maps and links whatever it did
(the kernel frees them with its descriptors), so looking after the exit
proves nothing about the detach.  Here faultloop's stderr is a pipe of 4
KiB that this script fills before the signal: faultloop detaches, then
blocks writing its exit summary, still alive, still holding its programs
and maps.  At that moment every link it held must be gone and every
program still there; then the pipe is drained, and faultloop must exit 0
with nothing left.

  detach_order.py FAULTLOOP SIGNAL [ARGS...]     prints one line; exit 1 on failure
"""
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpf_ids import owned, live as live_once  # noqa: E402


def live(kind):
    """bpftool's listing, retried: it fails (255) when an object of another
    BPF user goes away while it walks the ids."""
    for _ in range(20):
        try:
            return live_once(kind)
        except subprocess.CalledProcessError:
            time.sleep(0.05)
    return live_once(kind)

F_SETPIPE_SZ = 1031


def fail(msg):
    print(msg)
    sys.exit(1)


def main():
    fl, sig, args = sys.argv[1], getattr(signal, "SIG" + sys.argv[2]), sys.argv[3:]
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    p = subprocess.Popen([fl] + args, stdout=subprocess.DEVNULL, stderr=w)
    err = b""
    deadline = time.monotonic() + 60
    while b"probes attached" not in err:
        if p.poll() is not None or time.monotonic() > deadline:
            fail("no banner: rc=%s %r" % (p.poll(), err[-300:]))
        err += os.read(r, 4096)
    time.sleep(0.3)             # the rest of the banner written
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_NONBLOCK)
    try:
        while os.read(r, 65536):
            pass
    except BlockingIOError:
        pass
    ids = owned(p.pid)
    if not all(ids.values()):
        fail("holds no programs, maps or links while it runs: %s" % ids)
    # fill what faultloop writes to, through a description of our own (its
    # stderr stays blocking): its next stderr line blocks
    wn = os.open("/proc/self/fd/%d" % w, os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            os.write(wn, b"x" * 512)
    except BlockingIOError:
        pass
    os.close(wn)
    p.send_signal(sig)
    deadline = time.monotonic() + 20
    while set(live("link")) & ids["link"]:
        if p.poll() is not None:
            fail("exited (rc=%s) before its links were seen gone" % p.returncode)
        if time.monotonic() > deadline:
            fail("links %s still there 20 s after SIG%s" % (sorted(set(live("link")) & ids["link"]), sys.argv[2]))
        time.sleep(0.05)
    progs = set(live("prog")) & ids["prog"]
    alive = p.poll() is None
    # drain: faultloop writes its summary and exits
    fcntl.fcntl(r, fcntl.F_SETFL, 0)
    threading.Thread(target=lambda: [os.read(r, 65536) for _ in iter(int, 1)], daemon=True).start()
    rc = p.wait(timeout=30)
    os.close(w)
    if not alive or progs != ids["prog"]:
        fail("links gone, but the process %s and %d of its %d programs were left at that moment"
             % ("was alive" if alive else "had exited", len(progs), len(ids["prog"])))
    deadline = time.monotonic() + 20
    while any(set(live(k)) & ids[k] for k in ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {k: sorted(set(live(k)) & ids[k]) for k in ids if set(live(k)) & ids[k]}
    if rc != 0 or left:
        fail("rc=%d; left after exit: %s" % (rc, left))
    print("its %d links gone while it still ran holding its %d programs; exit 0, nothing left"
          % (len(ids["link"]), len(ids["prog"])))


if __name__ == "__main__":
    main()
