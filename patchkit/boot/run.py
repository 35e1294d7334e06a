"""Boot built states for each config whose boot is enabled, choosing the accelerator once per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.boot import initramfs, qemu
from patchkit.build.walk import Builder, State, StateBuild
from patchkit.progress import Progress
from patchkit.series.model import KconfigSpec


@dataclass
class BootRun:
    """Boots after builds (use :meth:`after_state` as ``build_states(after_state=...)``)."""

    configs: list[KconfigSpec]
    results: Path
    boot_states: set[int]  # state indexes to boot
    end_state: int  # expectations apply here only
    accel_request: str = "auto"
    timeout: float = 60.0
    progress: Progress = field(default_factory=lambda: Progress(live=False))
    extra_cmdline: str = ""  # appended to every boot (tests, --cmdline)
    boots: list[qemu.BootResult] = field(default_factory=list)
    accel: qemu.AccelChoice | None = None
    _initrd: Path | None = None

    def after_state(self, state: State, builds: list[StateBuild], builder: Builder) -> None:
        if state.index not in self.boot_states:
            return
        for spec in self.configs:
            if not spec.boot.enabled:
                continue
            build = next((b for b in builds if b.config == spec.name), None)
            if build is None or build.status != "ok":
                continue
            self.boot_one(spec, state, builder.image(spec.name), state.index == self.end_state)

    def boot_one(self, spec: KconfigSpec, state: State, image: Path, at_end: bool) -> qemu.BootResult:
        if self._initrd is None:
            self._initrd = initramfs.initramfs()
        boot_dir = self.results / "boot"
        if self.accel is None:
            self.progress.step("boot", "probing KVM")
            self.accel = qemu.choose_accel(self.accel_request, image, self._initrd, boot_dir)
            self.progress.line(f"  boot: using {self.accel.why}")
        self.progress.step("boot", f"{spec.name} at {state.label} ({self.accel.accel})")
        cmdline = " ".join(part for part in (spec.boot.cmdline, self.extra_cmdline) if part)
        console = boot_dir / f"{spec.name}-{state.index:02d}-{state.label.replace(' ', '-')}.console.log"
        result = qemu.boot(
            spec.name, state.label, image, self._initrd, console,
            accel=self.accel.accel, extra_cmdline=cmdline,
            expects=spec.boot.expect if at_end else (), timeout=self.timeout,
        )  # fmt: skip
        self.boots.append(result)
        status = "ok" if result.ok else "FAILED"
        line = f"  boot  {spec.name:<8} {state.label:<9} {status:<6} {result.seconds:6.1f}s {result.reason}"
        if not result.ok:
            line += "\n" + "\n".join("      | " + excerpt_line for excerpt_line in result.excerpt.splitlines())
            line += f"\n      console: {result.console}"
        self.progress.line(line)
        return result

    @property
    def first_failure(self) -> qemu.BootResult | None:
        return next((b for b in self.boots if not b.ok), None)

    def to_json_data(self) -> dict[str, Any]:
        return {
            "accel": self.accel.accel if self.accel else None,
            "accel_why": self.accel.why if self.accel else None,
            "boots": [b.to_json_data() for b in self.boots],
        }
