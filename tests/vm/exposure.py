# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The known loops' exposure a guest's faultloop decided, against
tests/vm/expect/SUITE-ARCH.exposure, shared by check.py and check-arm64.py.

`faultloop --probes --json` prints {"probes":[...],"known_loops":[...]}
(src/exposure.c); the guest runs it once per --mode, and the mode must not
change the answer.  The expectation is the facts of each Debian kernel
(fixes in src/knownbugs.c):
  - btrfs-search-ioctl-subpage: fixed in 5.19 (18788e34642e), no stable
    backport: exposed on bullseye's 5.10 arm64 with MTE, fixed on 6.1+,
    not_applicable on x86_64;
  - madv-populate-eio: MADV_POPULATE_* from 5.14, fixed in 6.9/6.8.8
    (631426ba1d45), which 6.1-stable refused: not_applicable on 5.10,
    exposed on bookworm's 6.1, fixed on 6.12+;
  - uffd-signal-busy-loop: no fix; not_applicable where userfaultfd is
    closed to unprivileged processes (Debian's default).
A loop that is exposed and that the suite reproduces must have been caught
in the same run; one that is fixed must not have looped.
"""
import difflib
import json
import re

from probe_rows import expected_rows


def known_loops(text, say):
    """The 'bug, status, fixed in' rows of the --probes blocks, one set for
    every mode (None, after a FAIL, when they are missing or disagree)."""
    per_mode = {}
    for m in re.finditer(r"PROBES-BEGIN (\w+)\n(.*?)\nPROBES-END \1 rc=0", text, re.S):
        line = next((l for l in m.group(2).splitlines() if l.startswith("{")), "{}")
        try:
            loops = json.loads(line).get("known_loops")
        except ValueError:
            loops = None
        per_mode[m.group(1)] = None if not loops else [
            f"{l['bug']}\t{l['status']}\t{l['fixed_in'] or '-'}" for l in loops]
    missing = [mode for mode, rows in per_mode.items() if rows is None]
    if not per_mode or missing:
        say(False, "--probes --json: no known_loops" + (f" in --mode {','.join(missing)}" if missing else ""))
        return None
    first = next(iter(per_mode.values()))
    differ = [mode for mode, rows in per_mode.items() if rows != first]
    if differ:
        say(False, f"known loops: --mode {','.join(differ)} decides otherwise than the others")
        return None
    return first


def check_exposure(text, say, path, update, header, scenarios):
    """scenarios: {bug: (scenario name, looped, caught, what)} for the loops
    this suite reproduces, as the same run's checks judged them."""
    got = known_loops(text, say)
    if got is None:
        return
    want = expected_rows(got, path, update,
                         [f"faultloop --probes known loops on {header}", "bug\tstatus\tfixed in"],
                         say, "exposure expectation")
    if want is not None:
        seen = ", ".join(" ".join(r.split("\t")[:2]) for r in got)
        say(want == got, f"known-loop exposure {'matches' if want == got else 'differs from'} {path}: {seen}")
        if want != got:
            print("\n".join(difflib.unified_diff(want, got, "expected", "got", lineterm="")))
    for row in got:
        bug, status = row.split("\t")[:2]
        if bug not in scenarios:
            continue
        name, looped, caught, what = scenarios[bug]
        if status == "exposed":
            say(caught, f"{bug} exposed, and {'caught' if caught else 'NOT caught'} by the {name} scenario: {what}")
        elif status == "fixed":
            say(not looped, f"{bug} fixed, and the {name} scenario {'LOOPED' if looped else 'did not loop'}: {what}")
