#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Turn one guest console log of tests/vm/vmtest.sh into pass/fail lines.

  check.py LOG EXPECT UPDATE(0|1) SUITE KVER
"""
import difflib
import json
import re
import sys

from probe_rows import probe_rows

log, expect_path, update, suite, kver = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], sys.argv[5]
text = open(log, errors="replace").read().replace("\r", "")
ok = True


def say(good, what):
    global ok
    print(("ok   " if good else "FAIL ") + f"{suite}: {what}")
    ok = ok and bool(good)


# --- probe selection ------------------------------------------------------------
got = probe_rows(text, say)
say(got and "BADFLAG rc=2" in text, "guest ran --probes in 4 modes and rejected a bad flag")
if update and got:
    with open(expect_path, "w") as f:
        f.write(f"# faultloop --probes on Debian {suite} amd64 {kver} (qemu TCG, btrfs loaded), per --mode\n")
        f.write("# mode\tsignal\tstatus\tattach mode\tsymbol\n")
        f.write("\n".join(got) + "\n")
    print(f"updated {expect_path} ({len(got)} rows)")
want = [l for l in open(expect_path).read().splitlines() if l and not l.startswith("#")]
if want == got:
    att = sum(1 for l in got if l.split("\t")[2] == "attached")
    say(True, f"({kver}) probe selection matches {expect_path}: {len(got)} rows, {att} attached across modes")
else:
    say(False, f"({kver}) probe selection differs from {expect_path}")
    print("\n".join(difflib.unified_diff(want, got, "expected", "got", lineterm="")))


# --- scenarios ----------------------------------------------------------------------
def scenario(name):
    m = re.search(r"SCENARIO-BEGIN %s rc=(\d+) pid=(\d*) buffer=(\S*)\n(.*?)SCENARIO-END %s" % (name, name),
                  text, re.S)
    if not m:
        return None, 0, 0, []
    reps = []
    for l in m.group(4).splitlines():
        if "{" not in l:
            continue
        try:
            reps.append(json.loads(l[l.find("{"):]))
        except ValueError:
            pass  # a kernel message cut into the line
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

m = re.search(r"SIGTERM rc=(\d+) during=(\d+) after=(\d+)", text)
say(m and m.group(1) == "0" and int(m.group(2)) > 0 and m.group(3) == "0",
    "SIGTERM: " + (f"{m.group(2)} fl_ programs while running, {m.group(3)} after, rc={m.group(1)}" if m else "no output"))
sys.exit(0 if ok else 1)
