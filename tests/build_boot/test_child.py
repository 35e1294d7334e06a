"""Children are stopped for sure: at the timeout, when a handler says so, and on Ctrl-C."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from patchkit.errors import EnvironmentProblem
from patchkit.kbuild.child import run_logged


def _running_with(tag: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if tag.encode() in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def _family(tag: str) -> list[str]:
    # A shell that leaves a grandchild behind, as make leaves compilers.
    return ["sh", "-c", f"echo started {tag}; sleep 300 & sleep 301; : {tag}", tag]


def test_timeout_stops_the_whole_process_group_and_keeps_the_log(tmp_path: Path) -> None:
    tag = f"patchkit-test-{uuid.uuid4().hex}"
    log = tmp_path / "child.log"
    result = run_logged(_family(tag), log, timeout=1.0)
    assert result.timed_out and result.returncode is None
    assert f"started {tag}" in log.read_text()
    assert _running_with(tag) == []


def test_a_handler_can_stop_the_child_early(tmp_path: Path) -> None:
    tag = f"patchkit-test-{uuid.uuid4().hex}"
    result = run_logged(_family(tag), tmp_path / "child.log", timeout=60, on_line=lambda line: "started" in line)
    assert result.stopped_by_handler and not result.timed_out
    assert _running_with(tag) == []


def test_interrupt_stops_the_children_and_propagates(tmp_path: Path) -> None:
    tag = f"patchkit-test-{uuid.uuid4().hex}"

    def interrupt(line: str) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_logged(_family(tag), tmp_path / "child.log", timeout=60, on_line=interrupt)
    assert _running_with(tag) == []


def test_exit_status_and_output_are_kept(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    result = run_logged(["sh", "-c", "echo one; echo two >&2; exit 3"], log)
    assert result.returncode == 3 and not result.timed_out
    assert log.read_text().splitlines() == ["one", "two"]


def test_an_unterminated_last_line_is_logged_once(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    seen: list[str] = []

    def remember(line: str) -> bool:
        seen.append(line)
        return False  # keep going

    run_logged(["sh", "-c", "printf 'a\\nb\\npartial'"], log, on_line=remember)
    assert log.read_text() == "a\nb\npartial"
    assert seen == ["a", "b", "partial"]


@pytest.mark.parametrize("output", ["echo small", "yes | head -c 200000"])
def test_a_full_disk_under_the_log_is_a_clear_error_and_stops_the_child(output: str) -> None:
    tag = f"patchkit-full-{uuid.uuid4().hex}"
    # /dev/full fails every write with ENOSPC, as a full build directory does.
    with pytest.raises(EnvironmentProblem) as caught:
        run_logged(["sh", "-c", f"{output}; sleep 30; : {tag}", tag], Path("/dev/full"))
    assert caught.value.message == "/dev/full: no space left on device"
    assert caught.value.exit_code == 8
    assert not _running_with(tag)
