#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# man/help2man.sh BINARY OUT: faultloop(8) from `BINARY --help` (argp: the
# flags, their defaults and the examples are defined once, in the source)
# and man/faultloop.h2m (exit statuses, the service, files).  BINARY must
# run on this machine.
#
# help2man puts argp's option list under DESCRIPTION (argp prints it without
# a heading): faultloop.h2m opens an OPTIONS section after the description
# instead.  argp's EXAMPLES epilogue is one command per line, which
# help2man's paragraph filling would run together: it becomes a verbatim
# EXAMPLES section, taken line by line from the same --help output.
set -euo pipefail
bin=$1 out=$2
here=$(dirname "$0")
# no wrapping: the examples stay one per line
export ARGP_HELP_FMT=rmargin=250 LC_ALL=C.UTF-8

help2man --no-info --section 8 \
	--name 'detect the Linux kernel stuck in fault-in/uaccess retry loops' \
	--include "$here/faultloop.h2m" --output "$out.tmp" "$bin"

"$bin" --help | awk '
	/^EXAMPLES:$/ { on = 1; next }
	on && !NF { exit }
	on { sub(/^ +/, ""); gsub(/\\/, "\\e"); gsub(/-/, "\\-"); print; n++ }
	END { if (!n) { print "help2man.sh: no EXAMPLES in --help" > "/dev/stderr"; exit 1 } }
' >"$out.ex"

# replace help2man's EXAMPLES subsection (up to the next section) with the
# verbatim one, placed as a section of its own right there
awk -v exfile="$out.ex" '
	/^\.SS "EXAMPLES:"$/ {
		print ".SH EXAMPLES"; print ".nf"
		while ((getline l < exfile) > 0) print l
		print ".fi"; skip = 1; done = 1; next
	}
	skip && /^\.SH/ { skip = 0 }
	!skip { print }
	END { if (!done) { print "help2man.sh: help2man wrote no EXAMPLES subsection" > "/dev/stderr"; exit 1 } }
' "$out.tmp" >"$out.new"
rm -f "$out.tmp" "$out.ex"
mv -f "$out.new" "$out"
