"""The ``patchkit`` command's launcher: Python starts with SIGINT and SIGTERM already held.

:mod:`patchkit.cli.entry` blocks both signals while patchkit's modules load and
delivers a held one once its handlers are in place (exit 130, one line). But
before ``entry.main`` runs, the interpreter starts (its ``site`` imports, an
editable install's finder, the console script's own imports): tens of
milliseconds, hundreds on a loaded machine, in which SIGTERM's default action
kills the process outright (exit -15). No Python code can close that window;
only a process that starts Python with the signals blocked can (a blocked
signal stays pending across ``exec``).

So ``setup.sh`` runs ``python -m patchkit.cli.launcher`` after installing, which

- points the console script's ``#!`` line at ``env --block-signal=INT
  --block-signal=TERM <python>`` (GNU coreutils' env; only when it has that
  option): from then on only env's own start, well under a millisecond, is
  unprotected; and
- for ``python -m patchkit`` (which no launcher starts), puts a one-line
  ``.pth`` hook into the environment's site-packages that blocks both signals
  when the interpreter was started as ``python -m patchkit``, before any other
  ``.pth`` file (an editable install's finder) runs.

Both are idempotent; the console script keeps working unchanged where env lacks
the option.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from patchkit.errors import PatchkitError, UsageError
from patchkit.util import atomic, proc

ENV = "/usr/bin/env"
BLOCK = ("--block-signal=INT", "--block-signal=TERM")
MAX_SHEBANG = 255  # what Linux reads of a #! line (BINPRM_BUF_SIZE, 256 bytes from Linux 5.1 on)
HOOK_NAME = "00-patchkit-signals.pth"
# A .pth line that starts with "import" is run by site.py; it must stay one line.
HOOK = (
    "import signal, sys; sys.orig_argv[1:3] == ['-m', 'patchkit'] and "
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})\n"
)


def env_blocks_signals(env: str = ENV) -> bool:
    """Whether ``env`` can start a program with signals blocked (coreutils 8.31 and later)."""
    if not Path(env).is_file():
        return False
    return proc.run([env, *BLOCK, "true"], timeout=30).returncode == 0


def shebang(python: str) -> str:
    return f"#!{ENV} -S {' '.join(BLOCK)} {python}\n"


def rewrite_console_script(script: Path, python: str) -> bool:
    """Point ``script``'s ``#!`` line at env with the signals blocked; whether it changed anything."""
    text = script.read_text(encoding="utf-8")
    first, newline, rest = text.partition("\n")
    wanted = shebang(python)
    if first + newline == wanted:
        return False
    if not first.startswith("#!") or "python" not in first:
        raise UsageError(f"{script}: not a Python console script (its first line is {first!r}); left alone")
    atomic.write_text(script, wanted + rest)  # a kill leaves the old script or the new one (its mode kept)
    return True


def install_hook(site_packages: Path) -> bool:
    """Write the ``python -m patchkit`` hook into ``site_packages``; whether it changed anything."""
    hook = site_packages / HOOK_NAME
    if hook.is_file() and hook.read_text(encoding="utf-8") == HOOK:
        return False
    # half a line would be a SyntaxError that site.py prints at every start; 0644 as pip leaves its files
    atomic.write_text(hook, HOOK, 0o644)
    return True


def main() -> int:
    """Set both up for this environment; a problem is said, not fatal (the command works without them)."""
    try:
        return _install()
    except (PatchkitError, OSError) as exc:
        print(f"launcher: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1


def _install() -> int:
    # Only this environment's own script: one found on PATH may belong to another Python.
    script = Path(sysconfig.get_path("scripts")) / "patchkit"
    python = sys.executable
    if not script.is_file():
        print(f"launcher: no {script}; install patchkit into this environment first", file=sys.stderr)
        return 1
    if env_blocks_signals() and len(shebang(python)) <= MAX_SHEBANG:
        changed = rewrite_console_script(script, python)
        print(f"launcher: {script} {'now starts' if changed else 'starts'} Python with SIGINT and SIGTERM held")
    else:
        print(f"launcher: {ENV} has no --block-signal (or the #! line would be too long); {script} left as pip "
              "wrote it")  # fmt: skip
    changed = install_hook(Path(sysconfig.get_path("purelib")))
    print(f"launcher: 'python -m patchkit' holds them from site start-up{' (hook written)' if changed else ''}")
    return 0


if __name__ == "__main__":
    main()  # only patchkit.cli.main exits; setup.sh goes on either way
