# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A guest's console as its payload wrote it, for the VM checkers.

The guests boot with loglevel=5 (tools/vm/run-vm.sh: a lockup's stack must
reach the console), so kernel warnings share the UART with the payload's
output: a "[   6.63] trace_kprobe: Could not probe notrace function ..."
at each faultloop start, printed between two payload lines or in the middle
of one.  Each kernel message is "[ seconds.micros] text" up to its own
newline (printk.time=1): taking those out gives back the payload's lines
whole.  The kernel's own lines are judged elsewhere (guest_trouble,
tools/lib.sh).
"""
import re

_KERNEL_MESSAGE = re.compile(r"\[ *\d+\.\d+\] [^\n]*\n")


def console_text(path):
    """The console log at PATH, without \\r."""
    return open(path, errors="replace").read().replace("\r", "")


def without_kernel(text):
    """TEXT without the kernel's messages."""
    return _KERNEL_MESSAGE.sub("", text)


def payload_text(path):
    """The console log at PATH as the payload wrote it."""
    return without_kernel(console_text(path))
