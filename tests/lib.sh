# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by the live-kernel test scripts (tests/e2e.sh, tests/metrics.sh):
# result counting, background faultloop handling.  Source after setting FL.
# shellcheck shell=bash

pass=0
fail=0
skipped=0
PIDS=()

ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$1"; }
# a check this machine cannot run: said, and counted apart from passes
skip() { skipped=$((skipped + 1)); printf 'SKIP %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }
nok() { fail=$((fail + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "command: $*"; fi; }

require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$1: needs root (sudo make test)" >&2
		exit 1
	fi
}

kill_pids() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
}

# wait until faultloop printed its banner (probes attached)
wait_attached() {
	local err=$1
	for _ in $(seq 1 100); do
		grep -q 'probes attached' "$err" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

start_fl() {	# out err args...; sets FLPID
	local out=$1 err=$2; shift 2
	# a stale banner from an earlier run must not count: the background
	# job truncates its files only once it is scheduled
	rm -f "$out" "$err"
	# no fixed metrics port unless the test asks: parallel runs collide
	"$FL" --metrics off "$@" >"$out" 2>"$err" &
	FLPID=$!
	PIDS+=("$FLPID")
	wait_attached "$err"
}

# A Prometheus server of the test's own on 127.0.0.1:PROM_PORT, data and
# log in DIR, scraping (and evaluating) every second the faultloop on
# 127.0.0.1:FL_PORT as job "faultloop"; stdin adds top-level YAML
# (rule_files, alerting).  Sets PROM_PID and PROM_URL.
start_prometheus() {	# fl_port prom_port dir
	mkdir -p "$3"
	{
		cat <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: faultloop
    static_configs:
      - targets: ['127.0.0.1:$1']
YML
		cat
	} >"$3/prom.yml"
	prometheus --config.file="$3/prom.yml" --storage.tsdb.path="$3/tsdb" \
		--web.listen-address="127.0.0.1:$2" >"$3/prom.log" 2>&1 &
	PROM_PID=$!
	PIDS+=("$PROM_PID")
	PROM_URL=http://127.0.0.1:$2
}

# PromQL -> the first sample's value, or nothing
prom_query() {
	curl -s "$PROM_URL/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}

summary() {	# name
	echo
	echo "$1: $pass passed, $fail failed, $skipped skipped"
	[ "$fail" -eq 0 ]
}
