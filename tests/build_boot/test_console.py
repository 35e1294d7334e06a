"""Judging serial console logs (captured text)."""

from __future__ import annotations

from patchkit.boot.console import judge
from patchkit.boot.initramfs import MARKER

GOOD = f"""\
Linux version 6.1.192 (patchkit@patchkit) #3 SMP
[    0.512345] tdx-probe: seamcall returned 0x8000ff0000000006\r
Run /init as init process
{MARKER} (6.1.192)
reboot: Restarting system
"""

PANIC = """\
Linux version 6.1.192
Run /nonexistent as init process
Failed to execute /nonexistent (error -2)
VFS: Cannot open root device "(null)" or unknown-block(0,0): error -6
Please append a correct "root=" boot option; here are the available partitions:
Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)
CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.192 #3
Call Trace:
 <TASK>
 dump_stack_lvl+0x45/0x5e
"""


def test_marker_and_expectation_pass_even_with_timestamps_and_carriage_returns() -> None:
    verdict = judge(GOOD, exited=True, timed_out=False, timeout=60, expects=(r"^tdx-probe: .*0x8000ff0000000006$",))
    assert verdict.ok, verdict.reason
    assert verdict.marker_seen


def test_missing_expectation_fails_and_names_the_regex() -> None:
    verdict = judge(GOOD, exited=True, timed_out=False, timeout=60, expects=(r"^tdx-probe: .*0x8000ff0000000008$",))
    assert not verdict.ok
    assert "0x8000ff0000000008" in verdict.reason
    assert verdict.expects_missing == [r"^tdx-probe: .*0x8000ff0000000008$"]


def test_panic_is_reported_with_the_excerpt_from_the_panic_line() -> None:
    verdict = judge(PANIC, exited=True, timed_out=False, timeout=60)
    assert not verdict.ok
    assert verdict.reason.startswith("panic: Kernel panic - not syncing: VFS: Unable to mount root fs")
    assert "Kernel panic - not syncing" in verdict.excerpt
    assert "Call Trace:" in verdict.excerpt


def test_a_warning_after_the_marker_still_fails_the_boot() -> None:
    text = GOOD + "------------[ cut here ]------------\nWARNING: CPU: 0 PID: 1 at arch/x86/coco/tdx/tdx.c:10 x+0x1\n"
    verdict = judge(text, exited=True, timed_out=False, timeout=60)
    assert not verdict.ok
    assert verdict.reason.startswith("WARNING:")


def test_oops_and_bug_are_recognised() -> None:
    for line, kind in (
        ("BUG: kernel NULL pointer dereference, address: 0000000000000000", "BUG"),
        ("general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP", "oops"),
        ("invalid opcode: 0000 [#1] SMP", "oops"),
    ):
        text = f"Linux version 6.1\n[    1.000000] {line}\n{MARKER}\n"
        verdict = judge(text, exited=True, timed_out=False, timeout=9)
        assert not verdict.ok
        assert verdict.reason.startswith(kind), verdict.reason


def test_hang_is_a_timeout_with_the_last_lines() -> None:
    text = "Linux version 6.1.192\nRun /bin/sleep as init process\n"
    verdict = judge(text, exited=False, timed_out=True, timeout=15)
    assert not verdict.ok
    assert verdict.reason == "no userspace marker within 15 s (killed at the timeout)"
    assert "Run /bin/sleep as init process" in verdict.excerpt


def test_qemu_exiting_early_is_not_a_pass() -> None:
    verdict = judge("Linux version 6.1.192\n", exited=True, timed_out=False, timeout=15)
    assert not verdict.ok
    assert verdict.reason == "QEMU exited before userspace was reached"
