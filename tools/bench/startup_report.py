# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The start-up records of tools/bench/startup.sh as a table: median and
range per mode, and auto mode against tracepoint mode."""
import statistics
import sys


def main(path, title):
    runs = {}
    for line in open(path, errors="replace"):
        f = line.rstrip("\r\n").split("\t")
        if len(f) == 4 and f[0] == "BENCH" and f[1] == "startup":
            runs[f[2]] = [int(v) for v in f[3].split() if v.isdigit()]
    if not runs:
        return
    print(f"\nStart-up, main() to probes armed ({title}):")
    print(f"  {'mode':<11} {'median':>8} {'min':>6} {'max':>6}  runs")
    med = {}
    for mode, v in runs.items():
        if not v:
            print(f"  {mode:<11} {'-':>8} {'-':>6} {'-':>6}  no banner (nothing attachable)")
            continue
        med[mode] = statistics.median(v)
        print(f"  {mode:<11} {med[mode]:>6.0f}ms {min(v):>4}ms {max(v):>4}ms  {len(v)}")
    if "auto" in med and med.get("tracepoint"):
        print(f"  auto / tracepoint: {med['auto'] / med['tracepoint']:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
