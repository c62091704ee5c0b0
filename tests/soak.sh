#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make soak (root; not part of make test): faultloop at default settings
# for SOAK_SECONDS (600) under the madvise/pwrite race with SOAK_WRITERS
# (64) writer threads, scraped 20 times a second while the hostile clients
# of tests/metrics.sh keep coming (tests/soak_load.py).  The race is a
# storm, never a loop at default settings; so that reports flow too, a
# real kernel loop (tools/uffd-loop, 4 s of the userfaultfd busy loop)
# starts once a minute: each one reported must be DETECTED and ENDED once
# (how many are reported under this load is printed, not judged).
# Every
# SOAK_INTERVAL (60) seconds it prints faultloop's RSS, open descriptors
# (sockets apart: the clients' connections come and go), threads, the
# memory of the BPF maps it holds (bpftool, by its own map ids) and its
# counters.  At the end it checks that RSS, descriptors, threads and map
# memory stayed flat, that no report was lost, that every scrape was
# served, and that the exit summary agrees with the last scrape.
# Records in $SOAK_OUT (.output/<arch>/soak): samples.tsv, summary.txt.
set -u -o pipefail

OUTPUT=${OUTPUT:-.output/$(uname -m | sed 's/aarch64/arm64/')}
FL=${FL:-./faultloop}
RACE=${RACE:-$OUTPUT/race}
UFFD=${UFFD:-$OUTPUT/uffd-loop}
SECS=${SOAK_SECONDS:-600}
EVERY=${SOAK_INTERVAL:-60}
WRITERS=${SOAK_WRITERS:-64}
DIR=${SOAK_OUT:-$OUTPUT/soak}
HERE=$(dirname "$0")
# shellcheck source=tests/lib.sh
. "$HERE/lib.sh"
trap kill_pids EXIT
require_root soak
for b in "$FL" "$RACE" "$UFFD"; do [ -x "$b" ] || { echo "soak: build first ($b)" >&2; exit 1; }; done
rm -rf "$DIR"
mkdir -p "$DIR"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/metrics

# metric NAME FILE: the sum of a family's samples (labels or not)
metric() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d\n", s }' "$2"; }

sample() {	# elapsed-seconds
	local rss thr fds socks mem m=$DIR/m.txt
	rss=$(awk '/^VmRSS/{print $2}' /proc/"$FLPID"/status)
	thr=$(awk '/^Threads/{print $2}' /proc/"$FLPID"/status)
	# one listing for both counts: connections come and go meanwhile
	find /proc/"$FLPID"/fd -mindepth 1 -maxdepth 1 -printf '%l\n' >"$DIR/fds.txt" 2>/dev/null
	fds=$(wc -l <"$DIR/fds.txt")
	socks=$(grep -c '^socket:' "$DIR/fds.txt")
	mem=$(python3 "$HERE/bpf_ids.py" memlock "$FLPID")
	curl -s -m 10 -o "$m" "$URL"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$rss" "$((fds - socks))" "$socks" "$thr" "$mem" \
		"$(metric faultloop_events_total "$m")" "$(metric faultloop_episodes_total "$m")" \
		"$(metric faultloop_retries_total "$m")" "$(metric faultloop_loops_detected_total "$m")" \
		"$(metric faultloop_reports_lost_total "$m")" "$(metric 'faultloop_scrapes_total' "$m")" \
		| tee -a "$DIR/samples.tsv" | awk -F'\t' '{ printf "%5ds %8s kB %4s fds %3s socks %3s thr %9s B maps %12s events %10s episodes %9s retries %5s loops %3s lost %7s scrapes\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
}

echo "# soak: faultloop at default settings for ${SECS}s on $(uname -r): race with $WRITERS writers," \
	"20 scrapes/s and hostile clients on port $PORT; a sample every ${EVERY}s (records in $DIR)"
printf 'sec\trss_kB\tfds\tsockets\tthreads\tmap_bytes\tevents\tepisodes\tretries\tloops\tlost\tscrapes\n' >"$DIR/samples.tsv"
"$FL" --metrics "127.0.0.1:$PORT" >"$DIR/fl.out" 2>"$DIR/fl.err" &
FLPID=$!
PIDS+=("$FLPID")
if ! wait_attached "$DIR/fl.err"; then
	echo "soak: faultloop did not start: $(cat "$DIR/fl.err")" >&2
	exit 1
fi
start=$(date +%s)
"$RACE" -t "$SECS" -w "$WRITERS" -c soakrace >"$DIR/race.out" &
RP=$!
python3 "$HERE/soak_load.py" "$PORT" "$SECS" "$DIR/load.json" &
LP=$!
PIDS+=("$RP" "$LP")
sample 0
uffd=0
loop() {	# a real loop in the kernel, in the background
	uffd=$((uffd + 1))
	# above the 64 writers (nice 0): the point is reports flowing under
	# load, not a loop that gets 5 % of a CPU (which the stall sampler
	# does not call a loop within 4 s)
	nice -n -15 "$UFFD" -d write -t 4 -c soakuffd >"$DIR/uffd.$uffd.out" 2>&1 &
	PIDS+=($!)
}
loop
next=$EVERY
while [ $(($(date +%s) - start)) -lt "$SECS" ]; do
	sleep 1
	kill -0 "$FLPID" 2>/dev/null || break
	el=$(($(date +%s) - start))
	if [ "$el" -ge "$next" ]; then
		sample "$el"
		next=$((next + EVERY))
		[ "$el" -le $((SECS - 10)) ] && loop
	fi
done
wait "$RP"
race_rc=$?
wait "$LP"
sleep 5		# the last uffd loop ends
alive=0
kill -0 "$FLPID" 2>/dev/null && alive=1
sleep 3		# the last episodes end (--gap)
[ $alive = 1 ] && sample "$(($(date +%s) - start))"
cp "$DIR/m.txt" "$DIR/final.txt" 2>/dev/null
kill -TERM "$FLPID"
wait "$FLPID"
rc=$?

echo
python3 - "$DIR" "$rc" "$alive" "$race_rc" "$SECS" <<'PY' | tee "$DIR/summary.txt"
import json, re, sys
d, rc, alive, race_rc = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
secs = float(sys.argv[5])
rows = [l.rstrip("\n").split("\t") for l in open(d + "/samples.tsv")][1:]
S = [dict(zip(("sec", "rss", "fds", "socks", "thr", "mem", "events", "episodes", "retries",
               "loops", "lost", "scrapes"), map(int, r))) for r in rows]
load = json.load(open(d + "/load.json"))
err = open(d + "/fl.err").read()
out = open(d + "/fl.out").read()
fails = []
def check(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        fails.append(what)

check(alive and rc == 0, "faultloop ran the whole soak and exited 0 on SIGTERM (exit %d)" % rc)
check(race_rc == 0, "the race ran to the end: %s" % open(d + "/race.out").read().strip().splitlines()[-1:])
# flat: from the first minute's sample (warmed up) to the last
base = S[1] if len(S) > 2 else S[0]
last = S[-1]
grow = last["rss"] - base["rss"]
check(grow <= max(1024, base["rss"] // 20),
      "RSS flat: %d kB at %ds, %d kB at the end (%+d kB; max %d kB over the run)" %
      (base["rss"], base["sec"], last["rss"], grow, max(s["rss"] for s in S)))
check(len({s["fds"] for s in S}) == 1, "descriptors other than sockets flat: %s" % sorted({s["fds"] for s in S}))
check(max(s["socks"] for s in S) <= 40, "sockets bounded (listener + at most 32 connections): at most %d" % max(s["socks"] for s in S))
check(len({s["thr"] for s in S}) == 1, "threads flat: %s" % sorted({s["thr"] for s in S}))
check(len({s["mem"] for s in S}) == 1, "BPF map memory flat: %s bytes" % sorted({s["mem"] for s in S}))
# the exit summary against the last scrape (taken after the load stopped)
m = re.search(r"faultloop: (\d+) events, (\d+) episodes, (\d+) retries, (\d+) loops detected, (\d+) reports lost, "
              r"(\d+) tasks untracked \(map full\), (\d+) stash drops, (\d+) events filtered, (\d+) nested skipped, (\d+) sweep errors", err)
check(m is not None, "exit summary printed")
if m:
    ev, ep, rt, lo, lost, untr, stash, filt, nest, swe = map(int, m.groups())
    detected = len(re.findall(r"^\S+ DETECTED ", out, re.M))
    check(lost == 0 and last["lost"] == 0 and stash == 0,
          "no report lost at default settings: %d lost (metric %d), %d stash drops" % (lost, last["lost"], stash))
    check(lo == last["loops"] == detected,
          "loops detected: summary %d = metric %d = DETECTED reports printed %d" % (lo, last["loops"], detected))
    check(ev >= last["events"] and ep >= last["episodes"] and rt >= last["retries"],
          "summary counters at least the last scrape's: events %d >= %d (+%d), episodes %d >= %d (+%d), "
          "retries %d >= %d (+%d)" % (ev, last["events"], ev - last["events"], ep, last["episodes"],
                                     ep - last["episodes"], rt, last["retries"], rt - last["retries"]))
    check(rt - last["retries"] <= max(1000, last["retries"] // 1000),
          "retries after the last scrape (the load had stopped): %d" % (rt - last["retries"]))
    check(untr == 0 and swe == 0, "%d tasks untracked, %d sweep errors" % (untr, swe))
# the uffd loops: every one reported is DETECTED once and ENDED once (a
# lost report would break a pair); how many were reported at all is the
# stall sampler's detection under this load, said but not judged here
import glob
runs = sorted(glob.glob(d + "/uffd.*.out"), key=lambda f: int(f.split(".")[-2]))
info = [(re.search(r"^tid (\d+)", t, re.M), re.search(r"stime_ms (\d+)", t)) for t in map(lambda f: open(f).read(), runs)]
tids = {int(t.group(1)): int(c.group(1)) if c else -1 for t, c in info if t}
heads = re.findall(r"^\S+ (DETECTED|ONGOING|ENDED) +pid \d+ tid (\d+) ", out, re.M)
per = {t: [k for k, tid in heads if int(tid) == t] for t in tids}
seen = {t: p for t, p in per.items() if p}
check(len(tids) == len(runs) and all(p.count("DETECTED") == 1 and p.count("ENDED") == 1 for p in seen.values()),
      "real loops: of %d uffd loops, %d reported, each DETECTED once and ENDED once (%d ONGOING reports)" %
      (len(runs), len(seen), sum(p.count("ONGOING") for p in seen.values())))
missed = [(t, cpu) for t, cpu in tids.items() if t not in seen]
print("info %d of %d uffd loops not reported at default settings%s" %
      (len(missed), len(runs), (" (tid, ms of system time in its 4 s: %s)" % missed) if missed else ""))
check(load["scrape_fail"] == 0 and load["scrapes"] >= 0.95 * 20 * secs,
      "scrapes: %d served of %d due (20/s; %d not sent, the scrapers busy), %d failed %s; "
      "latency p50 %s ms, p99 %s ms, max %s ms" %
      (load["scrapes"] - load["scrape_fail"], int(20 * secs), load["missed"], load["scrape_fail"],
       load["scrape_fail_examples"], load["lat_ms"]["p50"], load["lat_ms"]["p99"], load["lat_ms"]["max"]))
check(load["rounds"] >= 1 and set(load["big"]) <= {"HTTP/1.1 431 Request Header Fields Too Large"} and
      set(load["garbage"]) <= {"HTTP/1.1 400 Bad Request"} and set(load["slow"]) <= {"HTTP/1.1 200 OK"},
      "hostile rounds: %d (headers %s, garbage %s, slow %s, idle connections opened %s)" %
      (load["rounds"], load["big"], load["garbage"], load["slow"], load["idle_opened"]))
print("soak: %d checks failed" % len(fails) if fails else "soak: all checks passed")
sys.exit(1 if fails else 0)
PY
