"""Boot a bzImage in QEMU, log the serial console, judge it; KVM when it really works, TCG otherwise.

``/dev/kvm`` existing is not enough: on some hosts (nested virtualisation) a
KVM guest hangs before the kernel prints anything. The probe boots the kernel
under KVM until its first console line, with a short timeout; the verdict is
cached per host boot (``/proc/sys/kernel/random/boot_id``) in
``$XDG_CACHE_HOME/patchkit/kvm-probe.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchkit.boot import BOOT_TIMEOUT
from patchkit.boot.console import ConsoleVerdict, judge
from patchkit.boot.initramfs import MARKER
from patchkit.errors import BootError, PatchkitError
from patchkit.kbuild.child import run_logged
from patchkit.util import atomic, inputfile, paths, proc

QEMU = "qemu-system-x86_64"
BASE_CMDLINE = "console=ttyS0 panic=-1"
PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class AccelChoice:
    accel: str  # "kvm" or "tcg"
    why: str  # one line for the output


@dataclass
class BootResult:
    config: str
    state: str
    accel: str
    ok: bool
    reason: str
    excerpt: str
    console: Path
    seconds: float
    cmdline: str
    cached: str = ""  # provenance when the verdict came from the cache, else ""

    def to_json_data(self, results: Path) -> dict[str, Any]:
        """The boot in a report.json of the run's ``results`` directory (the console's path relative to it)."""
        return {
            "config": self.config,
            "state": self.state,
            "accel": self.accel,
            "ok": self.ok,
            "reason": self.reason,
            "excerpt": self.excerpt,
            "console": paths.relative_within(self.console, results),
            "seconds": round(self.seconds, 2),
            "cmdline": self.cmdline,
            "cached": self.cached or None,
        }


def qemu_argv(accel: str, image: Path, initrd: Path, cmdline: str) -> list[str]:
    argv = [QEMU, "-accel", accel]
    if accel == "kvm":
        argv += ["-cpu", "host"]
    return [
        *argv, "-m", "256", "-smp", "1", "-kernel", str(image), "-initrd", str(initrd),
        "-append", cmdline, "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
    ]  # fmt: skip


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def choose_accel(requested: str, image: Path, initrd: Path, log_dir: Path) -> AccelChoice:
    """The accelerator to boot with: ``requested`` is "auto", "kvm" or "tcg"."""
    if requested == "tcg":
        return AccelChoice("tcg", "TCG (asked for)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        if requested == "kvm":
            raise BootError("--accel kvm: /dev/kvm is missing or not accessible to this user")
        return AccelChoice("tcg", "TCG: /dev/kvm is missing or not accessible")
    if requested == "kvm":
        return AccelChoice("kvm", "KVM (asked for)")
    cache = paths.kvm_probe_file()
    boot_id = _boot_id()
    with contextlib.suppress(PatchkitError, KeyError, TypeError):
        cached = inputfile.read_json(cache, 64 * 1024)
        if cached["boot_id"] == boot_id and boot_id:
            return AccelChoice(cached["accel"], cached["why"] + " (probed earlier since the host booted)")
    choice = probe_kvm(image, initrd, log_dir / "kvm-probe.console.log")
    with contextlib.suppress(Exception):
        atomic.write_text(cache, json.dumps({"boot_id": boot_id, "accel": choice.accel, "why": choice.why}) + "\n")
    return choice


def probe_kvm(image: Path, initrd: Path, log: Path) -> AccelChoice:
    """Boot under KVM until the kernel's first console line; a hang or silence means KVM does not work here."""
    started = time.monotonic()
    result = run_logged(
        qemu_argv("kvm", image, initrd, BASE_CMDLINE),
        log,
        timeout=PROBE_TIMEOUT,
        on_line=lambda line: "Linux version" in line,
    )
    if result.stopped_by_handler:
        return AccelChoice("kvm", f"KVM (probe: kernel output after {time.monotonic() - started:.1f} s)")
    if result.timed_out:
        return AccelChoice("tcg", f"TCG: KVM probe printed no kernel output within {PROBE_TIMEOUT:g} s; falling back")
    return AccelChoice("tcg", f"TCG: KVM probe failed (QEMU exit {result.returncode}; see {log}); falling back")


def boot(
    config: str,
    state: str,
    image: Path,
    initrd: Path,
    console: Path,
    *,
    accel: str,
    extra_cmdline: str = "",
    expects: tuple[str, ...] = (),
    timeout: float = BOOT_TIMEOUT,
) -> BootResult:
    """Boot once and judge the console; never raises for a bad boot (the result says why)."""
    proc.require(QEMU)
    if not image.is_file():
        raise BootError(f"{image}: no kernel image to boot (the build did not produce one)")
    cmdline = f"{BASE_CMDLINE} {extra_cmdline}".strip()
    console.parent.mkdir(parents=True, exist_ok=True)
    console.write_bytes(b"")
    marker_at: list[float] = []

    def on_line(line: str) -> bool:
        if MARKER in line and not marker_at:
            marker_at.append(time.monotonic())
        return False

    started = time.monotonic()
    result = run_logged(qemu_argv(accel, image, initrd, cmdline), console, timeout=timeout, on_line=on_line)
    seconds = (marker_at[0] if marker_at else time.monotonic()) - started
    text = console.read_text(encoding="utf-8", errors="replace")
    verdict: ConsoleVerdict = judge(
        text, exited=result.returncode is not None, timed_out=result.timed_out, timeout=timeout, expects=expects
    )
    return BootResult(config, state, accel, verdict.ok, verdict.reason, verdict.excerpt, console, seconds, cmdline)
