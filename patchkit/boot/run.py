"""Boot built states for each config whose boot is enabled, choosing the accelerator once per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.apply.states import State
from patchkit.boot import BOOT_TIMEOUT, initramfs, qemu
from patchkit.kbuild.walk import Builder, StateBuild
from patchkit.series.model import KconfigSpec
from patchkit.util import store
from patchkit.util.progress import Progress
from patchkit.util.store import VerdictCache

CONSOLE_EVIDENCE = "console"  # a boot verdict's evidence in the cache: the serial console (its tail when long)


@dataclass
class BootReport:
    """The boots of one run, in the order they ran, and the accelerator chosen for them."""

    boots: list[qemu.BootResult] = field(default_factory=list)
    accel: qemu.AccelChoice | None = None

    @property
    def first_failure(self) -> qemu.BootResult | None:
        return next((b for b in self.boots if not b.ok), None)

    def to_json_data(self, results: Path) -> dict[str, Any]:
        return {
            "accel": self.accel.accel if self.accel else None,
            "accel_why": self.accel.why if self.accel else None,
            "boots": [b.to_json_data(results) for b in self.boots],
        }


@dataclass
class BootRun:
    """Boots after builds (use :meth:`after_state` as ``build_states(after_state=...)``)."""

    configs: list[KconfigSpec]
    results: Path
    boot_states: set[int]  # state indexes to boot
    end_state: int  # expectations apply here only
    accel_request: str = "auto"
    timeout: float = BOOT_TIMEOUT
    progress: Progress = field(default_factory=lambda: Progress(live=False))
    extra_cmdline: str = ""  # appended to every boot (tests, --cmdline)
    report: BootReport = field(default_factory=BootReport)
    cache: VerdictCache | None = None  # verdicts by image, initramfs, command line and expectations
    reboot: bool = False  # boot again even when a verdict for the same inputs is cached
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
            at_end = state.index == self.end_state
            if self.cache is None:
                self.boot_one(spec, state, builder.image(spec.name), at_end)
                continue
            if not build.cached and build.image:
                self.cache.keep_image(builder.image(spec.name), build.image)  # a later run boots it unbuilt
            self.boot_cached(spec, state, build, builder, at_end)

    def boot_cached(self, spec: KconfigSpec, state: State, build: StateBuild, builder: Builder, at_end: bool) -> None:
        """Reuse the verdict of an identical boot, else boot (the kept image when this run did not build it)."""
        assert self.cache is not None
        key = self._boot_key(spec, build.image, at_end)
        verdict = None if self.reboot else self.cache.get(key)
        if verdict is not None:
            # The console that proved the verdict comes with it, into this run's results directory.
            console = store.write_evidence(verdict, CONSOLE_EVIDENCE, self.console_path(spec, state))
            data = {**verdict.data, "config": spec.name, "state": state.label}
            result = qemu.BootResult(**{**data, "console": console})
            result.cached = verdict.provenance()
            self.report.boots.append(result)
            self.progress.line(self._line(result))
            return
        image = builder.image(spec.name) if not build.cached else self.cache.image(build.image)
        if image is None:
            # The kept image was pruned: build this state again to have one.
            builder.work.move_to(state.commit)
            image = builder.image(spec.name)
            rebuilt = builder.build(spec, state)
            if rebuilt.status != "ok" or rebuilt.image != build.image:
                self.progress.line(f"  boot  {spec.name:<8} {state.label:<9} rebuilt image differs; booting it")
        result = self.boot_one(spec, state, image, at_end)
        data = {k: v for k, v in result.to_json_data(self.results).items() if k not in ("cached", "console")}
        evidence = {CONSOLE_EVIDENCE: store.tail_of(result.console)}
        self.cache.put(key, "boot", data, self.results, evidence)

    def _boot_key(self, spec: KconfigSpec, image_digest: str, at_end: bool) -> str:
        if self._initrd is None:
            self._initrd = initramfs.initramfs()
        return store.make_key(
            "boot", image=image_digest, initramfs=self._initrd.name, config=spec.name,
            cmdline=" ".join(part for part in (spec.boot.cmdline, self.extra_cmdline) if part),
            expects=list(spec.boot.expect) if at_end else [], accel=self.accel_request, timeout=self.timeout,
        )  # fmt: skip

    def boot_one(self, spec: KconfigSpec, state: State, image: Path, at_end: bool) -> qemu.BootResult:
        if self._initrd is None:
            self._initrd = initramfs.initramfs()
        boot_dir = self.results / "boot"
        if self.report.accel is None:
            self.progress.step("boot", "probing KVM")
            self.report.accel = qemu.choose_accel(self.accel_request, image, self._initrd, boot_dir)
            self.progress.line(f"  boot: using {self.report.accel.why}")
        self.progress.step("boot", f"{spec.name} at {state.label} ({self.report.accel.accel})")
        cmdline = " ".join(part for part in (spec.boot.cmdline, self.extra_cmdline) if part)
        console = self.console_path(spec, state)
        result = qemu.boot(
            spec.name, state.label, image, self._initrd, console,
            accel=self.report.accel.accel, extra_cmdline=cmdline,
            expects=spec.boot.expect if at_end else (), timeout=self.timeout,
        )  # fmt: skip
        self.report.boots.append(result)
        self.progress.line(self._line(result))
        return result

    def console_path(self, spec: KconfigSpec, state: State) -> Path:
        """Where this run keeps the console of ``spec`` booted at ``state`` (or the cached verdict's evidence of it)."""
        return self.results / "boot" / f"{spec.name}-{state.index:02d}-{state.label.replace(' ', '-')}.console.log"

    def _line(self, result: qemu.BootResult) -> str:
        status = "ok" if result.ok else "FAILED"
        timing = "cached" if result.cached else f"{result.seconds:6.1f}s"
        line = f"  boot  {result.config:<8} {result.state:<9} {status:<6} {timing:>7} {result.reason}"
        if result.cached:
            line += f" ({result.cached})"
        if not result.ok:
            line += "\n" + "\n".join("      | " + excerpt_line for excerpt_line in result.excerpt.splitlines())
            line += f"\n      console: {result.console}"
        return line
