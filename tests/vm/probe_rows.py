# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The --probes rows of a guest console log, as tests/vm/expect/ holds them,
and the JSON reports in a block of it.

Shared by check.py (amd64) and check-arm64.py: the guest prints
PROBES-BEGIN MODE, `faultloop --probes --json --mode MODE`, PROBES-END MODE rc=N.
"""
import difflib
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


def expected_rows(got, path, write, header, say, what):
    """The rows of the expectation file path (tests/vm/expect/), rewritten
    first from got under the comment lines header when write; None, said as
    a failure, when there is no such file."""
    if write:
        with open(path, "w") as f:
            f.write("".join(f"# {h}\n" for h in header))
            f.write("\n".join(got) + "\n")
        print(f"updated {path} ({len(got)} rows)")
    try:
        return [l for l in open(path).read().splitlines() if l and not l.startswith("#")]
    except OSError:
        say(False, f"no {what} {path} (run with --update)")
        return None


def check_expect(got, expect_path, update, header, say):
    """got against the expectation file expect_path (rewritten first when
    update, with header naming the guest); says the verdict. Returns the
    attached rows (split) when they match, else None."""
    modes = " ".join(sorted({l.split("\t")[0] for l in got}))
    want = expected_rows(got, expect_path, update and got,
                         [f"faultloop --probes on {header}, --mode {modes}",
                          "mode\tsignal\tstatus\tattach mode\tsymbol"], say, "probe expectation")
    if want is None:
        return None
    if want != got:
        say(False, f"probe selection differs from {expect_path}")
        print("\n".join(difflib.unified_diff(want, got, "expected", "got", lineterm="")))
        return None
    return [l.split("\t") for l in got if l.split("\t")[2] == "attached"]


def json_reports(body):
    """faultloop's JSON lines in body, a kernel message cut into one skipped."""
    reps = []
    for line in (body or "").splitlines():
        if "{" not in line:
            continue
        try:
            reps.append(json.loads(line[line.find("{"):]))
        except ValueError:
            pass  # a kernel message cut into the line
    return reps
