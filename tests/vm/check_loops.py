# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Verdicts on tests/vm/loops.sh's output in a guest console log, shared by
check.py (amd64) and check-arm64.py.

At default settings, on every kernel: the userfaultfd loop in both
directions is DETECTED for the spinning thread within 2 s of the signal and
named as the known bug; a thread asleep on userfaultfd is not reported.
The MADV_POPULATE EIO loop: where the kernel lacks 631426ba1d45 (madvise
never returns) it is DETECTED for its thread and named; where madvise
returns (EFAULT on fixed kernels, EINVAL before 5.14) nothing is reported.
"""
import datetime
import json
import re

# a guest under TCG is slow to deliver a signal and to sample: the same
# bound as on the host, measured from the signal
UFFD_LATENCY_S = 2.0


# Debian kernels that lack 631426ba1d45 and have MADV_POPULATE_* (5.14+):
# bookworm's 6.1 (its stable backport failed to apply, and Debian's
# changelog has no equivalent; tools/README-gup.md).  bullseye's 5.10
# answers EINVAL (no MADV_POPULATE_*), the others EFAULT.
EIO_LOOPS = {"bookworm"}


def eio_expectation(suite):
    return "loop" if suite in EIO_LOOPS else "returns"


def _scenarios(text):
    for m in re.finditer(r"LOOPS-BEGIN (\S+)\n(.*?)\nLOOPS-REPORTS\n(.*?)LOOPS-END \1", text, re.S):
        name, out, reports = m.group(1), m.group(2), m.group(3)
        reps = []
        for l in reports.splitlines():
            l = l.strip()
            if l.startswith("{"):
                try:
                    reps.append(json.loads(l))
                except ValueError:
                    pass
        yield name, out, reps


def _field(out, key):
    m = re.search(r"^%s (\S+)" % re.escape(key), out, re.M)
    return m.group(1) if m else None


def _epoch(iso):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def check_loops(text, say, eio_expected=None):
    """eio_expected: "loop", "returns" or None (no populate-eio scenario)."""
    seen = set()
    for name, out, reps in _scenarios(text):
        seen.add(name)
        tid = int(_field(out, "tid") or -1)
        mine = [r for r in reps if r.get("tid") == tid]
        det = [r for r in mine if r["event"] == "detected"]
        if name in ("uffd-write", "uffd-read"):
            sig = _field(out, "signal_realtime_ns")
            if not det or not sig:
                say(False, f"{name}: tid {tid} not DETECTED ({len(reps)} reports)")
                continue
            lat = _epoch(det[0]["time"]) - int(sig) / 1e9
            bug = (det[0].get("known_bug") or {}).get("id")
            say(0 < lat <= UFFD_LATENCY_S and bug == "uffd-signal-busy-loop",
                f"{name}: tid {tid} DETECTED {lat:.2f}s after the signal by "
                f"{det[0]['signal']}, known bug {bug}")
        elif name == "uffd-sleep":
            say(tid > 0 and not mine,
                f"uffd-sleep: a thread asleep on userfaultfd: {len(mine)} reports for tid {tid}")
        elif name == "populate-eio":
            returned = re.search(r"^madvise returned (-?\d+) errno (\d+)", out, re.M)
            if eio_expected == "loop":
                bug = (det[0].get("known_bug") or {}).get("id") if det else None
                say(not returned and bool(det) and bug == "madv-populate-eio",
                    f"populate-eio: madvise {'returned' if returned else 'loops'}; "
                    f"tid {tid} DETECTED: {bool(det)}, known bug {bug}")
            else:
                say(bool(returned) and not det,
                    f"populate-eio: madvise {returned.group(0) if returned else 'never returned'}; "
                    f"{len(det)} DETECTED for tid {tid}")
    for want in ("uffd-write", "uffd-read", "uffd-sleep") + (("populate-eio",) if eio_expected else ()):
        if want not in seen:
            say(False, f"{want}: no output from the guest")
