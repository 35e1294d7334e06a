"""Real builds and boots of a small series on Debian's 6.1 tree (slow: one cold build, then increments).

One module fixture applies the demo series (two patches and a test-only
overlay) to the session's real tree and runs `patchkit verify --no-lint` once;
the other tests reuse its work tree and ccache, so each adds only incremental
builds. Set
PATCHKIT_TEST_BUILD_CACHE to a directory to keep that cache between sessions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from patchkit.apply.engine import apply_series
from patchkit.apply.record import require_record
from patchkit.apply.states import series_states
from patchkit.boot import initramfs, qemu
from patchkit.cli.commands.build import finish
from patchkit.errors import BuildError, DataError
from patchkit.kbuild.walk import build_states
from patchkit.kbuild.worktree import WorkTree
from patchkit.series.load import load_series
from patchkit.tree.repo import KernelTree
from tests.helpers import PINNED_ENV, SharedRealTree, patchkit_argv, process_env, valid_report, write_series

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

DATA = Path(__file__).resolve().parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]
OVERLAY_LINE = "patchkit-demo: hello from patch 1 and the overlay"


def _patch(subject: str, diff: str, **extra: object) -> dict[str, object]:
    return {
        "subject": subject,
        "author": {"name": "Demo Author", "email": "demo@example.org"},
        "date": "2026-11-25T06:00:00+00:00",
        "trailers": ["Signed-off-by: Demo Author <demo@example.org>"],
        "diff": diff,
        **extra,
    }


def _write_demo(directory: Path, name: str, base_tree: str, patches: list[tuple[str, str, bool]],
                configs: list[dict[str, object]], fragments: dict[str, str]) -> Path:  # fmt: skip
    data: dict[str, object] = {
        "name": name,
        "revision": 1,
        "subject_prefix": "PATCH",
        "base": {"package": "linux-source-6.1", "version": "6.1.192", "tree": base_tree},
        "configs": configs,
        "patches": [
            _patch(subject, diff, **({"overlay": True} if overlay else {})) for subject, diff, overlay in patches
        ],
    }
    diffs = {diff: (DATA / diff).read_text() for _, diff, _ in patches}
    write_series(directory, data, diffs)
    for file_name, text in fragments.items():
        (directory / file_name).parent.mkdir(parents=True, exist_ok=True)
        (directory / file_name).write_text(text)
    return directory


@dataclass
class Demo:
    cache: Path  # XDG_CACHE_HOME for every patchkit run in this module
    tree: Path
    project: Path
    base_tree: str
    verify: subprocess.CompletedProcess[str]
    results: Path
    image: Path  # a copy of the end state's bzImage

    def env(self) -> dict[str, str]:
        return process_env(**PINNED_ENV, XDG_CACHE_HOME=str(self.cache), GIT_CONFIG_GLOBAL=os.devnull, CI="1")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        # A process of its own, as in CI: these runs take minutes, and the Ctrl-C test needs one anyway.
        return subprocess.run(patchkit_argv(*args), cwd=self.project, env=self.env(),
                              capture_output=True, text=True, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def demo(shared_real_tree: SharedRealTree, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo applied and verified once (the one cold build); the session's real tree is this module's."""
    chosen = os.environ.get("PATCHKIT_TEST_BUILD_CACHE")
    cache = Path(chosen) if chosen else tmp_path_factory.mktemp("build-cache")
    session = tmp_path_factory.mktemp("demo")
    clone = shared_real_tree.reset()
    base_tree = subprocess.run(["git", "-C", str(clone), "rev-parse", "patchkit-base^{tree}"], capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
    project = session / "project"
    _write_demo(
        project / "series" / "demo", "demo", base_tree,
        [("init: Say hello from the demo series", "hello.diff", False),
         ("x86/tdx: Document TDX_HYPERCALL_STANDARD", "tdx-comment.diff", False),
         ("init: Test-only: mention the overlay", "overlay.diff", True)],
        [{"name": "guest", "fragment": "kconfig/guest.config", "boot": {"expect": [f"^{OVERLAY_LINE}$"]}}],
        {"kconfig/guest.config": (DATA / "guest.config").read_text()},
    )  # fmt: skip
    partial = Demo(cache, clone, project, base_tree, subprocess.CompletedProcess([], 0), session, session)
    applied = partial.cli("apply", "demo", "--tree", str(clone))
    assert applied.returncode == 0, applied.stderr
    verify = partial.cli("verify", "demo", "--tree", str(clone), "--no-lint")
    match = re.search(r"^results: (.+)$", verify.stdout, re.MULTILINE)
    assert match, verify.stdout + verify.stderr
    results = Path(match.group(1))
    image = session / "bzImage"
    built = cache / "patchkit" / "work" / "demo" / "out" / "guest" / "arch/x86/boot/bzImage"
    if built.is_file():
        shutil.copy(built, image)
    return Demo(cache, clone, project, base_tree, verify, results, image)


def test_verify_builds_every_state_and_boots_the_overlay(demo: Demo) -> None:
    out = demo.verify.stdout
    assert demo.verify.returncode == 0, out + demo.verify.stderr
    table = out[out.index("state ") :].splitlines()
    assert table[0].split()[:4] == ["state", "lint", "build:guest", "boot:guest"]
    rows = {line.split("  ")[0].strip(): line for line in table[1:5]}
    assert set(rows) == {"base", "patch 1", "patch 2", "overlay"}
    assert all(" ok" in row for row in rows.values())
    assert rows["overlay"].split()[2:4] == ["ok", "ok"]  # build and boot of the overlay state
    assert "boot: using " in out  # which accelerator, and why
    assert f"verify: passed; results in {demo.results}" in out
    report = (demo.results / "report.json").read_text()
    assert '"status": "failed"' not in report
    console = next((demo.results / "boot").glob("guest-*-overlay.console.log")).read_text()
    assert OVERLAY_LINE in console and initramfs.MARKER in console
    branch_log = subprocess.run(["git", "-C", str(demo.tree), "log", "--format=%s", "patchkit/demo/v1"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "mention the overlay" not in branch_log  # built and booted, never on the branch


def test_fragment_options_ended_up_in_the_config(demo: Demo) -> None:
    config = (demo.cache / "patchkit/work/demo/out/guest/.config").read_text()
    for line in (DATA / "guest.config").read_text().splitlines():
        assert line in config.splitlines()


def test_patch_states_rebuild_only_what_the_patch_touched(demo: Demo) -> None:
    logs = demo.results / "build" / "guest"
    patch1 = (logs / "01-patch-1.log").read_text()
    patch2 = (logs / "02-patch-2.log").read_text()
    compiled1 = re.findall(r"^  CC      (\S+)", patch1, re.MULTILINE)
    compiled2 = re.findall(r"^  CC      (\S+)", patch2, re.MULTILINE)
    assert "init/main.o" in compiled1
    assert "arch/x86/coco/tdx/tdx.o" in compiled2  # the header the patch changed reached its users
    assert len(compiled1) < 40 and len(compiled2) < 80
    if not os.environ.get("PATCHKIT_TEST_BUILD_CACHE"):
        base = (logs / "00-base.log").read_text()
        assert len(re.findall(r"^  CC      ", base, re.MULTILINE)) > 300  # the cold build really built


def test_a_panic_is_a_boot_failure_with_the_excerpt(demo: Demo) -> None:
    # /bin/echo as init exits at once: the kernel panics ("Attempted to kill init").
    result = demo.cli("boot", "demo", "--tree", str(demo.tree), "--cmdline", "rdinit=/bin/echo", "--timeout", "60")
    assert result.returncode == 6, result.stdout + result.stderr
    assert "did not boot: panic: Kernel panic - not syncing: Attempted to kill init!" in result.stderr
    assert "| Kernel panic - not syncing" in result.stdout
    console = Path(re.search(r"console: (\S+)$", result.stderr).group(1))  # type: ignore[union-attr]
    assert "Attempted to kill init" in console.read_text()


def test_a_hang_is_killed_at_the_timeout_and_the_console_kept(demo: Demo, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(demo.cache))
    image = tmp_path / "bzImage-hang"
    shutil.copy(demo.image, image)
    console = tmp_path / "hang.console.log"
    # /bin/sleep 600 as init: the kernel is fine, userspace never reaches the marker.
    result = qemu.boot("guest", "overlay", image, initramfs.initramfs(), console, accel="tcg",
                       extra_cmdline="rdinit=/bin/sleep 600", timeout=15)  # fmt: skip
    assert not result.ok
    assert result.reason == "no userspace marker within 15 s (killed at the timeout)"
    assert "Run /bin/sleep as init process" in console.read_text()
    assert not _processes_mentioning(str(image))


def test_a_broken_patch_is_named_with_the_compiler_error(demo: Demo, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(demo.cache))
    directory = _write_demo(
        tmp_path / "series" / "demo-broken", "demo-broken", demo.base_tree,
        [("init: Say hello from the demo series", "hello.diff", False),
         ("x86/tdx: Add an unused variable", "unused-variable.diff", False),
         ("x86/tdx: Break the build on purpose", "broken.diff", False)],
        [{"name": "guest", "fragment": "guest.config"}],
        {"guest.config": (DATA / "guest.config").read_text()},
    )  # fmt: skip
    series = load_series(directory)
    tree = KernelTree(demo.tree)
    apply_series(tree, series)
    record = require_record(tree, series.name)
    work = WorkTree(tree, "demo")  # the demo's build directories: only increments to build
    with work.locked():
        report = build_states(tree, series, record, list(series.configs), tmp_path / "results", work=work)
    failure = report.first_failure
    assert failure is not None
    assert failure.state.label == "patch 3"
    assert "error: 'patchkit_undeclared' undeclared" in failure.excerpt
    assert failure.error.startswith("arch/x86/coco/tdx/tdx.c:")
    patch2 = report.result("guest", 2)
    assert patch2 is not None and patch2.status == "ok"
    assert [(w.file, w.flag) for w in patch2.new_warnings] == [("arch/x86/coco/tdx/tdx.c", "-Wunused-variable")]
    assert "patchkit_unused" in patch2.new_warnings[0].message
    with pytest.raises(BuildError) as caught:
        finish(report, tmp_path / "results")
    assert caught.value.exit_code == 5
    assert caught.value.message.startswith(
        "patch 3 (x86/tdx: Break the build on purpose) is the first that does not build (config guest): "
        "arch/x86/coco/tdx/tdx.c:"
    )


def test_a_fragment_option_that_does_not_exist_is_named(demo: Demo, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(demo.cache))
    directory = _write_demo(
        tmp_path / "series" / "demo-bogus", "demo-bogus", demo.base_tree,
        [("init: Say hello from the demo series", "hello.diff", False)],
        [{"name": "bogus", "fragment": "bogus.config"}],
        {"bogus.config": "CONFIG_64BIT=y\nCONFIG_PATCHKIT_NO_SUCH_OPTION=y\n"},
    )  # fmt: skip
    series = load_series(directory)
    tree = KernelTree(demo.tree)
    apply_series(tree, series, force=True)
    record = require_record(tree, series.name)
    work = WorkTree(tree, "demo")
    states = series_states(record)
    with work.locked(), pytest.raises(DataError) as caught:
        build_states(tree, series, record, list(series.configs), tmp_path / "results", states=states[-1:], work=work)
    assert caught.value.exit_code == 3
    assert caught.value.message == (
        f"{directory / 'bogus.config'}: config bogus asks for CONFIG_PATCHKIT_NO_SUCH_OPTION=y, "
        "but no Kconfig file defines PATCHKIT_NO_SUCH_OPTION at patch 1"
    )


def test_ctrl_c_during_a_build_stops_make_and_exits_130(demo: Demo) -> None:
    work_dir = str(demo.cache / "patchkit" / "work" / "demo")
    # --fresh: the demo's verdicts are cached by now, and this test needs make to run.
    child = subprocess.Popen(patchkit_argv("build", "demo", "--tree", str(demo.tree), "--fresh"),
                             cwd=demo.project, env=demo.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("[build") or line.startswith("[configure"):
            break
    # Wait until make is really running under the work directory, then interrupt.
    for _ in range(100):
        if _processes_mentioning(work_dir):
            break
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert not _processes_mentioning(work_dir)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _verify_table(out: str) -> list[str]:
    """The table's cells, whether or not a verdict came from the cache (its "(c)" mark and legend dropped)."""
    block = re.search(r"^state .*?(?=\n\n)", out, re.MULTILINE | re.DOTALL)
    assert block, out
    lines = [line for line in block.group(0).splitlines() if not line.startswith("((c)")]
    return [re.sub(r"\s+", " ", line.replace(" (c)", "")).strip() for line in lines]


def test_two_ranges_merged_equal_the_single_run(demo: Demo, tmp_path: Path) -> None:
    """The CI matrix's split (verify --states, then ci merge) gives the single run's table and exit code."""
    assert demo.verify.returncode == 0, demo.verify.stdout + demo.verify.stderr
    common = ["verify", "demo", "--tree", str(demo.tree), "--no-lint", "--config", "guest"]
    first = demo.cli(*common, "--states", "base..1", "--results", str(tmp_path / "first"))
    second = demo.cli(*common, "--states", "2..overlay", "--results", str(tmp_path / "second"))
    assert first.returncode == 0 and second.returncode == 0, first.stdout + second.stdout + second.stderr
    part = json.loads((tmp_path / "second" / "report.json").read_text())
    assert part["scope"]["states"] == [2, 3]
    assert [r["state"] for r in part["build"]["results"]] == ["patch 1", "patch 2", "overlay"]  # 1: the warm-up
    assert [b["state"] for b in part["boot"]["boots"]] == ["overlay"]
    # the plan these two jobs are (ci matrix --no-lint --split 2): what the merge expects of them
    planned = demo.cli("ci", "matrix", "demo", "--no-lint", "--split", "2")
    assert planned.returncode == 0, planned.stderr
    jobs = json.loads(planned.stdout)["include"]
    assert [(j["states"], j["args"].split("--states ")[-1]) for j in jobs] == [("0..1", "0..1"), ("2..3", "2..3")]
    (tmp_path / "matrix.json").write_text(planned.stdout)
    merged = demo.cli("ci", "merge", str(tmp_path / "first"), str(tmp_path / "second"), "--expect",
                      str(tmp_path / "matrix.json"))  # fmt: skip
    assert merged.returncode == demo.verify.returncode, merged.stdout + merged.stderr
    assert _verify_table(merged.stdout) == _verify_table(demo.verify.stdout)
    assert "verify (merged): passed" in merged.stdout
    # without the plan, a merge expects what one whole verify covers: lint too, which no job ran
    whole = demo.cli("ci", "merge", str(tmp_path / "first"), str(tmp_path / "second"))
    assert whole.returncode == 1 and "FAILED: not covered by any report: lint" in whole.stdout, whole.stdout
    # and a plan's job that did not report is named
    lost = demo.cli("ci", "merge", str(tmp_path / "first"), "--expect", str(tmp_path / "matrix.json"))
    assert lost.returncode == 1, lost.stdout + lost.stderr
    assert (
        "build guest at patch 2..overlay (job demo-guest-2-3); boot guest at overlay (job demo-guest-2-3)"
        in lost.stdout
    )


def _build_cached(report: Path) -> dict[str, bool]:
    results = json.loads(report.read_text())["build"]["results"]
    return {result["state"]: bool(result.get("cached")) for result in results}


def test_the_verdict_cache_reuses_unchanged_states_and_rebuilds_from_a_changed_patch_on(
    demo: Demo, tmp_path: Path
) -> None:
    """The demo's v2 changes only patch 2's comment: base and patch 1 are cache hits, patch 2 and the overlay build."""
    assert demo.verify.returncode == 0, demo.verify.stdout + demo.verify.stderr
    again = demo.cli("verify", "demo", "--tree", str(demo.tree), "--no-lint", "--results", str(tmp_path / "again"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert _build_cached(tmp_path / "again" / "report.json") == {
        "base": True, "patch 1": True, "patch 2": True, "overlay": True}  # fmt: skip
    assert "boot guest overlay ok cached" in re.sub(r"\s+", " ", again.stdout + again.stderr)  # shown as a hit
    # The cached boot's console (the evidence of the probe line) is in this run's results, not only in the first's
    report = valid_report(tmp_path / "again" / "report.json")
    console = tmp_path / "again" / report["boot"]["boots"][0]["console"]
    assert console.is_relative_to(tmp_path / "again") and report["boot"]["boots"][0]["cached"]
    assert OVERLAY_LINE in console.read_text() and initramfs.MARKER in console.read_text()
    assert all((tmp_path / "again" / r["log"]).is_file() for r in report["build"]["results"])

    project = tmp_path / "project"
    shutil.copytree(demo.project, project)
    series_file = project / "series" / "demo" / "series.yaml"
    series_file.write_text(series_file.read_text().replace("revision: 1", "revision: 2", 1))
    diff = project / "series" / "demo" / "tdx-comment.diff"
    diff.write_text(diff.read_text().replace("(see the GHCI spec)", "(as the GHCI spec defines it)"))
    v2 = Demo(demo.cache, demo.tree, project, demo.base_tree, demo.verify, demo.results, demo.image)
    applied = v2.cli("apply", "demo", "--tree", str(demo.tree))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    verify = v2.cli("verify", "demo", "--tree", str(demo.tree), "--no-lint", "--results", str(tmp_path / "v2"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert _build_cached(tmp_path / "v2" / "report.json") == {
        "base": True, "patch 1": True, "patch 2": False, "overlay": False}  # fmt: skip
    boots = json.loads((tmp_path / "v2" / "report.json").read_text())["boot"]["boots"]
    assert [(boot["state"], bool(boot.get("cached"))) for boot in boots] == [("overlay", False)]  # a new image
