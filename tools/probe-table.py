#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Render the measured probe table (README) from the VM harness's
expectation files (tests/vm/expect/*.txt, written by tests/vm/vmtest.sh --update
from real guest output) and, optionally, this host's `faultloop --probes
--json` output.

  tools/probe-table.py [--host probes.json] [--mode auto|fentry|kprobe|tracepoint]
"""
import argparse
import glob
import json
import os
import re

ap = argparse.ArgumentParser()
ap.add_argument("--host", help="faultloop --probes --json output of this machine")
ap.add_argument("--host-name", default="this host")
ap.add_argument("--mode", default="auto")
ap.add_argument("--arch", default="amd64",
                help="columns from tests/vm/expect/*-ARCH.txt (the README table is amd64's)")
ap.add_argument("--update-readme", metavar="FILE",
                help="replace the table between the probe-table markers in FILE")
args = ap.parse_args()

def kernel(path):
    """The release the expectation was recorded on (its header), as a sort key:
    suite names ("trixie-backports") say nothing about the kernel's age."""
    m = re.search(r"Debian (\S+) (\S+) (\S+)", open(path).readline())
    rel = m.group(3) if m else os.path.basename(path)
    return [int(x) for x in re.findall(r"\d+", rel.split("-")[0].split("+")[0])], rel


root = os.path.join(os.path.dirname(__file__), "..")
cols, table, order = [], {}, []
for path in sorted(glob.glob(os.path.join(root, f"tests/vm/expect/*-{args.arch}.txt")), key=kernel):
    col = kernel(path)[1]
    cols.append(col)
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        mode, sig, status, amode, sym = line.rstrip("\n").split("\t")
        if mode != args.mode:
            continue
        if sig not in order:
            order.append(sig)
        table.setdefault(sig, {})[col] = f"{amode} `{sym}`" if status == "attached" else status

if args.host:
    col = args.host_name
    cols.append(col)
    for r in json.load(open(args.host))["probes"]:
        if r["signal"] not in order:
            order.append(r["signal"])
        table.setdefault(r["signal"], {})[col] = (f"{r['mode']} `{r['symbol']}`" if r["attached"]
                                                  else r["status"])

lines = ["| signal | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
for sig in order:
    row = table[sig]
    if all(row.get(c) == "other arch" for c in cols):
        continue
    lines.append(f"| {sig} | " + " | ".join(row.get(c, "?") for c in cols) + " |")

if args.update_readme:
    begin, end = "<!-- probe-table:begin -->", "<!-- probe-table:end -->"
    text = open(args.update_readme).read()
    i, j = text.index(begin) + len(begin), text.index(end)
    open(args.update_readme, "w").write(text[:i] + "\n" + "\n".join(lines) + "\n" + text[j:])
else:
    print("\n".join(lines))
