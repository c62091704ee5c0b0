#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Turn tools/bench/matrix.sh records into the benchmark report.

    report.py RECORDS [--title TEXT] [--tcg] [--note TEXT]...

Records are the "BENCH<TAB>..." lines (anything else is ignored, so a VM
console log works as is).  Prints the tables and the targets' verdicts.
"""
import argparse
import re
import statistics
import sys
from collections import defaultdict

WL_LABEL = {
    "pwrite": "w1 pwrite",
    "pfault": "w2 pfault",
    "kfault": "w2k kfault",
    "race": "w3 race",
    "retry": "w3r retry",
    "getpid": "w4 getpid",
}
WL_WHAT = {
    "pwrite": "4 KiB pwrite() to tmpfs, op = write",
    "pfault": "user touches fresh anon pages, op = page",
    "kfault": "read(/dev/zero) into fresh anon pages (kernel faults), op = page",
    "race": "madvise/pwrite race, 1 writer + dropper, op = write",
    "retry": "drop own page then pwrite (every write retries), op = write",
    "getpid": "syscall(SYS_getpid), op = syscall",
}
# targets
FLOOR_MAX = 1.2          # faultloop's added cost per event, in floors
SLOWDOWN_MAX = 1.0       # percent, on the no-event workloads
NO_EVENT_WLS = ("pwrite", "pfault", "getpid")
MIN_EVENTS_PER_OP = 0.01  # below this a workload does not exercise the programs
RSS_GROWTH_MAX_KB = 1024


def pct(q, xs):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fnum(v, unit=""):
    if v != v:  # nan
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M{unit}"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k{unit}"
    if a >= 100:
        return f"{v:.0f}{unit}"
    if a >= 10:
        return f"{v:.1f}{unit}"
    return f"{v:.2f}{unit}"


def kib(v):
    if v is None or v != v:
        return "-"
    return f"{v / 1024:.1f} MiB" if v >= 10 * 1024 else f"{v:.0f} KiB"


def base_of(tracer):
    return tracer.split(":", 1)[0]


def mode_of(tracer):
    return tracer.split(":", 1)[1] if ":" in tracer else ""


def floor_for(tracer):
    m = mode_of(tracer)
    return "floor" + (":" + m if m else "")


class Data:
    def __init__(self, lines):
        self.info = {}
        self.hooks = {}
        self.runs = {}            # (rep, tracer, wl) -> dict
        self.sess = defaultdict(dict)  # (rep, tracer) -> {start:..., end:...}
        self.stats = defaultdict(list)  # (tracer, wl) -> [prog dicts]
        self.mem = []
        self.summary = {}
        self.warn = []
        self.extra = []           # ("info2", key, value)
        self.maps = defaultdict(list)   # tracer -> [(name, type, max_entries, memlock)]
        self.progs = defaultdict(list)  # tracer -> [(name, xlated, jited, verified)]
        for line in lines:
            line = line.rstrip("\r\n")
            i = line.find("BENCH\t")
            if i < 0:
                continue
            f = line[i:].split("\t")[1:]
            kind, a = f[0], f[1:]
            if kind == "info":
                self.info[a[0]] = a[1:]
            elif kind == "hooks":
                self.hooks[a[0]] = a[1:]
            elif kind == "run":
                rep, t, w, th, ops, c0, c1, u0, u1 = a[:9]
                cpu, wall = None, 0.0
                try:
                    wall = float(u1) - float(u0)
                    if c0 != "-" and c1 != "-" and wall > 0:
                        cpu = (float(c1) - float(c0)) / wall
                except ValueError:
                    pass
                try:
                    ops = float(ops)
                except ValueError:
                    continue
                if ops > 0:
                    self.runs[(int(rep), t, w)] = {"ops": ops, "cpu": cpu, "wall": wall}
            elif kind == "sess":
                rep, t, phase = int(a[0]), a[1], a[2]
                vals = a[3:]
                self.sess[(rep, t)][phase] = vals
            elif kind == "stat":
                t, w, ops, all_ops, name, pid, cnt, ns, xl, ji, vi = a[:11]
                self.stats[(t, w)].append({
                    "ops": float(ops or 0), "all_ops": float(all_ops or 0), "name": name,
                    "id": pid, "cnt": int(cnt or 0), "ns": int(ns or 0),
                    "xlated": xl, "jited": ji, "verified": vi})
            elif kind == "mem":
                t, phase, th, rss, hwm, memlock, ent, ops = (a + ["-"] * 8)[:8]
                self.mem.append({"tracer": t, "phase": phase, "threads": th,
                                 "rss": num(rss), "hwm": num(hwm),
                                 "memlock": num(memlock), "entries": ent, "ops": num(ops)})
            elif kind == "summary":
                self.summary[a[0]] = a[1] if len(a) > 1 else ""
            elif kind == "warn":
                self.warn.append(" ".join(a))
            elif kind == "map":
                self.maps[a[0]].append(tuple(a[1:5]))
            elif kind == "prog":
                self.progs[a[0]].append(tuple(a[1:5]))
            elif kind == "meta":
                self.extra.append((a[0], " ".join(a[1:])))
        self.tracers = self.info.get("tracers", [])
        self.workloads = self.info.get("workloads", [])
        self.reps = sorted({k[0] for k in self.runs})


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def compute(d):
    """Per (tracer, workload): throughput, slowdown, added ns/op, CPU."""
    res = {}
    for w in d.workloads:
        for t in d.tracers:
            ops = [d.runs[(r, t, w)]["ops"] for r in d.reps if (r, t, w) in d.runs]
            cpu = [d.runs[(r, t, w)]["cpu"] for r in d.reps
                   if (r, t, w) in d.runs and d.runs[(r, t, w)]["cpu"] is not None]
            slow, added = [], []
            for r in d.reps:
                if (r, t, w) in d.runs and (r, "none", w) in d.runs:
                    a, b = d.runs[(r, t, w)]["ops"], d.runs[(r, "none", w)]["ops"]
                    slow.append(100.0 * (1 - a / b))
                    added.append(1e9 / a - 1e9 / b)
            res[(t, w)] = {
                "ops": med(ops), "n": len(ops),
                "slow": med(slow), "slow_lo": pct(0.25, slow), "slow_hi": pct(0.75, slow),
                "added": med(added), "added_lo": pct(0.25, added), "added_hi": pct(0.75, added),
                "cpu": med(cpu) if cpu else float("nan"),
            }
    return res


def stat_summary(d, t, w):
    """(events per op, ns per run of the busiest program, its name, prog dict)."""
    progs = d.stats.get((t, w), [])
    if not progs:
        return None
    all_ops = max(p["all_ops"] for p in progs) or float("nan")
    top = max(progs, key=lambda p: p["cnt"])
    events = sum(p["cnt"] for p in progs)
    total_ns = sum(p["ns"] for p in progs)
    return {
        "events_per_op": events / all_ops if all_ops == all_ops else float("nan"),
        "top": top,
        # run-weighted mean over all its programs (what one event costs on average)
        "ns_run": total_ns / events if events else float("nan"),
        "progs": progs,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("--title", default="faultloop overhead benchmark")
    ap.add_argument("--tcg", action="store_true", help="results from a qemu TCG guest")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    with open(args.records, errors="replace") as f:
        d = Data(f)
    if not d.runs:
        print("bench: no results", file=sys.stderr)
        return 1
    res = compute(d)
    out = []
    p = out.append

    p(f"== {args.title} ==")
    for k, v in d.extra:
        p(f"{k + ':':<10} {v}")
    p(f"run:       {len(d.reps)} repetitions x {len(d.workloads)} workloads x {len(d.tracers)} tracers, "
      f"{d.info.get('dur', ['?'])[0]} s each after {d.info.get('warm', ['?'])[0]} s warm-up; "
      f"tracers and workloads interleaved, order rotated per repetition")
    for m, h in sorted(d.hooks.items()):
        p(f"hooks:     faultloop --mode {m} attaches (the floor mirrors it): {' '.join(h)}")
    for n in args.note:
        p(f"note:      {n}")
    if args.tcg:
        p("note:      qemu TCG (emulated CPU): absolute ops/s and ns mean nothing; only the ratios between tracers do")
    p("")

    # ---- throughput ----
    p("Throughput: median ops/s; slowdown = median over repetitions of 1 - ops/ops(none), [p25..p75];")
    p("added = ns per op over none; x floor = added / the floor's added; ns/event = added / events per op;")
    p("CPU = the tracer process's own CPU while the workload ran (% of one core).")
    hdr = f"{'workload':<11} {'tracer':<17} {'ops/s':>8} {'slowdown':>8} {'[p25..p75]':>16} {'added ns/op':>11} {'x floor':>8} {'events/op':>9} {'ns/event':>8} {'CPU':>6}"
    p(hdr)
    p("-" * len(hdr))
    for w in d.workloads:
        for t in d.tracers:
            r = res[(t, w)]
            if not r["n"]:
                continue
            st = stat_summary(d, t, w)
            epo = st["events_per_op"] if st else float("nan")
            if t == "none":
                p(f"{WL_LABEL.get(w, w):<11} {t:<17} {fnum(r['ops']):>8}")
                continue
            xf = "-"
            fl = res.get((floor_for(t), w))
            if base_of(t) != "floor" and fl and fl["n"]:
                xf = ratio_str(r, fl)
            npe = r["added"] / epo if epo == epo and epo >= MIN_EVENTS_PER_OP else float("nan")
            p(f"{'':<11} {t:<17} {fnum(r['ops']):>8} {r['slow']:>+7.2f}% "
              f"{'[' + format(r['slow_lo'], '+.1f') + '..' + format(r['slow_hi'], '+.1f') + ']':>16} "
              f"{fnum(r['added']):>11} {xf:>8} {fnum(epo):>9} {fnum(npe):>8} "
              f"{(format(100 * r['cpu'], '.2f') + '%') if r['cpu'] == r['cpu'] else '-':>6}")
    p("")
    for w in d.workloads:
        p(f"  {WL_LABEL.get(w, w):<11} {WL_WHAT.get(w, '')}")
    if "race" in d.workloads:
        p("  (w3 race: how often the dropper wins depends on the relative speed of the two threads, so a")
        p("  tracer that slows the fault path changes the workload itself; its ops/s is not a cost measure.)")
    p("")

    # ---- BPF stats ----
    if d.stats:
        p("BPF programs (kernel.bpf_stats_enabled=1 pass, one run per tracer and workload): runs per op and")
        p("ns per run of each program that ran (run_time_ns / run_cnt; includes the stats' own clock reads,")
        p("which the floor's empty program shows); size: xlated / jited bytes, verified instructions.")
        hdr = f"{'tracer':<17} {'workload':<11} {'program':<16} {'runs/op':>8} {'ns/run':>7} {'xlated':>7} {'jited':>6} {'verified':>8}"
        p(hdr)
        p("-" * len(hdr))
        for t in d.tracers:
            for w in d.workloads:
                for pr in d.stats.get((t, w), []):
                    if not pr["cnt"]:
                        continue
                    ao = pr["all_ops"] or float("nan")
                    p(f"{t:<17} {WL_LABEL.get(w, w):<11} {pr['name']:<16} {fnum(pr['cnt'] / ao):>8} "
                      f"{fnum(pr['ns'] / pr['cnt']):>7} {pr['xlated']:>7} {pr['jited']:>6} {pr['verified']:>8}")
        p("")

    # ---- resources ----
    p("Tracer resources (main phase, per session = one tracer start running every workload): BPF programs")
    p("it loaded (attached or not), map memory (memlock of its maps), VmRSS at session end, peak VmHWM, CPU")
    p("seconds to start (at attach) and during the session's workloads (median; % of one core).")
    hdr = f"{'tracer':<17} {'progs':>5} {'maps':>4} {'map memory':>11} {'VmRSS':>9} {'VmHWM':>9} {'CPU start':>9} {'CPU run':>14}"
    p(hdr)
    p("-" * len(hdr))
    for t in d.tracers:
        if t == "none":
            continue
        sess = [d.sess[(r, t)] for r in d.reps if d.sess[(r, t)].get("end")]
        if not sess:
            continue
        e = sess[-1]["end"]
        col = lambda x, i: num(x[i]) if len(x) > i else None  # noqa: E731
        rss = max(col(x["end"], 3) or 0 for x in sess)
        hwm = max(col(x["end"], 4) or 0 for x in sess)
        c_start = [col(x["start"], 6) for x in sess if col(x.get("start", []), 6) is not None]
        c_run = [col(x["end"], 6) - col(x["start"], 6) for x in sess
                 if col(x["end"], 6) is not None and col(x.get("start", []), 6) is not None]
        wall = session_wall(d, t)
        run_pct = f"{med(c_run):.2f} s ({100 * med(c_run) / wall:.1f}%)" if c_run and wall else "-"
        p(f"{t:<17} {e[1] if len(e) > 1 else '-':>5} {e[2] if len(e) > 2 else '-':>4} "
          f"{kib((col(e, 0) or 0) / 1024):>11} {kib(rss):>9} {kib(hwm):>9} "
          f"{(format(med(c_start), '.2f') + ' s') if c_start else '-':>9} {run_pct:>14}")
        if d.maps.get(t):
            MT = {"1": "hash", "2": "array", "6": "percpu_array", "8": "cgroup_array", "5": "percpu_hash",
                  "27": "ringbuf", "29": "task_storage", "4": "perf_event_array"}
            parts = [f"{n} ({MT.get(ty, 'type ' + ty)}, {me}) {kib((num(ml) or 0) / 1024)}"
                     for n, ty, me, ml in sorted(d.maps[t], key=lambda m: -(num(m[3]) or 0))]
            p(f"{'':<17} maps: " + "; ".join(parts))
        if d.progs.get(t):
            p(f"{'':<17} programs (xlated/jited B, verified insns): " +
              "; ".join(f"{n} {x}/{j} {v}" for n, x, j, v in d.progs[t]))
        if any((col(x["end"], 5) or 0) > 0 for x in sess):
            d.warn.append(f"{t}: its programs counted runs in the main phase: BPF stats were on "
                          "(another process enabled them); absolute costs include the stats' overhead")
    p("")

    # ---- memory under many tasks ----
    if d.mem:
        p("Memory under many tasks: the tracer sampled at start, after the race with 1 writer, during and")
        p("after the race with many writers, after the kernel-fault storm (entries: its largest hash map).")
        hdr = f"{'tracer':<17} {'phase':<17} {'threads':>7} {'VmRSS':>9} {'VmHWM':>9} {'map memory':>11} {'entries':>7} {'ops/s':>8}"
        p(hdr)
        p("-" * len(hdr))
        for m in d.mem:
            p(f"{m['tracer']:<17} {m['phase']:<17} {m['threads']:>7} {kib(m['rss']):>9} {kib(m['hwm']):>9} "
              f"{kib((m['memlock'] or 0) / 1024):>11} {m['entries']:>7} {fnum(m['ops'] if m['ops'] is not None else float('nan')):>8}")
        for t, s in d.summary.items():
            p(f"{t} at exit: {s.replace('faultloop: ', '')}")
        p("")

    # ---- targets ----
    p("Targets")
    verdicts = []
    fls = [t for t in d.tracers if base_of(t) == "faultloop"]
    for t in fls:
        fl_t = floor_for(t)
        tag = f" [{t}]" if len(fls) > 1 else ""
        # T1
        lines = []
        ok_all = True
        n_ev = 0
        for w in d.workloads:
            st = stat_summary(d, t, w)
            if not st or st["events_per_op"] != st["events_per_op"] or st["events_per_op"] < MIN_EVENTS_PER_OP:
                continue
            r, f = res.get((t, w)), res.get((fl_t, w))
            if not r or not f or not f["n"]:
                continue
            epo = st["events_per_op"]
            fst = stat_summary(d, fl_t, w)
            fepo = fst["events_per_op"] if fst else epo
            per_ev, fper_ev = r["added"] / epo, f["added"] / fepo
            if f["added_lo"] <= 0 or fper_ev <= 0:
                lines.append(f"    {WL_LABEL.get(w, w):<11} n/a   the floor's added cost is not resolvable here "
                             f"(floor {f['slow']:+.1f}% [{f['slow_lo']:+.1f}..{f['slow_hi']:+.1f}], "
                             f"faultloop {r['slow']:+.1f}%): not counted")
                continue
            n_ev += 1
            x = per_ev / fper_ev
            # The throughput difference between two tracers is noisy (a few % per
            # run on a shared host); the BPF stats difference between their
            # programs is not (both pay the same stats overhead, it cancels):
            # faultloop's cost estimated as the floor's plus that difference.
            est = None
            if fst and st["ns_run"] == st["ns_run"] and fst["ns_run"] == fst["ns_run"]:
                diff = st["ns_run"] - fst["ns_run"]
                est = (fper_ev + diff) / fper_ev
            ok = (est if est is not None else x) <= FLOOR_MAX
            ok_all &= ok
            line = (f"    {WL_LABEL.get(w, w):<11} {'PASS' if ok else 'MISS'}  "
                    f"x{x:.1f} by throughput (faultloop {per_ev:+.0f} ns/event, floor {fper_ev:+.0f} ns/event, "
                    f"{epo:.2f} events/op)")
            if est is not None:
                line += (f"; x{est:.1f} as floor + BPF-stats difference (ns/run, mean over the programs that ran: "
                         f"faultloop {st['ns_run']:.0f}, floor {fst['ns_run']:.0f}; {fper_ev:.0f} + {diff:.0f} ns/event)")
            lines.append(line)
        if n_ev:
            v = "PASS" if ok_all else "MISS"
            if args.tcg:
                v += " (TCG)"
            verdicts.append((f"T1{tag}", v))
            p(f"T1{tag} faultloop's added cost per event within {FLOOR_MAX}x the floor's (verdict on the "
              f"stats-corrected ratio where there is one): {v}")
            out.extend(lines)
        else:
            p(f"T1{tag} faultloop's added cost per event within {FLOOR_MAX}x the floor's: "
              "not measured (no workload where the floor's cost is resolvable)")
            out.extend(lines)
        # T2
        lines = []
        ok_all = True
        for w in NO_EVENT_WLS:
            r = res.get((t, w))
            if not r or not r["n"]:
                continue
            ok = r["slow"] < SLOWDOWN_MAX
            ok_all &= ok
            st = stat_summary(d, t, w)
            epo = f"{st['events_per_op']:.1e} events/op" if st else "events/op not measured"
            noise = (r["slow_hi"] - r["slow_lo"]) / 2
            lines.append(f"    {WL_LABEL.get(w, w):<11} {'PASS' if ok else 'MISS'}  {r['slow']:+.2f}% "
                         f"[p25..p75 {r['slow_lo']:+.1f}..{r['slow_hi']:+.1f}], noise +-{noise:.1f}%, {epo}"
                         + (" (p75 above the target: the run cannot resolve 1 % here)"
                            if ok and r["slow_hi"] >= SLOWDOWN_MAX else "")
                         + (" (p25 below the target: not distinguishable from the noise)"
                            if not ok and r["slow_lo"] < SLOWDOWN_MAX else ""))
        if lines:
            v = "PASS" if ok_all else "MISS"
            if args.tcg:
                v += " (TCG: not meaningful)"
            verdicts.append((f"T2{tag}", v))
            p(f"T2{tag} under {SLOWDOWN_MAX:.0f}% slowdown on w1, w2, w4: {v}")
            out.extend(lines)
        # T3
        if "bpftrace" in d.tracers:
            lines = []
            ok_all = True
            for w in d.workloads:
                r, b = res.get((t, w)), res.get(("bpftrace", w))
                if not r or not b or not r["n"] or not b["n"]:
                    continue
                noise = max(r["added_hi"] - r["added_lo"], b["added_hi"] - b["added_lo"]) / 2
                diff = r["added"] - b["added"]
                why = ""
                if diff < 0:
                    v = "PASS"
                elif diff <= noise:
                    v = "TIE"
                elif r["added_lo"] <= 0:
                    # bpftrace came out faster than none by more than
                    # faultloop did: both costs are noise around zero
                    v = "TIE"
                    why = " (faultloop's own cost is not above zero: p25 <= 0)"
                else:
                    v = "MISS"
                ok_all &= v != "MISS"
                lines.append(f"    {WL_LABEL.get(w, w):<11} {v}  faultloop {r['added']:+.1f} ns/op ({r['slow']:+.2f}%), "
                             f"bpftrace {b['added']:+.1f} ns/op ({b['slow']:+.2f}%), noise +-{noise:.1f} ns/op"
                             + (" (race: throughput is not a cost measure, see notes)" if w == "race" else "") + why)
            v = "PASS" if ok_all else "MISS"
            verdicts.append((f"T3{tag}", v))
            p(f"T3{tag} cheaper than bpftrace on every workload (TIE: difference within the noise): {v}")
            out.extend(lines)
        else:
            p(f"T3{tag} cheaper than bpftrace: bpftrace not run here (skipped)")
        # T4
        mems = [m for m in d.mem if m["tracer"] == t]
        if mems:
            start = mems[0]
            grow = max((m["rss"] or 0) - (start["rss"] or 0) for m in mems)
            ml = {m["memlock"] for m in mems}
            ok = grow <= RSS_GROWTH_MAX_KB and len(ml) == 1
            v = "PASS" if ok else "MISS"
            verdicts.append((f"T4{tag}", v))
            p(f"T4{tag} bounded memory: {v}")
            p(f"    VmRSS {kib(start['rss'])} at start, at most +{grow:.0f} KiB later (limit +{RSS_GROWTH_MAX_KB} KiB); "
              f"map memory {'constant at ' + kib((ml.pop() or 0) / 1024) if len(ml) == 1 else 'changed: ' + str(sorted(ml))}; "
              f"episodes in the map at most {max(int(m['entries']) for m in mems if m['entries'].isdigit()) if any(m['entries'].isdigit() for m in mems) else '-'}")
    p("")
    if d.warn:
        p(f"WARNINGS ({len(d.warn)}): results may be disturbed")
        for w in d.warn:
            p(f"  ! {w}")
    else:
        p("No interference detected (load average, other busy processes, BPF stats left on).")
    p("Verdicts: " + ", ".join(f"{k} {v}" for k, v in verdicts))
    print("\n".join(out))
    return 0


def ratio_str(r, fl):
    if fl["added"] <= 0 or fl["added_lo"] <= 0:
        return "n/a"
    return f"x{r['added'] / fl['added']:.1f}"


def session_wall(d, t):
    """Median seconds a session of tracer t spent in its workload runs."""
    walls = [sum(d.runs[(r, t, w)]["wall"] for w in d.workloads if (r, t, w) in d.runs) for r in d.reps]
    walls = [w for w in walls if w > 0]
    return med(walls) if walls else 0


if __name__ == "__main__":
    sys.exit(main())
