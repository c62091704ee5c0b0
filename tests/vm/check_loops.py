# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Verdicts on tests/vm/loops.sh's output in a guest console log, shared by
check.py (amd64) and check-arm64.py.

At default settings, on every kernel: the userfaultfd loop in both
directions is DETECTED for the spinning thread within 3 s of the signal, at
most 1.5 s into its episode, and
named as the known bug; a thread asleep on userfaultfd is not reported.
The MADV_POPULATE EIO loop: where the kernel lacks 631426ba1d45 (madvise
never returns) it is DETECTED for its thread and named; where madvise
returns (EFAULT on fixed kernels, EINVAL before 5.14) nothing is reported.
"""
import datetime
import json
import re

# faultloop's own part: the episode it DETECTED had lasted --min-duration
# (1 s at defaults) and at most half a second more (a sampler period under
# TCG, the report's trip to user space)
UFFD_DETECT_DURATION_S = 1.5
# the whole, from the signal: the guest's part too, a signal's delivery
# and the thread's first fault, which a loaded host stretches under TCG
# (2.05 s seen on arm64 5.10 with the other core busy; 1.2 s on the host)
UFFD_LATENCY_S = 3.0


# Debian kernels that lack 631426ba1d45 and have MADV_POPULATE_* (5.14+):
# bookworm's 6.1 (its stable backport failed to apply, and Debian's
# changelog has no equivalent; tools/README-gup.md).  bullseye's 5.10
# answers EINVAL (no MADV_POPULATE_*), the others EFAULT.
EIO_LOOPS = {"bookworm"}


def release(suite):
    """The Debian release of a flavoured suite (tools/lib.sh suite_release):
    bullseye-rt's kernel is bullseye's 5.10 with PREEMPT_RT, same fixes."""
    return re.sub(r"-(rt|16k)$", "", suite)


def eio_expectation(suite):
    return "loop" if release(suite) in EIO_LOOPS else "returns"


def _scenarios(text):
    """(name, run, workload output, reports) per LOOPS-BEGIN NAME#RUN block."""
    for m in re.finditer(r"LOOPS-BEGIN (\S+)#(\d+)[^\n]*\n(.*?)\nLOOPS-REPORTS[^\n]*\n(.*?)LOOPS-END \1#\2\n", text, re.S):
        name, run, out, reports = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        reps = []
        for l in reports.splitlines():
            l = l.strip()
            if l.startswith("{"):
                try:
                    reps.append(json.loads(l))
                except ValueError:
                    pass
        yield name, run, out, reps


def _field(out, key):
    m = re.search(r"^%s (\S+)" % re.escape(key), out, re.M)
    return m.group(1) if m else None


def _epoch(iso):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def _uffd_run(out, reps):
    """One run of the userfaultfd loop: (good, what, latency or None)."""
    tid = int(_field(out, "tid") or -1)
    det = [r for r in reps if r.get("tid") == tid and r["event"] == "detected"]
    sig = _field(out, "signal_realtime_ns")
    if not det or not sig:
        spun = re.search(r"^utime_ms \S+ stime_ms (\S+) over (\S+)$", out, re.M)
        return False, (f"tid {tid} not DETECTED ({len(reps)} reports; it spun "
                       + (f"{spun.group(1)} ms in {spun.group(2)})" if spun else "for an unknown time)")), None
    lat = _epoch(det[0]["time"]) - int(sig) / 1e9
    dur = det[0].get("duration_ns", 0) / 1e9
    bug = (det[0].get("known_bug") or {}).get("id")
    return (0 < lat <= UFFD_LATENCY_S and 0 < dur <= UFFD_DETECT_DURATION_S
            and bug == "uffd-signal-busy-loop",
            f"tid {tid} DETECTED {lat:.2f}s after the signal, {dur:.2f}s into its episode, "
            f"by {det[0]['signal']}, known bug {bug}", lat)


def plan(text):
    """LOOPS_REPEAT and LOOPS_ONLY as the guest ran them (loops.sh's LOOPS-PLAN)."""
    m = re.search(r"^LOOPS-PLAN repeat=(\d+) only=(\S*)$", text, re.M)
    return (int(m.group(1)), m.group(2).split(",")) if m else (None, [])


def check_loops(text, say, eio_expected=None):
    """eio_expected: "loop", "returns" or None (no populate-eio scenario).
    Every run loops.sh announced must be there and pass: a run missing is a
    guest that stopped in it.  Returns {bug: (scenario, looped, caught, what)}
    for the known loops reproduced here (tests/vm/exposure.py)."""
    caught = {}
    repeat, only = plan(text)
    if repeat is None:
        say(False, "loops.sh: no output from the guest (no LOOPS-PLAN line)")
        return caught
    runs = {}
    for name, run, out, reps in _scenarios(text):
        runs.setdefault(name, {})[run] = (out, reps)
    for name in ("uffd-write", "uffd-read"):
        if name not in only:
            continue
        got = runs.get(name, {})
        verdicts = {n: _uffd_run(*got[n]) for n in sorted(got)}
        bad = [f"run {n}: {what}" for n, (good, what, _) in verdicts.items() if not good]
        lats = sorted(lat for good, _, lat in verdicts.values() if good)
        say(len(got) == repeat and not bad,
            f"{name}: {sum(g for g, _, _ in verdicts.values())}/{repeat} runs DETECTED within "
            f"{UFFD_LATENCY_S:.0f}s of the signal as uffd-signal-busy-loop"
            + (f" (latency {lats[0]:.2f}-{lats[-1]:.2f}s)" if lats else "")
            + (f"; {repeat - len(got)} runs missing" if len(got) != repeat else "")
            + "".join(f"\n       {b}" for b in bad))
        # caught: named in a run of each direction (that every run is, the
        # line above judges)
        good = any(g for g, _, _ in verdicts.values())
        prev = caught.get("uffd-signal-busy-loop")
        caught["uffd-signal-busy-loop"] = (
            "+".join(filter(None, (prev and prev[0], name))), True, good and (not prev or prev[2]),
            ", ".join(filter(None, (prev and prev[3], f"{name} {len(got) - len(bad)}/{repeat} runs DETECTED"))))
    if "uffd-sleep" in only:
        if 1 not in runs.get("uffd-sleep", {}):
            say(False, "uffd-sleep: no output from the guest")
        else:
            out, reps = runs["uffd-sleep"][1]
            tid = int(_field(out, "tid") or -1)
            mine = [r for r in reps if r.get("tid") == tid]
            say(tid > 0 and not mine,
                f"uffd-sleep: a thread asleep on userfaultfd: {len(mine)} reports for tid {tid}")
    if eio_expected and "populate-eio" in only:
        if 1 not in runs.get("populate-eio", {}):
            say(False, "populate-eio: no output from the guest")
            return caught
        out, reps = runs["populate-eio"][1]
        tid = int(_field(out, "tid") or -1)
        det = [r for r in reps if r.get("tid") == tid and r["event"] == "detected"]
        returned = re.search(r"^madvise returned (-?\d+) errno (\d+)", out, re.M)
        bug = (det[0].get("known_bug") or {}).get("id") if det else None
        caught["madv-populate-eio"] = (
            "populate-eio", not returned, not returned and bug == "madv-populate-eio",
            f"madvise {returned.group(0) if returned else 'never returned'}, "
            f"tid {tid} DETECTED {len(det)} times as {bug}")
        if eio_expected == "loop":
            say(not returned and bool(det) and bug == "madv-populate-eio",
                f"populate-eio: madvise {'returned' if returned else 'loops'}; "
                f"tid {tid} DETECTED: {bool(det)}, known bug {bug}")
        else:
            say(bool(returned) and not det,
                f"populate-eio: madvise {returned.group(0) if returned else 'never returned'}; "
                f"{len(det)} DETECTED for tid {tid}")
    return caught
