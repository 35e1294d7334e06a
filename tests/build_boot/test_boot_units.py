"""Boot pieces that need no kernel: the initramfs, the KVM decision, a missing QEMU."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from patchkit.boot import initramfs, qemu
from patchkit.errors import MissingToolError


def test_initramfs_holds_init_busybox_and_a_console_node(tmp_path: Path) -> None:
    if shutil.which("cpio") is None:
        pytest.skip("cpio is not installed")
    raw = gzip.decompress(initramfs.initramfs_bytes(b"\x7fELF fake busybox"))
    listing = subprocess.run(["cpio", "-itv"], input=raw, capture_output=True, check=True).stdout.decode()
    entries = {line.split()[-1] if "->" not in line else line.split()[-3]: line for line in listing.splitlines()}
    assert entries["init"].startswith("-rwxr-xr-x")
    assert entries["dev/console"].startswith("c")
    assert "bin/sh" in entries and "-> busybox" in entries["bin/sh"]
    extracted = tmp_path / "root"
    extracted.mkdir()
    subprocess.run(["cpio", "-id", "--no-absolute-filenames", "init"], input=raw, cwd=extracted,
                   capture_output=True, check=True)  # fmt: skip
    assert initramfs.MARKER in (extracted / "init").read_text()


def test_initramfs_is_cached_by_content() -> None:
    if shutil.which("busybox") is None:
        pytest.skip("busybox-static is not installed")
    first = initramfs.initramfs()
    mtime = first.stat().st_mtime_ns
    assert initramfs.initramfs() == first
    assert first.stat().st_mtime_ns == mtime


def test_missing_qemu_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    image = tmp_path / "bzImage"
    image.write_bytes(b"")
    with pytest.raises(MissingToolError) as caught:
        qemu.boot("guest", "patch 1", image, image, tmp_path / "console.log", accel="tcg")
    assert caught.value.exit_code == 7
    assert caught.value.packages == ("qemu-system-x86",)


def test_tcg_when_asked_or_when_kvm_is_not_accessible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert qemu.choose_accel("tcg", tmp_path, tmp_path, tmp_path).accel == "tcg"
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    choice = qemu.choose_accel("auto", tmp_path, tmp_path, tmp_path)
    assert choice.accel == "tcg"
    assert "/dev/kvm is missing or not accessible" in choice.why


def _fake_qemu(directory: Path, body: str) -> None:
    directory.mkdir(exist_ok=True)
    script = directory / "qemu-system-x86_64"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def test_a_kvm_that_hangs_falls_back_to_tcg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(tmp_path / "bin", "echo 'Booting from ROM..'; exec sleep 60")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setattr(qemu, "PROBE_TIMEOUT", 1.0)
    choice = qemu.probe_kvm(tmp_path / "bzImage", tmp_path / "initrd", tmp_path / "probe.log")
    assert choice.accel == "tcg"
    assert choice.why == "TCG: KVM probe printed no kernel output within 1 s; falling back"
    assert "Booting from ROM" in (tmp_path / "probe.log").read_text()


def test_a_kvm_that_prints_the_kernel_banner_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(tmp_path / "bin", "echo 'Linux version 6.1.192'; exec sleep 60")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    choice = qemu.probe_kvm(tmp_path / "bzImage", tmp_path / "initrd", tmp_path / "probe.log")
    assert choice.accel == "kvm"
    assert choice.why.startswith("KVM (probe: kernel output after")


def test_the_probe_verdict_is_reused_within_one_host_boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    monkeypatch.setattr(qemu, "_boot_id", lambda: "boot-1")
    calls: list[Path] = []

    def probe(image: Path, initrd: Path, log: Path) -> qemu.AccelChoice:
        calls.append(log)
        return qemu.AccelChoice("tcg", "TCG: probe said no")

    monkeypatch.setattr(qemu, "probe_kvm", probe)
    assert qemu.choose_accel("auto", tmp_path, tmp_path, tmp_path).accel == "tcg"
    again = qemu.choose_accel("auto", tmp_path, tmp_path, tmp_path)
    assert again.accel == "tcg" and "probed earlier" in again.why
    assert len(calls) == 1
    monkeypatch.setattr(qemu, "_boot_id", lambda: "boot-2")
    qemu.choose_accel("auto", tmp_path, tmp_path, tmp_path)
    assert len(calls) == 2
