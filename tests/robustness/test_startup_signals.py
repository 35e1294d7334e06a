"""A signal while Python is still starting or importing ends the run as every interrupt does: 130, one line.

:mod:`patchkit.cli.launcher` makes the ``patchkit`` command start Python with SIGINT and SIGTERM blocked
(``env --block-signal``), and ``python -m patchkit`` block them from ``site`` start-up (a ``.pth`` hook),
so no moment of the interpreter's start is left in which SIGTERM's default action kills the process
(exit -15). Here real processes get SIGTERM at many offsets into their start, on a machine kept busy.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from patchkit.cli import launcher
from patchkit.errors import UsageError
from tests.helpers import Project, process_env

INTERRUPTED = "patchkit: interrupted; nothing was left half done"
HELD = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
OFFSETS = [0.0, 0.003, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4]


@contextmanager
def busy_machine() -> Iterator[None]:
    """Two processes spinning (the machine has two cores): start-up takes several times as long."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@contextmanager
def apply_lock_held(project: Project) -> Iterator[None]:
    """Hold the tree's apply lock, so that an apply, once started, waits (and only a signal ends it)."""
    lock = project.tree.path / ".git" / "patchkit" / "apply.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _blocked(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("SigBlk:"))
    return int(line.split()[1], 16)


def _sigterm_at_offsets(argv: list[str], project: Project) -> list[tuple[float, int, str]]:
    """Start ``argv`` for each offset; once its signals are held, wait the offset and send SIGTERM."""
    outcomes = []
    for offset in OFFSETS:
        child = subprocess.Popen(argv, cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, env=process_env())  # fmt: skip
        deadline = time.monotonic() + 30
        while _blocked(child.pid) & HELD != HELD:  # the launcher (or the hook) has done its part
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.0002)
        time.sleep(offset)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
        outcomes.append((offset, child.returncode, err))
    return outcomes


def _console_script(tmp_path: Path) -> Path:
    """The patchkit command as pip writes it, then as the launcher leaves it."""
    script = tmp_path / "bin" / "patchkit"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
        "from patchkit.cli.entry import main\nif __name__ == '__main__':\n    sys.exit(main())\n"
    )
    script.chmod(0o755)
    if not launcher.env_blocks_signals():
        pytest.skip("this env has no --block-signal (coreutils before 8.31)")
    assert launcher.rewrite_console_script(script, sys.executable)
    return script


def test_the_launcher_rewrites_only_the_shebang_and_only_once(tmp_path: Path) -> None:
    script = _console_script(tmp_path)
    lines = script.read_text().splitlines()
    assert lines[0] == f"#!/usr/bin/env -S --block-signal=INT --block-signal=TERM {sys.executable}"
    assert lines[1:] == ["# -*- coding: utf-8 -*-", "import re", "import sys", "from patchkit.cli.entry import main",
                         "if __name__ == '__main__':", "    sys.exit(main())"]  # fmt: skip
    assert not launcher.rewrite_console_script(script, sys.executable)  # idempotent
    assert script.stat().st_mode & 0o777 == 0o755 and sorted(script.parent.iterdir()) == [script]  # no temporary
    other = tmp_path / "other"
    other.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(UsageError, match="not a Python console script"):
        launcher.rewrite_console_script(other, sys.executable)
    assert other.read_text() == "#!/bin/sh\necho hi\n"


def test_python_starts_with_the_signals_already_held(tmp_path: Path) -> None:
    """From the first moment the process is Python (env has exec'd it), SIGINT and SIGTERM are held (until
    patchkit.cli.entry has its handlers in place and lets them through)."""
    script = _console_script(tmp_path)
    python = os.path.realpath(sys.executable)
    child = subprocess.Popen([str(script), "--version"], stdout=subprocess.DEVNULL, env=process_env())
    seen_python = []
    while child.poll() is None:
        try:
            exe = os.readlink(f"/proc/{child.pid}/exe")
            blocked = _blocked(child.pid)
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            break
        if exe == python:
            seen_python.append(blocked & HELD == HELD)
    assert child.wait() == 0
    assert seen_python and seen_python[0], seen_python[:5]
    assert seen_python[-1] is False  # let through once the handlers are in place


def test_sigterm_at_any_offset_into_the_commands_start_is_130(project: Project, tmp_path: Path) -> None:
    script = _console_script(tmp_path)
    with apply_lock_held(project), busy_machine():
        outcomes = _sigterm_at_offsets([str(script), "apply", "--tree", str(project.tree.path)], project)
    for offset, code, err in outcomes:
        assert code == 130, (offset, code, err)
        assert err.splitlines()[-1] == INTERRUPTED, (offset, err)
        assert "Traceback" not in err
    assert project.tree.git("branch", "--list", "patchkit/*") == ""


def test_sigterm_at_any_offset_into_python_m_patchkit_is_130(project: Project) -> None:
    hook = Path(sysconfig.get_path("purelib")) / launcher.HOOK_NAME
    if not hook.is_file():
        pytest.skip(f"no {hook} here: setup.sh writes it (python -m patchkit.cli.launcher)")
    with apply_lock_held(project), busy_machine():
        outcomes = _sigterm_at_offsets(
            [sys.executable, "-m", "patchkit", "apply", "--tree", str(project.tree.path)], project
        )
    for offset, code, err in outcomes:
        assert code == 130, (offset, code, err)
        assert err.splitlines()[-1] == INTERRUPTED, (offset, err)


def test_the_hook_holds_signals_only_for_patchkit(tmp_path: Path) -> None:
    """Any other program of the environment (pytest, pip) starts with its signals as they were."""
    site = tmp_path / "site"
    site.mkdir()
    assert launcher.install_hook(site) and not launcher.install_hook(site)
    assert [(p.name, p.stat().st_mode & 0o777) for p in site.iterdir()] == [(launcher.HOOK_NAME, 0o644)]
    code = "import signal; print(sorted(s.name for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))"
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", f"import site; site.addsitedir({str(site)!r}); {code}"],
                         capture_output=True, text=True, env=env, check=True)  # fmt: skip
    assert run.stdout.strip() == "[]"
