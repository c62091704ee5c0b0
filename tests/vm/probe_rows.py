# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The --probes rows of a guest console log, as tests/vm/expect/ holds them.

Shared by check.py (amd64) and check-arm64.py: the guest prints
PROBES-BEGIN MODE, `faultloop --probes --json --mode MODE`, PROBES-END MODE rc=N.
"""
import json
import re


def probe_rows(text, say):
    """One 'mode, signal, status, attach mode, symbol' row per probe and mode."""
    got = []
    for m in re.finditer(r"PROBES-BEGIN (\w+)\n(.*?)\nPROBES-END \1 rc=(\d+)", text, re.S):
        mode, body, rc = m.group(1), m.group(2), int(m.group(3))
        if rc != 0:
            say(False, f"--probes --mode {mode} exited {rc}")
            continue
        line = next((l for l in body.splitlines() if l.startswith("{")), "{}")
        try:
            rows = json.loads(line)["probes"]
        except (ValueError, KeyError):
            rows = []
            say(False, f"--probes --mode {mode}: unparsable JSON")
        for r in rows:
            got.append(f"{mode}\t{r['signal']}\t{r['status']}\t{r['mode'] or '-'}\t{r['symbol'] or '-'}")
    return got
