#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The systemd test's guest half: runs as /payload/run.sh in a Debian root
# filesystem booted with systemd as PID 1 (tests/vm/systemd-test.sh), from
# faultloop-vm-payload.service once multi-user.target is reached.  The
# payload holds the amd64 package, a static race (tools/race.c), a static
# uffd-loop (tools/uffd-loop.c), a static bpf-progs (tools/bpf-progs.c) and
# pod-confinement: the DaemonSet's capabilities (setpriv's names, comma
# separated) on its first line, then its container's args, one a line.
#
# One line per check, "ok   NAME" or "FAIL NAME: why" (the host requires
# every NAME of CHECKS, in tests/vm/systemd-test.sh, to print ok), and the
# evidence between "---- what" and "----" lines: unit state, journal lines,
# capability sets.  Ends with "systemd-guest: N passed, N failed" and
# "FAULTLOOP-VM-EXIT <failed>".
set -u
export SYSTEMD_COLORS=0 SYSTEMD_PAGER= TERM=dumb LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
cd /payload || exit 1
U=faultloop
METRICS=http://127.0.0.1:19477/metrics
pass=0 fail=0
T0=$(date +%s)

ok() { pass=$((pass + 1)); echo "ok   $1"; }
nok() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
# check NAME WHY-IF-FAILED COMMAND...: ok if COMMAND succeeds
check() { local n=$1 why=$2; shift 2; if "$@"; then ok "$n"; else nok "$n" "$why"; fi; }
show() { local what=$1; shift; echo "---- $what  [$(elapsed)]"; "$@" 2>&1 | sed 's/^/    /'; echo "----"; }
prop() { systemctl show -P "$1" "$U"; }
elapsed() { echo "$(($(date +%s) - T0))s"; }
# faultloop's own lines (stdout, stderr) from the unit's current start
fl_journal() { journalctl -o cat _SYSTEMD_INVOCATION_ID="$(prop InvocationID)" _COMM=faultloop; }
# capability names -> the hex mask /proc/PID/status prints
capmask() {
	local m=0 c i
	# include/uapi/linux/capability.h, in order
	local names=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
		linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
		sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
		sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
		mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
		checkpoint_restore)
	for c in "$@"; do
		c=${c,,}
		for i in "${!names[@]}"; do [[ cap_${names[i]} == "$c" ]] && break; done
		[[ cap_${names[i]} == "$c" ]] || { echo "unknown-$c"; return 1; }
		m=$((m | (1 << i)))
	done
	printf '%016x\n' "$m"
}
status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
fl_progs() { ./bpf-progs | grep -c ' fl_'; }
# the stall sampler the loader chose (names cut to 15 characters), and the
# one it must choose here: the VMA lookup's needs bpf_find_vma (5.17)
sampler() { ./bpf-progs | grep -o ' fl_stall[a-z_]*' | head -n 1 | tr -d ' '; }
want_sampler=$(uname -r | awk -F. '{ print ($1 > 5 || ($1 == 5 && $2 >= 17)) ? "fl_stall_vma__p" : "fl_stall__perf" }')
# --probes output row by row, every column, blanks squeezed (journald
# drops a line's trailing blanks, an empty last column's)
# blank lines dropped: the journal (under_unit) does not keep them
rows() { sed -E 's/[[:space:]]+/ /g; s/ $//; /^$/d'; }
# every thread of PID, one line each: "NAME CapPrm:.. CapEff:.. CapBnd:..
# CapAmb:.. NoNewPrivs:.. Seccomp:.." (capset() and PR_SET_NO_NEW_PRIVS
# change only the calling thread: /proc/PID/status shows the main one)
thread_caps() {
	local st
	for st in /proc/"$1"/task/*/status; do
		awk '$1 == "Name:" { n = $2 }
			$1 ~ /^(CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):$/ { v = v " " $1 $2 }
			END { print n v }' "$st"
	done
}
# threads_confined FILE BOUNDING SECCOMP: every thread of thread_caps's
# FILE keeps CAP_BPF only, no ambient, no_new_privs, the bounding set and
# seccomp mode given, and the HTTP thread (libmicrohttpd's MHD-*) is one
threads_confined() {
	local want=" CapPrm:$bpf CapEff:$bpf CapBnd:$2 CapAmb:0000000000000000 NoNewPrivs:1 Seccomp:$3"
	(($(grep -c . "$1") >= 2)) && grep -q '^MHD' "$1" && ! grep -qv -- "^[^ ]*$want\$" "$1"
}
# uffd_loop COMM: the userfaultfd + pending-signal loop (tools/uffd-loop.c),
# 5 s: TCG on a loaded host gives it well under the 1 s of CPU --stall wants
# in 3 s.  Prints "pid P tid T stime_ms S".
uffd_loop() {
	./uffd-loop -d write -t 5 -c "$1" >/tmp/"$1".out 2>&1
	awk '/^pid/ { p = $2 } /^tid/ { t = $2 } /^utime_ms/ { s = $4 } END { print "pid " p " tid " t " stime_ms " s }' /tmp/"$1".out
}
# uffd_judge NAME REPORTS COMM: NAME-detected, a DETECTED report of REPORTS
# (a file of JSON lines) for the loop's thread; NAME-report, its stack
# symbolized (no raw 0xffff... frame) through the #PF entry, and the known
# bug named
uffd_judge() {
	local tid line stack
	tid=$(awk '/^tid/ { print $2 }' /tmp/"$3".out)
	line=$(grep '"event":"detected"' "$2" | grep -m1 "\"tid\":${tid:-none},")
	check "$1-detected" "no DETECTED report for the uffd loop (tid ${tid:-?}, $(grep '^utime_ms' /tmp/"$3".out)) among $(grep -c '"event"' "$2") reports" \
		test -n "$line"
	echo "$line" >/tmp/"$3".detected
	show "the uffd loop's DETECTED report ($1)" cat /tmp/"$3".detected
	# the stack is the report's last field; a frame may carry "[module]"
	stack=$(sed -n 's/.*"stack":\[\(.*\)\]}$/\1/p' <<<"$line")
	# the sampler or, where fentry/kprobes attach, the fault path's own
	# retries (one loop stays one episode through its schedule() calls)
	check "$1-report" "want fault_stall or handle_mm_fault, known bug uffd-signal-busy-loop and a symbolized stack through exc_page_fault: ${line:0:600}" \
		bash -c '[[ ( $1 == *"\"signal\":\"fault_stall\""* || $1 == *"\"signal\":\"handle_mm_fault\""* ) &&
			$1 == *"\"known_bug\":{\"id\":\"uffd-signal-busy-loop\""* &&
			-n $2 && $2 != *"\"0x"* && $2 =~ \"(asm_exc_page_fault|exc_page_fault|do_user_addr_fault)\+0x ]]' _ "$line" "$stack"
}

# wait_attached SECONDS: the current start of the unit logged its attach line
wait_attached() {
	local i=0
	while ((i < $1 * 2)); do
		if [[ $(prop ActiveState) == active ]] && fl_journal | grep -q 'probes attached'; then
			return 0
		fi
		# failed, or dead and waiting for its restart: no use waiting
		[[ $(prop ActiveState) == failed || $(prop Result) != success ]] && return 1
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
# wait_metrics SECONDS: /metrics answers with faultloop's families
wait_metrics() {
	local i=0
	while ((i < $1 * 2)); do
		curl -sf --max-time 5 "$METRICS" -o /tmp/metrics.txt && grep -q '^faultloop_build_info' /tmp/metrics.txt && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
# under_unit SCRIPT: run a shell script as a service with every setting of
# faultloop.service (sandbox, capabilities, filter), print its output
probes=0
under_unit() {
	local u i
	probes=$((probes + 1))
	u=faultloop-probe$probes.service	# one name per run: its journal is this run's
	printf '%s\necho probe-end\n' "$1" >/run/faultloop-probe.sh
	sed -e 's#^ExecStart=.*#ExecStart=/bin/sh /run/faultloop-probe.sh#' \
		-e 's#^Type=.*#Type=oneshot#' -e 's#^Restart=.*#Restart=no#' -e '/^\[Install\]/,$d' \
		/lib/systemd/system/$U.service >/run/systemd/system/$u
	systemctl daemon-reload
	systemctl start $u
	for i in $(seq 40); do	# journald may be a moment behind
		journalctl -o cat -u $u _TRANSPORT=stdout | grep -q '^probe-end' && break
		sleep 0.25
	done
	journalctl -o cat -u $u _TRANSPORT=stdout | grep -v '^probe-end'
	rm -f /run/systemd/system/$u /run/faultloop-probe.sh
	systemctl daemon-reload
}
set_opts() { sed -i "s|^FAULTLOOP_OPTS=.*|FAULTLOOP_OPTS=\"$1\"|" /etc/default/faultloop; }

echo "systemd-guest: $(uname -r), PID 1 is $(cat /proc/1/comm), systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), $(. /etc/os-release; echo "$PRETTY_NAME")"
check "pid1-systemd" "PID 1 is $(cat /proc/1/comm), not systemd" test "$(cat /proc/1/comm)" = systemd
echo "sysctl: kptr_restrict $(cat /proc/sys/kernel/kptr_restrict), perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid), unprivileged_bpf_disabled $(cat /proc/sys/kernel/unprivileged_bpf_disabled)"
state=$(systemctl is-system-running --wait 2>/dev/null)
echo "system state: $state"
[[ $state == running ]] || show "failed units" systemctl --failed --no-legend

# ---- install --------------------------------------------------------------
deb=$(ls /payload/faultloop_*_amd64.deb)
cp "$deb" /root/
deb=/root/${deb##*/}
if timeout 300 apt-get install -y "$deb" >/tmp/apt.log 2>&1 </dev/null &&
	[[ $(dpkg-query -W -f='${Status}' $U 2>/dev/null) == "install ok installed" ]]; then
	ok "install"
else
	nok "install" "apt-get install ${deb##*/} failed: $(grep -E '^(E|dpkg):' /tmp/apt.log | head -3 | tr '\n' ' ')"
fi
show "apt-get install ${deb}" sh -c "sed 's/\r$//' /tmp/apt.log | tr '\r' '\n' | grep -v '^(Reading database \.\.\. *\([0-9]*%\)*$' | grep -v '^$' | tail -n 8"
dpkg-query -L $U | sort >/tmp/pkgfiles
check "enabled" "systemctl is-enabled: $(systemctl is-enabled $U 2>&1)" \
	test "$(systemctl is-enabled $U 2>&1)" = enabled

# ---- started by the postinst, attached, stays up ------------------------------
if wait_attached 150; then
	ok "started-on-install"
else
	nok "started-on-install" "not active with its probes attached 150 s after install: $(prop ActiveState)/$(prop SubState), result $(prop Result)"
fi
echo "attached at $(elapsed)"
show "systemctl status $U" systemctl status $U --no-pager -n 0
show "journalctl -u $U (this start)" fl_journal
pid0=$(prop MainPID)
t_attached=$(date +%s)

# ---- capabilities: what the unit grants, what faultloop keeps ---------------
# the unit's own settings around a command that prints its sets
bnd=$(prop CapabilityBoundingSet)
amb=$(prop AmbientCapabilities)
echo "unit: CapabilityBoundingSet=$bnd AmbientCapabilities=$amb"
# shellcheck disable=SC2086
grant=$(capmask $bnd)
under_unit 'grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status' >/tmp/capcheck.txt
show "a process started with the unit's settings (/proc/self/status)" cat /tmp/capcheck.txt
got=$(awk '$1 == "CapEff:" { print $2 }' /tmp/capcheck.txt)
check "caps-granted" "a process under the unit's settings has CapEff $got, want $grant ($bnd)" \
	test -n "$got" -a "$got" = "$grant" -a "$(awk '$1 == "CapBnd:" { print $2 }' /tmp/capcheck.txt)" = "$grant"
pid=$(prop MainPID)
show "/proc/$pid/status of faultloop after attach" grep -E '^(Name|Cap|NoNewPrivs|Seccomp)' /proc/$pid/status
bpf=$(capmask cap_bpf)
caps="$(status_field "$pid" CapInh)/$(status_field "$pid" CapPrm)/$(status_field "$pid" CapEff)/$(status_field "$pid" CapAmb)"
# permitted and effective: CAP_BPF only; inheritable and ambient: none.  The
# bounding set stays the unit's (faultloop's PR_CAPBSET_DROP needs
# CAP_SETPCAP, which the unit does not grant; with NoNewPrivileges nothing in
# it can be regained)
check "caps-dropped" "after attach Inh/Prm/Eff/Amb = $caps, want 0/$bpf/$bpf/0 (CAP_BPF only)" \
	test "$caps" = "0000000000000000/$bpf/$bpf/0000000000000000"
check "caps-bounding" "after attach CapBnd $(status_field "$pid" CapBnd), want the unit's $grant" \
	test "$(status_field "$pid" CapBnd)" = "$grant"
check "no-new-privs-seccomp" "NoNewPrivs $(status_field "$pid" NoNewPrivs), Seccomp $(status_field "$pid" Seccomp): want 1 and 2 (filter)" \
	test "$(status_field "$pid" NoNewPrivs)/$(status_field "$pid" Seccomp)" = "1/2"

# ---- metrics ----------------------------------------------------------------
if wait_metrics 30; then
	ok "metrics"
	show "curl $METRICS (excerpt)" sh -c "grep -E '^faultloop_(build_info|retries_total|episodes_total|loops_active|events_total.*page_fault)' /tmp/metrics.txt; echo \"(\$(grep -c '^faultloop_probe_info.*attached' /tmp/metrics.txt) probes attached, \$(grep -c '^# TYPE' /tmp/metrics.txt) families)\""
else
	nok "metrics" "no faultloop_build_info from $METRICS: $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$METRICS" 2>&1)"
fi

# ---- every thread confined once armed, the HTTP thread included -------------
t1=$(date +%s)
thread_caps "$pid" >/tmp/threads-unit.txt
show "/proc/$pid/task/*/status under the unit, once armed" cat /tmp/threads-unit.txt
check "threads-caps" "want every thread (MHD-* among them) CapPrm/CapEff $bpf, CapBnd $grant, CapAmb 0, NoNewPrivs 1, Seccomp 2" \
	threads_confined /tmp/threads-unit.txt "$grant" 2
s=$(sampler)
check "unit-sampler" "under the unit the stall sampler is ${s:-none}, want $want_sampler" test "$s" = "$want_sampler"

# ---- the loop inside one fault, under the unit as shipped --------------------
# (its own flags, /etc/default/faultloop untouched): the stall sampler needs
# CAP_SYS_ADMIN at perf_event_paranoid 3 (Debian) and symbols CAP_SYSLOG
echo "uffd loop under the unit: $(uffd_loop uffdunit)"
sleep 1
fl_journal >/tmp/unit-reports.txt
uffd_judge uffd-unit /tmp/unit-reports.txt uffdunit
echo "added: threads and the uffd loop under the unit took $(($(date +%s) - t1))s"

# ---- ... and stays up: the same process 15 s on, no restart ------------------
sleep $((15 - ($(date +%s) - t_attached) > 0 ? 15 - ($(date +%s) - t_attached) : 0))
check "stays-active" "$(($(date +%s) - t_attached)) s after attach: $(prop ActiveState)/$(prop SubState), MainPID $pid0 -> $(prop MainPID), NRestarts $(prop NRestarts)" \
	test "$(prop ActiveState)/$(prop SubState)/$(prop MainPID)/$(prop NRestarts)" = "active/running/$pid0/0"

# ---- the configuration file lowers the threshold; an upgrade (the same ------
# ---- package again) keeps it and restarts the service with it ---------------
set_opts "--json --metrics 127.0.0.1:19477 --threshold 2 --min-duration 0"
pid=$(prop MainPID)
timeout 300 dpkg -i "$deb" >/tmp/dpkg.log 2>&1 </dev/null
rc=$?
show "dpkg -i ${deb} (again)" sh -c "sed 's/\r$//' /tmp/dpkg.log | tr '\r' '\n' | grep -v '^(Reading database \.\.\. *\([0-9]*%\)*$' | grep -v '^$' | tail -n 6"
if ((rc == 0)) && grep -q -- '--threshold 2 --min-duration 0' /etc/default/faultloop; then
	ok "conffile-kept"
else
	nok "conffile-kept" "dpkg -i exited $rc; /etc/default/faultloop: $(grep '^FAULTLOOP_OPTS' /etc/default/faultloop)"
fi
if wait_attached 150 && [[ $(prop MainPID) != "$pid" ]]; then
	ok "restarted-on-upgrade"
else
	nok "restarted-on-upgrade" "after the upgrade: $(prop ActiveState), MainPID $pid -> $(prop MainPID)"
fi
if tr '\0' ' ' </proc/"$(prop MainPID)"/cmdline | grep -q -- '--threshold 2 --min-duration 0'; then
	ok "config-read"
else
	nok "config-read" "the daemon runs without the flags of /etc/default/faultloop: cmdline '$(tr '\0' ' ' </proc/"$(prop MainPID)"/cmdline 2>/dev/null)'"
fi
show "the daemon's command line" sh -c "tr '\0' ' ' </proc/$(prop MainPID)/cmdline; echo"

# ---- the race, detected at the lower threshold: journal and metrics ---------
./race -t 5 -c flsysd >/tmp/race.out 2>&1
rpid=$(sed -n 's/^pid //p' /tmp/race.out)
buf=$(awk '/^buffer 0 /{ print $3 }' /tmp/race.out)
sleep 3
fl_journal | grep '"event":"detected"' | grep "\"comm\":\"flsysd\"" >/tmp/detected.txt
line=$(grep -m1 "\"pid\":$rpid," /tmp/detected.txt)
if [[ -n $rpid && -n $line ]]; then
	ok "race-detected-journal"
else
	nok "race-detected-journal" "no DETECTED report for the race (pid ${rpid:-?}) in journalctl -u $U; $(wc -l </tmp/detected.txt) for comm flsysd; race: $(tail -1 /tmp/race.out)"
fi
echo "race: pid $rpid buffer $buf; $(wc -l </tmp/detected.txt) DETECTED reports in the journal"
show "journalctl -u $U: the first DETECTED report of the race" sh -c "journalctl -u $U -o short-monotonic _COMM=faultloop | grep -m1 '\"pid\":$rpid,'"
addr=$(sed -n 's/.*"addr":"\(0x[0-9a-f]*\)".*/\1/p' <<<"$line")
check "race-report-fields" "the report's address ${addr:-none} is not in the race's buffer page $buf, or its stack is not symbolized: ${line:0:400}" \
	bash -c '[[ -n $2 && -n $3 ]] && (($2 >= $3 && $2 < $3 + 4096)) && [[ $1 =~ \"stack\":\[\"[a-z_0-9.]+\+0x ]]' _ "$line" "$addr" "$buf"
if wait_metrics 10 && awk '/^faultloop_loops_detected_total\{.*comm="flsysd"/ && $NF >= 1 { f = 1 } END { exit !f }' /tmp/metrics.txt; then
	ok "race-detected-metrics"
else
	nok "race-detected-metrics" "no faultloop_loops_detected_total{comm=\"flsysd\"} >= 1 in $METRICS"
fi
show "curl $METRICS | grep flsysd" grep flsysd /tmp/metrics.txt

# ---- kill -9: systemd restarts it, and it serves again ------------------------
pid=$(prop MainPID)
nr=$(prop NRestarts)
kill -9 "$pid"
i=0
while ((i < 120)) && { [[ $(prop MainPID) == "$pid" || $(prop MainPID) == 0 ]]; }; do sleep 0.5; i=$((i + 1)); done
if wait_attached 150 && [[ $(prop NRestarts) == $((nr + 1)) ]] && wait_metrics 30; then
	ok "restart-after-kill"
else
	nok "restart-after-kill" "after kill -9 $pid: $(prop ActiveState)/$(prop SubState), MainPID $(prop MainPID), NRestarts $nr -> $(prop NRestarts)"
fi
show "journalctl -u $U: the kill and the restart" sh -c \
	"journalctl -u $U -o short-monotonic --no-hostname | grep -E -A8 'code=killed|status=9' | head -14"
show "systemctl status $U (restarted)" systemctl status $U --no-pager -n 0

# ---- no SIGSYS, no denial -----------------------------------------------------
# (every start so far: install, a restart, the upgrade, after kill -9)
journalctl -u $U -o cat >/tmp/unit-journal.txt
# the whole journal (kernel and audit records included) and the kernel's ring
{ journalctl -b -o cat; dmesg; } >/tmp/kernel.txt
denials() { grep -E 'status=31/SYS|SIGSYS|Bad system call|Operation not permitted|Permission denied|denied|cannot drop|hidden' "$@"; }
kdenials() { grep -aE 'type=1326|SECCOMP auid=|apparmor="DENIED"' "$@"; }
den=$(denials /tmp/unit-journal.txt)
check "no-denial-journal" "journalctl -u $U: $(head -3 <<<"$den" | tr '\n' ' ')" test -z "$den"
kden=$(kdenials /tmp/kernel.txt)
check "no-denial-kernel" "journal/kernel log: $(head -3 <<<"$kden" | tr '\n' ' ')" test -z "$kden"
show "journalctl -u $U: every faultloop line but reports" sh -c "grep -v '^{' /tmp/unit-journal.txt | grep -E '^faultloop|^  ' | sort | uniq -c | sort -rn | head -30"

# ---- the sandbox that replaces ProtectKernelTunables= and ProtectKernelLogs= --
under_unit '
awk '"'"'$1 !~ /^0+$/ { n++ } END { print "kallsyms: " NR " symbols, " n+0 " with an address" }'"'"' /proc/kallsyms
try() { if eval "$2" 2>/dev/null; then echo "$1: yes"; else echo "$1: no"; fi; }
try "open /proc/kmsg" "(exec 3</proc/kmsg)"
try "/dev/kmsg" "test -e /dev/kmsg"
v=$(cat /proc/sys/vm/stat_interval)
try "write /proc/sys (vm.stat_interval, same value)" "(echo $v >/proc/sys/vm/stat_interval)"
v=$(sed "s/.*\[\(.*\)\].*/\1/" /sys/kernel/mm/transparent_hugepage/enabled)
try "write /sys (transparent_hugepage/enabled, same value)" "(echo $v >/sys/kernel/mm/transparent_hugepage/enabled)"
try "read /sys/kernel/btf/vmlinux" "test -r /sys/kernel/btf/vmlinux"
dmesg >/dev/null 2>&1; echo "dmesg (syslog(2)): exit $?"' >/tmp/sandbox.txt
show "a process with the unit's settings: the kernel's logs, tunables and symbols" cat /tmp/sandbox.txt
want="open /proc/kmsg: no
/dev/kmsg: no
write /proc/sys (vm.stat_interval, same value): no
write /sys (transparent_hugepage/enabled, same value): no
read /sys/kernel/btf/vmlinux: yes
dmesg (syslog(2)): exit 159"
got=$(grep -v '^kallsyms' /tmp/sandbox.txt)
# 159: killed by SIGSYS (128 + 31)
check "sandbox" "want: $(tr '\n' ';' <<<"$want") got: $(tr '\n' ';' <<<"$got")" test "$got" = "$want"
check "sandbox-kallsyms" "$(grep '^kallsyms' /tmp/sandbox.txt): want kernel addresses (most symbols with one)" \
	awk '/^kallsyms:/ { f = ($2 > 1000 && $4 > $2 / 2) } END { exit !f }' /tmp/sandbox.txt

# ---- every probe the kernel offers attaches under the unit too ---------------
# the unit's sandbox must not cost a signal: --probes as root without the
# sandbox against --probes under the unit's settings, row by row
/usr/sbin/faultloop --probes --metrics off 2>&1 | rows >/tmp/probes-root.txt
# the known loops apart: PrivateDevices= hides /dev/userfaultfd, so the
# unit's uffd entry says "unknown" and why (src/exposure.c)
under_unit '/usr/sbin/faultloop --probes --metrics off 2>&1' | rows | sed '/^KNOWN LOOP/,$d' >/tmp/probes-unit.txt
sed '/^KNOWN LOOP/,$d' /tmp/probes-root.txt >/tmp/probes-root-rows.txt
show "faultloop --probes as root" cat /tmp/probes-root.txt
show "faultloop --probes under the unit's settings (diff against root's)" diff /tmp/probes-root-rows.txt /tmp/probes-unit.txt
check "probes-under-unit" "under the unit: $(diff /tmp/probes-root-rows.txt /tmp/probes-unit.txt | grep '^[<>]' | head -6 | tr '\n' ' ')" \
	sh -c 'grep -q "^fault_stall fault attached " /tmp/probes-root.txt && diff -q /tmp/probes-root-rows.txt /tmp/probes-unit.txt >/dev/null'

# ---- stop: nothing left -------------------------------------------------------
during=$(fl_progs)
systemctl stop $U
i=0
while ((i < 40)) && (($(fl_progs) > 0)); do sleep 0.25; i=$((i + 1)); done
res="$(prop ActiveState)/$(prop ExecMainCode)/$(prop ExecMainStatus)"
check "stop-clean" "after systemctl stop: state/code/status $res, want inactive/1/0 (exited 0 on SIGTERM)" \
	test "$res" = "inactive/1/0"
check "stop-no-bpf" "$(fl_progs) fl_ BPF programs left after stop ($during while running)" \
	test "$during" -gt 0 -a "$(fl_progs)" -eq 0
show "journalctl -u $U: the stop" sh -c "journalctl -u $U -o short-monotonic --no-hostname -n 4"

# ---- the DaemonSet's confinement, without a container runtime ----------------
# root (uid 0) with exactly the manifest's capabilities (drop ALL, add its
# list: permitted, effective, inheritable, ambient and bounding, as runc
# sets them) and no_new_privs (allowPrivilegeEscalation: false), by
# setpriv; the list and the args come from the manifest (the host reads
# it).  Its Localhost seccomp profile needs a runtime: tests/container.sh.
t1=$(date +%s)
{ read -r podcaps; mapfile -t podargs; } </payload/pod-confinement
spec=-all,+${podcaps//,/,+}
# shellcheck disable=SC2046
podmask=$(capmask $(tr ',' '\n' <<<"$podcaps" | sed 's/^/cap_/'))
# a command, not a function: started in the background, $! is setpriv,
# which execs faultloop (a function would run in a subshell of its own)
confined=(setpriv --inh-caps="$spec" --ambient-caps="$spec" --bounding-set="$spec" --no-new-privs --)
echo "the DaemonSet's capabilities: $podcaps ($podmask); args: ${podargs[*]}"
"${confined[@]}" grep -E '^(Cap|NoNewPrivs)' /proc/self/status >/tmp/pod-self.txt 2>&1
show "setpriv $spec: /proc/self/status" cat /tmp/pod-self.txt
check "pod-confinement" "under setpriv $spec: $(tr '\n' ' ' </tmp/pod-self.txt), want CapEff/CapBnd/CapAmb $podmask, NoNewPrivs 1, and the manifest's args" \
	bash -c '[[ $1 != unknown* && ${#1} -eq 16 && $2 -gt 0 ]] &&
		test "$(awk '"'"'$1 ~ /^Cap(Eff|Bnd|Amb):$/ { printf "%s ", $2 } $1 == "NoNewPrivs:" { print $2 }'"'"' /tmp/pod-self.txt)" = "$1 $1 $1 1"' _ "$podmask" "${#podargs[@]}"
"${confined[@]}" /usr/sbin/faultloop --probes --metrics off 2>&1 | rows >/tmp/probes-pod.txt
show "faultloop --probes under the DaemonSet's confinement (diff against root's)" diff /tmp/probes-root.txt /tmp/probes-pod.txt
check "pod-probes" "under the DaemonSet's confinement: $(diff /tmp/probes-root.txt /tmp/probes-pod.txt | grep '^[<>]' | head -6 | tr '\n' ' ')" \
	sh -c 'grep -q "^fault_stall fault attached " /tmp/probes-root.txt && diff -q /tmp/probes-root.txt /tmp/probes-pod.txt >/dev/null'
"${confined[@]}" /usr/sbin/faultloop "${podargs[@]}" >/tmp/pod.json 2>/tmp/pod.err &
podpid=$!
i=0
while ((i < 300)) && kill -0 $podpid 2>/dev/null && ! grep -q 'probes attached' /tmp/pod.err; do sleep 0.5; i=$((i + 1)); done
# attached with symbols and serving: no "addresses are hidden", no sampler
# without code ranges
if grep -q 'probes attached' /tmp/pod.err && ! grep -qE 'hidden|no symbols' /tmp/pod.err && wait_metrics 30; then
	ok "pod-attached"
else
	nok "pod-attached" "faultloop under the DaemonSet's confinement: not attached with symbols and serving /metrics in 150 s: $(grep -E 'hidden|no symbols|attached|error' /tmp/pod.err | head -3 | tr '\n' ' ')"
fi
show "faultloop ${podargs[*]} under the DaemonSet's confinement: stderr" cat /tmp/pod.err
thread_caps $podpid >/tmp/threads-pod.txt
show "/proc/$podpid/task/*/status under the DaemonSet's confinement, once armed" cat /tmp/threads-pod.txt
check "pod-threads-caps" "want every thread (MHD-* among them) CapPrm/CapEff $bpf, CapBnd $podmask, CapAmb 0, NoNewPrivs 1 (no seccomp filter: no runtime here)" \
	threads_confined /tmp/threads-pod.txt "$podmask" 0
s=$(sampler)
check "pod-sampler" "under the DaemonSet's confinement the stall sampler is ${s:-none}, want $want_sampler" \
	test "$s" = "$want_sampler"
echo "uffd loop under the DaemonSet's confinement: $(uffd_loop uffdpod)"
sleep 1
uffd_judge pod-uffd /tmp/pod.json uffdpod
during=$(fl_progs)
kill -TERM $podpid 2>/dev/null
wait $podpid
rc=$?
check "pod-stop" "faultloop under the DaemonSet's confinement: exit status $rc on SIGTERM, want 0; fl_ BPF programs $during while running, $(fl_progs) after" \
	test "$rc" -eq 0 -a "$during" -gt 0 -a "$(fl_progs)" -eq 0
echo "added: the DaemonSet's confinement took $(($(date +%s) - t1))s"

# ---- a bad flag: failed, no restart loop ------------------------------------
set_opts "--json --threshold 0"
systemctl start $U
sleep 8
res="$(prop ActiveState)/$(prop Result)/$(prop ExecMainStatus)/$(prop NRestarts)"
check "bad-flag-fails" "with --threshold 0: state/result/status/restarts $res, want failed/exit-code/2/0 and no restart" \
	test "$res" = "failed/exit-code/2/0"
check "bad-flag-journal" "journalctl -u $U has no line naming the bad flag" \
	bash -c "journalctl -u $U -o cat -n 20 | grep -q \"invalid --threshold '0'\""
show "journalctl -u $U: the bad flag" sh -c "journalctl -u $U -o short-monotonic --no-hostname -n 6"
set_opts "--json --metrics 127.0.0.1:19477"

# ---- the checks above see a denial: a drop-in takes bpf out of the filter ---
systemctl reset-failed $U
mkdir -p /etc/systemd/system/$U.service.d
printf '[Service]\nSystemCallFilter=~bpf\n' >/etc/systemd/system/$U.service.d/50-no-bpf.conf
systemctl daemon-reload
systemctl restart $U
i=0
while ((i < 60)) && ! journalctl -u $U -o cat -n 20 | grep -q 'status=31/SYS'; do sleep 0.5; i=$((i + 1)); done
sleep 1
journalctl -u $U -o cat >/tmp/unit-journal2.txt
{ journalctl -b -o cat; dmesg; } >/tmp/kernel2.txt
# bpf is system call 321 on x86_64
if [[ -n $(denials /tmp/unit-journal2.txt) ]] && kdenials /tmp/kernel2.txt | grep -q 'syscall=321'; then
	ok "denial-seen"
else
	nok "denial-seen" "with bpf out of the filter: no SIGSYS in journalctl -u $U, or no SECCOMP record for syscall 321 in the journal/kernel log"
fi
{ grep -E 'status=31/SYS' /tmp/unit-journal2.txt | head -2; kdenials /tmp/kernel2.txt | grep 'syscall=321' | head -2; } >/tmp/denial.txt
show "a drop-in without bpf: journalctl -u $U and the kernel's record" cat /tmp/denial.txt
rm -rf /etc/systemd/system/$U.service.d
systemctl daemon-reload
systemctl reset-failed $U
since=$(date '+%Y-%m-%d %H:%M:%S')
systemctl restart $U
if wait_attached 150; then ok "restart-after-fix"; else nok "restart-after-fix" "not attached again with the flag fixed and the drop-in gone: $(prop ActiveState)"; fi

# ---- purge while running: stopped, nothing of the package left -----------------
during=$(fl_progs)
timeout 300 apt-get purge -y $U >/tmp/purge.log 2>&1 </dev/null
rc=$?
show "apt-get purge $U" sh -c "sed 's/\r$//' /tmp/purge.log | tr '\r' '\n' | grep -v '^(Reading database \.\.\. *\([0-9]*%\)*$' | grep -v '^$' | tail -n 6"
i=0
while ((i < 40)) && (($(fl_progs) > 0)); do sleep 0.25; i=$((i + 1)); done
check "purge-stops" "apt-get purge exited $rc; faultloop processes: $(pgrep -x faultloop | tr '\n' ' '); fl_ BPF programs $(fl_progs) ($during before)" \
	test "$rc" -eq 0 -a "$during" -gt 0 -a -z "$(pgrep -x faultloop)" -a "$(fl_progs)" -eq 0
check "purge-no-unit" "after purge: LoadState $(prop LoadState), $(ls /lib/systemd/system/$U.service /etc/systemd/system/*/$U.service 2>&1 | grep -v 'No such' | tr '\n' ' ')" \
	bash -c "[[ \$(systemctl show -P LoadState $U) == not-found ]] && ! ls /lib/systemd/system/$U.service /usr/lib/systemd/system/$U.service /etc/systemd/system/*/$U.service >/dev/null 2>&1"
left=$(while read -r f; do
	[[ -e $f || -L $f ]] || continue
	# directories stay where other packages own them (/etc/default,
	# /usr/sbin) or the system's layout makes them (/., /lib -> usr/lib)
	if [[ -d $f ]]; then
		[[ $f == /. || -L $f ]] && continue
		# /lib/systemd/system is /usr/lib/systemd/system on merged-/usr trixie
		dpkg-query -S "$f" >/dev/null 2>&1 && continue
		dpkg-query -S "$(readlink -f "$f")" >/dev/null 2>&1 && continue
	fi
	echo "$f"
done </tmp/pkgfiles; ls -d /var/lib/systemd/deb-systemd-helper-enabled/*$U* /var/lib/systemd/deb-systemd-helper-masked/*$U* 2>/dev/null)
check "purge-no-files" "left after purge: $(head -5 <<<"$left" | tr '\n' ' ')" test -z "$left"
check "purge-not-installed" "dpkg still knows $U: $(dpkg-query -W -f='${Status}' $U 2>&1)" \
	bash -c "! dpkg-query -W -f='\${Status}' $U 2>/dev/null | grep -q installed"
show "after purge" sh -c "systemctl status $U --no-pager 2>&1 | head -2; dpkg -l $U 2>&1 | tail -1; ls /etc/default/faultloop /usr/sbin/faultloop 2>&1"

# ---- and no denial in the starts and stops since the drop-in went -------------
den=$(journalctl -u $U -o cat --since "$since" | denials)
kden=$({ journalctl -b -o cat --since "$since"; journalctl -k -o cat --since "$since"; } | kdenials)
check "no-denial-end" "since $since (a start and the purge): $(head -3 <<<"$den$kden" | tr '\n' ' ')" \
	test -z "$den$kden"

echo "systemd-guest: $pass passed, $fail failed ($(elapsed))"
echo "FAULTLOOP-VM-EXIT $fail"
