"""Faults around the data: a missing git, an unwritable cache, early signals, two runs at once, SIGKILL.

Where what is tested is the process itself (its imports, signals, locks and
death), patchkit runs as a separate process, as a user runs it; elsewhere the
real command line runs in this process, which is much faster.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import yaml

from patchkit.apply.statedir import INTENT
from tests.helpers import (
    DIFF_README,
    GitTree,
    Project,
    fake_kernel_files,
    patchkit_argv,
    process_env,
    run_process,
    small_series_data,
    write_many_patch_series,
    write_series,
)
from tests.robustness.corpus import full_snapshot

INTERRUPTED_LINE = "patchkit: interrupted; nothing was left half done"


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---- missing tools, unwritable places ------------------------------------------------------------------------


def test_git_missing_from_path_is_exit_7_naming_the_package(project: Project, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    before = full_snapshot(project.tree)
    result = project.cli("apply", "--tree", str(project.tree.path), env={"PATH": str(empty)})
    assert result.code == 7, result.err
    assert one_line(result.err) == "patchkit: error: 'git' is not installed (install it with: apt-get install git)"
    assert full_snapshot(project.tree) == before


def _with_package_version(project: Project) -> None:
    project.mutate(lambda d: d["base"].update(package_version="6.1.99-1"))


def test_cache_under_a_regular_file_is_exit_8_naming_the_path(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_package_version(project)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache should be\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    result = project.cli("apply")
    assert result.code == 8, result.err
    line = one_line(result.err)
    assert line.startswith(f"patchkit: error: {blocker}/cache/patchkit/trees"), line
    assert "a directory above it, is a file" in line  # what is in the way, said plainly
    assert blocker.read_text() == "a file where the cache should be\n"


def _read_only_mount_prefix(directory: Path) -> tuple[str, ...]:
    """Run the command in a private mount namespace where ``directory`` is mounted read-only."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    probe = subprocess.run(["unshare", "-m", "sh", "-c", script, str(directory), "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private read-only mount here: {probe.stderr.decode(errors='replace').strip()}")
    return ("unshare", "-m", "sh", "-c", script, str(directory))


def test_read_only_cache_is_exit_8_naming_the_path(project: Project, tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    _with_package_version(project)
    cache = tmp_path / "ro-cache"
    cache.mkdir()
    prefix = _read_only_mount_prefix(cache)
    result = run_process("apply", cwd=project.root, env={"XDG_CACHE_HOME": str(cache)}, prefix=prefix)
    assert result.code == 8, result.err
    line = one_line(result.err)
    assert line.startswith(f"patchkit: error: {cache}/patchkit/trees"), line
    assert "Read-only file system" in line
    assert list(cache.iterdir()) == []


# ---- signals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_startup_is_130_and_one_line(project: Project, signum: int) -> None:
    """A signal that arrives while the interpreter and patchkit's modules load waits, then ends the run cleanly.

    The child starts with the signal blocked (as it is, by patchkit itself, during its imports), the test
    sends it at once, and patchkit must deliver it to itself once its handlers are in place.
    """
    before = full_snapshot(project.tree)
    child = subprocess.Popen(
        patchkit_argv("apply", "--tree", str(project.tree.path)),
        cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=process_env(),
        preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}),
    )  # fmt: skip
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert err.strip() == INTERRUPTED_LINE
    assert out == ""
    assert full_snapshot(project.tree) == before


# ---- two processes ---------------------------------------------------------------------------------------------


@contextmanager
def holding(lock: Path) -> Iterator[None]:
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_apply_waits_for_the_first_and_says_so(project: Project, tmp_path: Path) -> None:
    tree = project.tree
    err_file = tmp_path / "stderr"
    with holding(tree.path / ".git" / "patchkit" / "apply.lock"), err_file.open("w") as err:
        child = subprocess.Popen(
            patchkit_argv("apply", "--tree", str(tree.path)),
            cwd=project.root, stdout=subprocess.DEVNULL, stderr=err, env=process_env(),
        )  # fmt: skip
        _wait_for(lambda: "waiting" in err_file.read_text())
        assert err_file.read_text() == (
            "patchkit: waiting for another patchkit process that is applying a series to this tree "
            f"({tree.path / '.git' / 'patchkit' / 'apply.lock'})\n"
        )
        time.sleep(0.3)
        assert child.poll() is None  # still waiting
        assert tree.git("branch", "--list", "patchkit/*") == ""
    assert child.wait(timeout=120) == 0
    assert tree.git("symbolic-ref", "--short", "HEAD").strip() == "patchkit/demo/v1"


def test_two_applies_at_once_take_turns(project: Project) -> None:
    tree = project.tree
    argv = patchkit_argv("apply", "--tree", str(tree.path))
    env, pipe = process_env(), subprocess.PIPE
    children = [
        subprocess.Popen(argv, cwd=project.root, stdout=pipe, stderr=pipe, text=True, env=env) for _ in range(2)
    ]
    outcomes = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], outcomes
    assert tree.git("status", "--porcelain") == ""
    record = json.loads((tree.path / ".git/patchkit/demo.json").read_text())
    assert record["patches"][-1]["commit"] == tree.head()
    assert not list((tree.path / ".git").glob("*.lock"))


def test_a_build_of_a_series_already_building_is_refused(project: Project, hermetic_env: Path) -> None:
    project.apply()
    _add_config(project)
    with holding(hermetic_env / ".cache" / "patchkit" / "work" / "demo" / "lock"):
        result = project.cli("build", "--tree", str(project.tree.path))
    assert result.code == 4, result.err
    assert one_line(result.err).endswith("another patchkit build or boot of this series is running; wait for it")


# ---- exit 5 without a kernel -----------------------------------------------------------------------------------

COMPILE_ERROR = "echo \"arch/x86/coco/tdx/tdx.c:5:9: error: 'answer' undeclared\" >&2; exit 2"
NOT_A_KERNEL = "mkdir -p $(O)/arch/x86/boot && printf 'not a kernel' > $(O)/arch/x86/boot/bzImage"


def _add_config(project: Project) -> None:
    (project.series / "guest.config").write_text("CONFIG_X86_64=y\n")
    project.mutate(lambda d: d.update(configs=[{"name": "guest", "fragment": "guest.config"}]))


def _fake_kernel_project(root: Path, all_recipe: str) -> Project:
    """A tree whose Makefile configures in no time, then runs ``all_recipe`` as its build; one applied patch."""
    files = {**fake_kernel_files(all_recipe), "README": "tiny tree\n"}
    tree = GitTree(root / "linux")
    tree.path.mkdir()
    tree.git("init", "-q", "-b", "main")
    tree.write(files)
    (tree.path / "scripts/kconfig/merge_config.sh").chmod(0o755)
    tree.git("add", "-A")
    tree.git("commit", "-q", "-m", "base")
    tree.git("tag", "patchkit-base")
    data = small_series_data(tree)
    data["patches"] = data["patches"][:1]  # type: ignore[index]
    project = Project(root / "project", tree)
    write_series(project.series, data, {"0001-readme.diff": DIFF_README})
    _add_config(project)
    return project


def test_a_failing_build_is_exit_5_naming_the_state_and_error(tmp_path: Path) -> None:
    """A tree whose Makefile configures and then fails to compile: exit 5 in a second, no kernel built."""
    project = _fake_kernel_project(tmp_path, COMPILE_ERROR)
    project.apply()
    result = project.cli("build", "--tree", str(project.tree.path))
    assert result.code == 5, result.err
    line = result.err.splitlines()[-1]
    assert line.startswith("patchkit: error: base is the first that does not build (config guest): ")
    assert "'answer' undeclared" in line


@pytest.mark.skipif(
    not (shutil.which("qemu-system-x86_64") and shutil.which("busybox")), reason="QEMU or busybox is not installed"
)
def test_a_kernel_that_does_not_boot_is_exit_6(tmp_path: Path) -> None:
    """The fake build's "kernel" is a few bytes of text: real QEMU refuses it, and boot says so (exit 6)."""
    project = _fake_kernel_project(tmp_path, NOT_A_KERNEL)
    project.apply()
    result = project.cli("boot", "--tree", str(project.tree.path), "--accel", "tcg", "--timeout", "20")
    assert result.code == 6, result.err
    line = result.err.splitlines()[-1]
    assert line.startswith("patchkit: error: config guest at patch 1 did not boot: QEMU exited before userspace"), line


# ---- crash recovery --------------------------------------------------------------------------------------------


def _dead_pid() -> int:
    finished = subprocess.run(["true"], check=True)
    assert finished.returncode == 0
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _intent(tree: GitTree, record: dict[str, object], *, started: float) -> Path:
    """The note an apply killed during its checkout leaves behind (its pid and its git's are gone)."""
    path = tree.path / ".git" / "patchkit" / INTENT
    path.parent.mkdir(parents=True, exist_ok=True)
    tip = record["patches"][-1]["commit"]  # type: ignore[index]
    intent = {
        "pid": _dead_pid(), "pid_start": 1, "started": started, "branch": "patchkit/demo/v1", "tip": tip,
        "from_commit": tree.git("rev-parse", "patchkit-base").strip(), "record": record,
        "git_pid": _dead_pid(), "git_start": 1,
    }  # fmt: skip
    path.write_text(json.dumps(intent))
    return path


def _applied_then_undone(project: Project) -> dict[str, object]:
    """Apply for real (to learn the record), then put the tree back as it was before."""
    tree = project.tree
    project.apply()
    record_path = tree.path / ".git/patchkit/demo.json"
    record: dict[str, object] = json.loads(record_path.read_text())
    tree.git("checkout", "-q", "main")
    tree.git("branch", "-q", "-D", "patchkit/demo/v1")
    record_path.unlink()
    return record


def _half_checkout(tree: GitTree, tip: str) -> None:
    """What a checkout killed halfway leaves: some files of the new state written, index and HEAD not yet."""
    (tree.path / "README").write_text(tree.git("show", f"{tip}:README"))
    (tree.path / "arch/x86/virt").mkdir(parents=True)
    (tree.path / "arch/x86/virt/Makefile").write_text(tree.git("show", f"{tip}:arch/x86/virt/Makefile"))
    (tree.path / ".git" / "index.lock").write_bytes(b"DIRC partial")


def test_an_apply_killed_during_checkout_is_finished_by_the_next_one(project: Project) -> None:
    tree = project.tree
    record = _applied_then_undone(project)
    tip = str(record["patches"][-1]["commit"])  # type: ignore[index]
    intent = _intent(tree, record, started=time.time() - 1)
    pid = json.loads(intent.read_text())["pid"]
    _half_checkout(tree, tip)
    result = project.cli("apply", "--tree", str(tree.path))
    assert result.code == 0, result.err
    lock = tree.path / ".git" / "index.lock"
    assert result.err.splitlines() == [
        f"patchkit: removed {lock}, left by an interrupted patchkit apply (pid {pid}) that was killed during its "
        "checkout",
        "patchkit: finished the switch to patchkit/demo/v1 that an interrupted patchkit apply "
        f"(pid {pid}) left half done",
    ]
    assert tree.git("symbolic-ref", "--short", "HEAD").strip() == "patchkit/demo/v1"
    assert tree.head() == tip
    assert tree.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not lock.exists() and not intent.exists()
    assert json.loads((tree.path / ".git/patchkit/demo.json").read_text()) == record


def test_a_lock_a_live_process_holds_is_never_removed(project: Project) -> None:
    tree = project.tree
    record = _applied_then_undone(project)
    _intent(tree, record, started=time.time() - 1)
    _half_checkout(tree, str(record["patches"][-1]["commit"]))  # type: ignore[index]
    lock = tree.path / ".git" / "index.lock"
    before = full_snapshot(tree)
    with lock.open("rb"):  # this test process now holds it, as a running git would
        result = project.cli("apply", "--tree", str(tree.path))
    assert result.code == 4, result.err
    assert one_line(result.err).startswith(f"patchkit: error: {lock} is held by a running process (pid {os.getpid()}")
    assert lock.read_bytes() == b"DIRC partial"
    assert full_snapshot(tree) == before


def test_a_lock_older_than_the_interrupted_apply_is_someone_elses(project: Project) -> None:
    tree = project.tree
    record = _applied_then_undone(project)
    started = time.time() - 1
    _intent(tree, record, started=started)
    _half_checkout(tree, str(record["patches"][-1]["commit"]))  # type: ignore[index]
    lock = tree.path / ".git" / "index.lock"
    os.utime(lock, (started - 3600, started - 3600))
    before = full_snapshot(tree)
    result = project.cli("apply", "--tree", str(tree.path))
    assert result.code == 4, result.err
    assert one_line(result.err) == (
        f"patchkit: error: {lock} is older than an interrupted patchkit apply (pid "
        f"{json.loads((tree.path / '.git/patchkit' / INTENT).read_text())['pid']}), so some other git process "
        "left it; remove it if no git process is running"
    )
    assert lock.exists()
    assert full_snapshot(tree) == before


def test_changes_the_interrupted_switch_does_not_explain_are_left_alone(project: Project) -> None:
    tree = project.tree
    record = _applied_then_undone(project)
    intent = _intent(tree, record, started=time.time() - 1)
    _half_checkout(tree, str(record["patches"][-1]["commit"]))  # type: ignore[index]
    (tree.path / "arch/x86/coco/tdx/tdx.c").write_text("/* the user's own edit */\n")
    (tree.path / ".git" / "index.lock").unlink()
    before = full_snapshot(tree)
    result = project.cli("apply", "--tree", str(tree.path))
    assert result.code == 4, result.err
    assert one_line(result.err) == (
        f"patchkit: error: {tree.path}: an interrupted patchkit apply (pid {json.loads(intent.read_text())['pid']}) "
        "left its switch to patchkit/demo/v1 half done, and the tree has changes in arch/x86/coco/tdx/tdx.c that "
        f"the switch does not explain; look at 'git status', then remove {intent}"
    )
    assert full_snapshot(tree) == before


def test_an_apply_killed_after_its_checkout_gets_its_record_written(project: Project) -> None:
    tree = project.tree
    project.apply()
    record_path = tree.path / ".git/patchkit/demo.json"
    record = json.loads(record_path.read_text())
    record_path.unlink()
    intent = _intent(tree, record, started=time.time() - 1)
    result = project.cli("status", "--tree", str(tree.path))
    assert result.code == 1  # no record: status cannot tell the branch matches
    result = project.cli("apply", "--tree", str(tree.path))
    assert result.code == 0, result.err
    pid = json.loads(intent.read_text())["pid"] if intent.exists() else None
    assert pid is None
    assert result.err.startswith("patchkit: an interrupted patchkit apply (pid ")
    assert "had switched to patchkit/demo/v1; its record is written now" in result.err
    assert json.loads(record_path.read_text()) == record
    assert project.cli("status", "--tree", str(tree.path)).code == 0


def test_sigkill_at_any_moment_is_recovered_by_the_next_apply(project: Project, tmp_path: Path) -> None:
    """Kill apply (and the checkout it started: a power cut) at moments spread over its run; rerun; all is well."""
    tree = project.tree
    shutil.rmtree(project.series)
    write_many_patch_series(project.series, tree, 20)
    reference = GitTree(tmp_path / "reference")
    subprocess.run(["git", "clone", "-q", str(tree.path), str(reference.path)], check=True)
    assert project.cli("apply", "--tree", str(reference.path)).code == 0
    tip = reference.head()
    intent = tree.path / ".git" / "patchkit" / INTENT
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = process_env(TMPDIR=str(scratch))
    for delay in (0.3, 0.7, 1.1):
        child = subprocess.Popen(
            patchkit_argv("apply", "--tree", str(tree.path)),
            cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
        )  # fmt: skip
        time.sleep(delay)
        with suppress(ProcessLookupError, ValueError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        if intent.exists():  # the checkout runs in a session of its own: a power cut would take it too
            with suppress(ProcessLookupError, ValueError):
                git_pid = json.loads(intent.read_text() or "{}").get("git_pid")
                if git_pid:
                    os.kill(git_pid, signal.SIGKILL)
        rerun = subprocess.run(
            patchkit_argv("apply", "--tree", str(tree.path)),
            cwd=project.root, capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr
        assert "Traceback" not in rerun.stderr
        assert tree.git("symbolic-ref", "--short", "HEAD").strip() == "patchkit/demo/v1"
        assert tree.head() == tip
        assert tree.git("status", "--porcelain", "--untracked-files=all") == ""
        assert not intent.exists()
        assert not list((tree.path / ".git").glob("*.lock"))
        assert not list((tree.path / ".git").glob("sharedindex.*"))
        assert list(scratch.iterdir()) == []  # private index directories of killed runs are cleaned too
        tree.git("fsck", "--no-dangling", "--no-progress")
        tree.git("checkout", "-q", "main")
        tree.git("branch", "-q", "-D", "patchkit/demo/v1")
        (tree.path / ".git/patchkit/demo.json").unlink()


# ---- nothing of patchkit's private index is left in .git -------------------------------------------------------


def test_nothing_of_killed_or_failed_applies_is_left_behind(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sharedindex.* or other file in .git, no half-written record, no private index directory."""
    tree = project.tree
    before = sorted(p.name for p in (tree.path / ".git").iterdir())
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    stale = scratch / f"patchkit-index-{_dead_pid()}-abcd"
    (stale / "git").mkdir(parents=True)
    live = scratch / f"patchkit-index-{os.getpid()}-efgh"
    live.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    project.set_diff(
        "diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1 @@\n-not there\n+x\n", "0003-bad.diff"
    )
    project.mutate(lambda d: d["patches"][1].update(diff="0003-bad.diff"))
    assert project.cli("apply", "--tree", str(tree.path)).code == 4
    assert sorted(p.name for p in (tree.path / ".git").iterdir()) == sorted([*before, "patchkit"])
    half_written = tree.path / ".git" / "patchkit" / ".demo.json.k1ll3d.tmp"
    half_written.write_text('{"series": "de')
    project.mutate(lambda d: d["patches"][1].update(diff="0002-makefile.diff"))
    project.apply()
    assert sorted(p.name for p in (tree.path / ".git").iterdir()) == sorted([*before, "patchkit"])
    assert sorted(p.name for p in (tree.path / ".git" / "patchkit").iterdir()) == ["apply.lock", "demo.json"]
    assert sorted(p.name for p in scratch.iterdir()) == [live.name]  # the dead run's directory is gone
    assert yaml.safe_load(project.yaml_path.read_text())["name"] == "demo"
