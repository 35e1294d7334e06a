"""Every verdict carries its evidence: the cache keeps a build log's tail and a boot's console with the verdict
(bounded, under the entry's checksum), and a run that reuses a verdict puts that evidence into its own results
directory, so its report.json points only inside it (an uploaded artifact is complete on its own).

The builds are real make runs on the fake kernel of test_verdict_cache; the boots run a stand-in QEMU that
prints what a kernel and patchkit's /init print (tests/build_boot/test_real_build.py boots real ones).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from patchkit.apply.record import require_record
from patchkit.apply.states import series_states
from patchkit.boot.initramfs import MARKER
from patchkit.boot.run import BootRun
from patchkit.kbuild.walk import BUILD_LOG_TAIL, BuildReport, build_states
from patchkit.kbuild.worktree import WorkTree
from patchkit.series.model import Series
from patchkit.tree.repo import KernelTree
from patchkit.util.store import MAX_EVIDENCE_BYTES, VerdictCache, make_key
from tests.build_boot.test_verdict_cache import _build, _diff, _project

CONSOLE_LINE = "patchkit-test: the console of the boot that judged this image"


def _fake_qemu(directory: Path) -> Path:
    """A qemu-system-x86_64 that prints a kernel banner, a line of its own and patchkit's marker, then exits."""
    directory.mkdir(exist_ok=True)
    script = directory / "qemu-system-x86_64"
    script.write_text(f"#!/bin/sh\necho 'Linux version 6.1.99'\necho '{CONSOLE_LINE}'\necho '{MARKER} (6.1.99)'\n")
    script.chmod(0o755)
    return script


def _build_and_boot(
    tree: KernelTree, series: Series, results: Path, cache: VerdictCache
) -> tuple[BuildReport, BootRun]:
    record = require_record(tree, series.name)
    end = series_states(record)[-1].index
    booter = BootRun(configs=list(series.configs), results=results, boot_states={end}, end_state=end,
                     accel_request="tcg", cache=cache)  # fmt: skip
    work = WorkTree(tree, series.name)
    with work.locked():
        report = build_states(tree, series, record, list(series.configs), results, cache=cache,
                              after_state=booter.after_state)  # fmt: skip
    return report, booter


def test_a_cached_build_brings_the_tail_of_its_log_into_the_new_results(tmp_path: Path) -> None:
    tree, series = _project(tmp_path, [_diff(1), _diff(2)], {"guest": "CONFIG_X86_64=y\n"})
    cold = _build(tree, series, tmp_path / "r1", VerdictCache())
    warm = _build(tree, series, tmp_path / "r2", VerdictCache())
    assert all(r.cached for r in warm.results)
    for before, after in zip(cold.results, warm.results, strict=True):
        assert after.log.is_relative_to(tmp_path / "r2") and after.log.is_file()
        text = after.log.read_text()
        assert text.startswith("[patchkit: build verdict cached from ") and str(tmp_path / "r1") in text.splitlines()[0]
        assert text.endswith(before.log.read_text())  # the whole log, it being short
    data = warm.to_json_data(tmp_path / "r2")
    assert [r["log"] for r in data["results"]] == ["build/guest/00-base.log", "build/guest/01-patch-1.log",
                                                   "build/guest/02-patch-2.log"]  # fmt: skip


def test_a_cached_boot_brings_its_console_into_the_new_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    tree, series = _project(tmp_path, [_diff(1)], {"guest": "CONFIG_X86_64=y\n"})
    _build(tree, series, tmp_path / "r0", VerdictCache(enabled=False))  # applied; nothing cached yet
    _, cold = _build_and_boot(tree, series, tmp_path / "r1", VerdictCache())
    assert [(b.ok, bool(b.cached)) for b in cold.report.boots] == [(True, False)]
    (tmp_path / "bin" / "qemu-system-x86_64").unlink()  # a second boot would now fail: the verdict must be reused
    _, warm = _build_and_boot(tree, series, tmp_path / "r2", VerdictCache())
    boot = warm.report.boots[0]
    assert boot.ok and boot.cached.startswith("cached from ")
    assert boot.console == tmp_path / "r2" / "boot" / "guest-01-patch-1.console.log"
    console = boot.console.read_text()
    assert CONSOLE_LINE in console and MARKER in console
    assert console.splitlines()[0].startswith("[patchkit: boot verdict cached from ")
    assert boot.to_json_data(tmp_path / "r2")["console"] == "boot/guest-01-patch-1.console.log"


def test_evidence_is_bounded_and_under_the_entry_checksum(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "verdicts")
    key = make_key("build", n=1)
    long = "".join(f"line {n}\n" for n in range(100_000))  # ~690 KiB
    cache.put(key, "build", {"status": "ok"}, "r1", {"log": long})
    kept = cache.get(key)
    assert kept is not None
    evidence = kept.evidence["log"]
    assert len(evidence.encode()) <= MAX_EVIDENCE_BYTES + 100 and evidence.endswith("line 99999\n")
    assert evidence.startswith("[patchkit: the first ") and "line 0\n" not in evidence
    assert BUILD_LOG_TAIL <= MAX_EVIDENCE_BYTES
    entry = next((tmp_path / "verdicts").glob("??/*.json"))
    data = json.loads(entry.read_text())
    data["verdict"]["evidence"]["log"] = "line 99999\n"  # evidence that proves something else: refused
    entry.write_text(json.dumps(data))
    warnings: list[str] = []
    assert VerdictCache(tmp_path / "verdicts", warn=warnings.append).get(key) is None
    assert warnings and "corrupt or truncated; ignored" in warnings[0]
