#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Turn one guest console log of tests/vm/vmtest.sh into pass/fail lines.

  check.py LOG EXPECT UPDATE(0|1) SUITE KVER [EXPANDED-LOG]

The guest sends its reports gzipped and base64-encoded between GZ64-BEGIN and
GZ64-END lines; they are expanded here (and the expanded log written to
EXPANDED-LOG) before anything is checked.
"""
import base64
import binascii
import gzip
import re
import sys
import zlib

from check_loops import check_loops, eio_expectation
from console import console_text, without_kernel
from exposure import check_exposure
from probe_rows import check_expect, json_reports, probe_rows

log, expect_path, update, suite, kver = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], sys.argv[5]
raw = console_text(log)
ok = True


def expand(m):
    # a kernel message between two lines of the block is no base64 line
    b64 = "".join(l for l in m.group(1).splitlines() if re.fullmatch(r"[A-Za-z0-9+/=]+", l))
    try:
        return gzip.decompress(base64.b64decode(b64)).decode(errors="replace")
    except (binascii.Error, OSError, EOFError, zlib.error) as e:
        return f"GZ64-UNDECODABLE {e}\n"


def expand_all(text):
    return re.sub(r"^GZ64-BEGIN\n(.*?)^GZ64-END\n", expand, text, flags=re.S | re.M)


# judged without the kernel's messages (one cut into a base64 line would
# make its block undecodable); kept with them, the stacks of a crash included
text = expand_all(without_kernel(raw))
if len(sys.argv) > 6:
    open(sys.argv[6], "w").write(expand_all(raw))


def say(good, what):
    global ok
    print(("ok   " if good else "FAIL ") + f"{suite}: {what}")
    ok = ok and bool(good)


# --- probe selection ------------------------------------------------------------
got = probe_rows(text, say)
modes = sorted({l.split("\t")[0] for l in got})
say(got and "BADFLAG rc=2" in text, f"guest ran --probes in {len(modes)} modes ({', '.join(modes)}) and rejected a bad flag")
att = check_expect(got, expect_path, update,
                   f"Debian {suite} amd64 {kver} (qemu TCG, btrfs loaded)", say)
if att is not None:
    say(True, f"({kver}) probe selection matches {expect_path}: {len(got)} rows, {len(att)} attached across modes")


# --- scenarios ----------------------------------------------------------------------
def scenario(name):
    m = re.search(r"SCENARIO-BEGIN %s rc=(\d+) pid=(\d*) buffer=(\S*)\n(.*?)SCENARIO-END %s" % (name, name),
                  text, re.S)
    if not m:
        return None, 0, 0, []
    bad = re.search(r"^GZ64-UNDECODABLE.*", m.group(4), re.M)
    if bad:
        say(False, f"{name}: the guest's reports do not decode ({bad.group(0)})")
    reps = json_reports(m.group(4))
    buf = int(m.group(3), 16) if m.group(3).startswith("0x") else 0
    return int(m.group(1)), int(m.group(2) or 0), buf, reps


for name, owner, ret in (("race-auto", "generic_perform_write", 4096),
                         ("race-fentry", "generic_perform_write", 4096),
                         ("race-kprobe", "generic_perform_write", 4096),
                         ("race-tracepoint", "generic_perform_write", None),
                         ("btrfs", "search_ioctl", 0)):
    rc, pid, buf, reps = scenario(name)
    if rc is None:
        say(False, f"{name}: no output")
        continue
    det = [r for r in reps if r["event"] == "detected" and r["pid"] == pid]
    at_buf = [r for r in det if buf and buf <= int(r["addr"], 16) < buf + 17 * 4096]
    if ret is None:
        # tracepoints only: no return probe, the owner comes from the stack
        own = [r for r in det if r["owner"] == owner]
        what = f"{len(own)} naming owner {owner} from the stack"
    else:
        own = [r for r in reps if r["event"] == "ended" and r["pid"] == pid and r["owner"] == owner
               and r["owner_ret"] == ret and r["reason"] == "owner_return"]
        what = f"{len(own)} ENDED by {owner} returning {ret}"
    say(rc == 0 and det and at_buf and own,
        f"{name}: {len(det)} DETECTED for pid {pid} ({len(at_buf)} at its buffer), {what} (rc={rc})")

rc, pid, buf, reps = scenario("running")
det = [r for r in reps if r["event"] == "detected" and r["pid"] == pid] if rc is not None else []
say(rc == 0 and det, f"race running before faultloop started: {len(det)} DETECTED for pid {pid}")

rc, pid, buf, reps = scenario("quiet")
det = [r for r in reps if r["event"] == "detected"]
m = re.search(r"SCENARIO-END quiet\n(?:.*\n)*?faultloop: (\d+) events, (\d+) episodes, (\d+) retries", text)
ev, eps, retries = (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (0, 0, 0)
# the storms must have happened (retries seen), and none may count as a loop
say(rc == 0 and not det and retries > 0,
    f"default settings quiet on the race + btrfs searches: {len(det)} DETECTED "
    f"({ev} events, {eps} episodes, {retries} retries seen, rc={rc})")
for r in det:	# what a storm looked like when it crossed the defaults
    print(f"     {r['comm']} tid {r.get('tid')}: {r['retries']} retries by {r['signal']} in "
          f"{r['duration_ns'] / 1e6:.0f} ms at {r['addr']}, owner {r.get('owner')}")

caught = check_loops(text, say, eio_expectation(suite))
check_exposure(text, say, re.sub(r"\.txt$", ".exposure", expect_path), update,
               f"Debian {suite} amd64 {kver} (qemu TCG, btrfs loaded)", caught)

m = re.search(r"SIGTERM rc=(\d+) during=(\d+) after=(\d+)", text)
say(m and m.group(1) == "0" and int(m.group(2)) > 0 and m.group(3) == "0",
    "SIGTERM: " + (f"{m.group(2)} fl_ programs while running, {m.group(3)} after, rc={m.group(1)}" if m else "no output"))
# the stall sampler that looks up the fault's VMA needs bpf_find_vma (5.17,
# 7c7e3d31e785); before it, the loader must fall back to the plain one
m = re.search(r"SIGTERM .* sampler=(\S*)", text)
v = re.match(r"(\d+)\.(\d+)", kver)
want = ("fl_stall_vma__p" if (int(v.group(1)), int(v.group(2))) >= (5, 17) else
        "fl_stall__perf") if v else "(kernel version unknown)"
say(m and m.group(1) == want,
    f"({kver}) the sampler running is {m.group(1) if m else 'not seen'} (want {want})")
phases = [(m.group(1), float(m.group(2))) for m in re.finditer(r"^PHASE (\S+) up=([0-9.]+)$", text, re.M)]
spent = {}
for (name, t0), (_, t1) in zip(phases, phases[1:]):
    spent[name] = spent.get(name, 0) + t1 - t0
if phases:
    print(f"note {suite}: guest seconds from {phases[0][1]:.1f} (boot) to {phases[-1][1]:.1f}: "
          + ", ".join(f"{k} {v:.1f}" for k, v in spent.items()))
sys.exit(0 if ok else 1)
