"""Test helpers: hermetic git trees and series directories built in tmp dirs, and patchkit's command line.

run_cli runs patchkit in this process through its real entry point; patchkit_argv, process_env and
run_process start it as a process of its own, for the few tests where the process is the point.
Every mail a successful ``format`` writes in a test is also handed to ``git send-email --dry-run``
(:func:`check_with_send_email`): the real tool judges every mail the tests make.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml
from click.testing import CliRunner

from patchkit.cli import entry

REPO_ROOT = Path(__file__).resolve().parent.parent

PINNED_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_AUTHOR_DATE": "2026-01-02T03:04:05+00:00",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.org",
    "GIT_COMMITTER_DATE": "2026-01-02T03:04:05+00:00",
    "LC_ALL": "C",
    "TZ": "UTC",
}

SMALL_FILES = {
    "Makefile": "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 99\nEXTRAVERSION =\n",
    "arch/x86/include/asm/tdx.h": (
        "#ifndef _ASM_X86_TDX_H\n#define _ASM_X86_TDX_H\n\n"
        "struct tdx_module_output {\n\tu64 rcx;\n\tu64 rdx;\n};\n\n#endif\n"
    ),
    "arch/x86/coco/tdx/tdx.c": "// SPDX-License-Identifier: GPL-2.0\n\nint tdx_answer(void)\n{\n\treturn 42;\n}\n",
    "README": "tiny tree\n",
}


@dataclass
class GitTree:
    path: Path

    def git(self, *args: str, input_text: str | None = None) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, input=input_text, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    @classmethod
    def create_small(cls, path: Path, files: dict[str, str] | None = None) -> GitTree:
        path.mkdir(parents=True)
        tree = cls(path)
        tree.git("init", "-q", "-b", "main")
        tree.write(files or SMALL_FILES)
        tree.git("add", "-A")
        tree.git("commit", "-q", "-m", "base")
        tree.git("tag", "patchkit-base")
        return tree

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def commit(self, message: str, files: dict[str, str], date: str = "2026-01-03T10:00:00+01:00") -> str:
        self.write(files)
        self.git("add", "-A")
        subprocess.run(
            ["git", "-C", str(self.path), "commit", "-q", "-F", "-"],
            input=message, text=True, check=True,
            env={**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )  # fmt: skip
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def tree_hash(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", f"{rev}^{{tree}}").strip()

    def status(self) -> str:
        return self.git("status", "--porcelain=v1", "--untracked-files=all")

    def snapshot(self) -> dict[str, str]:
        """Everything an apply must leave alone when it fails: refs, HEAD, index, work tree, stash."""
        return {
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "head": self.git("symbolic-ref", "-q", "HEAD") if self._has_symbolic_head() else self.head(),
            "index": self.git("ls-files", "-s"),
            "status": self.status(),
            "diff": self.git("diff", "HEAD"),
        }

    def _has_symbolic_head(self) -> bool:
        return (
            subprocess.run(["git", "-C", str(self.path), "symbolic-ref", "-q", "HEAD"], capture_output=True).returncode
            == 0
        )


def write_series(directory: Path, data: dict[str, object], diffs: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    for name, text in diffs.items():
        (directory / name).write_text(text)
    return directory


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class _ConsoleScript(click.Command):
    """What the ``patchkit`` console script runs (:func:`patchkit.cli.entry.main`), in a shape CliRunner can invoke."""

    def __init__(self) -> None:
        super().__init__("patchkit")

    def main(self, *args: Any, **kwargs: Any) -> Any:
        sys.exit(entry.main(list(kwargs.get("args") or ())))


def run_cli(*args: str, cwd: Path, env: Mapping[str, str | None] | None = None, stdin: str | None = None) -> CliResult:
    """Run ``patchkit ARGS`` in ``cwd`` as a user's shell would, but in this process (no interpreter start-up).

    It goes in where the console script does (patchkit.cli.entry.main: signals, click, the error boundary) with
    click's CliRunner around it: its own stdin (empty unless given), stdout and stderr, and ``env`` laid over
    the environment (None unsets a variable). A traceback on either stream fails the test. Where the process
    itself is what a test is about (signals, start-up, locks between processes, umask), use
    :func:`patchkit_argv` and :func:`process_env` instead.
    """
    saved_cwd = os.getcwd()
    saved_handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    runner = CliRunner(catch_exceptions=False)  # click >= 8.2: stderr apart from stdout
    try:
        os.chdir(cwd)
        result = runner.invoke(_ConsoleScript(), list(args), input=stdin, env=env)
    finally:
        os.chdir(saved_cwd)
        for signum, handler in saved_handlers.items():  # the boundary ignores late signals on its way out
            signal.signal(signum, handler)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    if args and args[0] == "format" and result.exit_code == 0:
        written = [cwd / line for line in result.stdout.splitlines() if line.endswith(".patch")]
        check_with_send_email([path for path in written if path.is_file()])
    return CliResult(result.exit_code, result.stdout, result.stderr)


def _unfolded_subject(path: Path) -> str:
    """The Subject: line of a mail file as git send-email reads it (continuation lines joined by one space)."""
    head = path.read_bytes().partition(b"\n\n")[0].decode("ascii")
    lines: list[str] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.lstrip()
        else:
            lines.append(line)
    subjects = [line for line in lines if line.startswith("Subject: ")]
    assert len(subjects) == 1, f"{path.name}: {len(subjects)} Subject: lines"
    return subjects[0]


def check_with_send_email(files: Sequence[Path]) -> str:
    """``git send-email --dry-run`` over ``files``: it must take every one (exit 0, each Subject seen), offline.

    A dry run with a dummy server and the test's pinned HOME and git config: nothing is sent, no prompt is
    possible (stdin is empty, --confirm=never), and 8-bit mails must declare their encoding themselves.
    Returns what git send-email printed.
    """
    assert files, "no mails to check"
    argv = ["git", "send-email", "--dry-run", "--confirm=never", "--to=x@example.org",
            "--from=Test Author <author@example.org>", "--smtp-server=127.0.0.1", "--smtp-server-port=9",
            *map(str, files)]  # fmt: skip
    result = subprocess.run(argv, cwd=files[0].parent, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=120, check=False)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "do not declare a Content-Transfer-Encoding" not in output, output
    assert output.count("Result: OK") == len(files), output
    for path in files:
        assert f"\n{_unfolded_subject(path)}\n" in output, (path.name, output)
    return output


_IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL",
             "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_CONFIG_GLOBAL", "XDG_CONFIG_HOME",
             "XDG_CACHE_HOME")  # fmt: skip


def bare_machine(home: Path) -> dict[str, str]:
    """The environment of a machine whose git knows nobody: what this test process has, minus every identity,
    with an empty HOME, no system config, and ``user.useConfigOnly`` so git cannot guess from the host name."""
    env = {key: value for key, value in os.environ.items() if key not in _IDENTITY}
    home.mkdir()
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="user.useConfigOnly",
               GIT_CONFIG_VALUE_0="true", PYTHONPATH=str(REPO_ROOT))  # fmt: skip
    return env


def patchkit_argv(*args: str) -> list[str]:
    """The command line of a separate patchkit process (``python -m patchkit``, as the console script runs it)."""
    return [sys.executable, "-m", "patchkit", *args]


def process_env(**overrides: str) -> dict[str, str]:
    """The environment for a separate patchkit process: this checkout's patchkit first on the module path
    (the shared virtualenv's editable install may point at another checkout)."""
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), **overrides}


def run_process(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120, prefix: Sequence[str] = ()
) -> CliResult:
    """Run patchkit as a separate process (for tests of the process itself); no traceback may reach stderr."""
    result = subprocess.run(
        [*prefix, *patchkit_argv(*args)],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout, env=process_env(**(env or {})),
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return CliResult(result.returncode, result.stdout, result.stderr)


DIFF_README = """diff --git a/README b/README
index 000000000000..111111111111 100644
--- a/README
+++ b/README
@@ -1 +1,2 @@
 tiny tree
+second line
"""

DIFF_NEW_FILE = """diff --git a/arch/x86/virt/Makefile b/arch/x86/virt/Makefile
new file mode 100644
index 000000000000..222222222222
--- /dev/null
+++ b/arch/x86/virt/Makefile
@@ -0,0 +1 @@
+obj-y += vmx/
"""


def small_series_data(tree: GitTree, patches: Sequence[Mapping[str, object]] | None = None) -> dict[str, object]:
    """series.yaml data for the small tree; patches default to two that apply."""
    return {
        "name": "demo",
        "revision": 1,
        "subject_prefix": "PATCH",
        "base": {"package": "linux-source-6.1", "version": "6.1.99", "tree": tree.tree_hash("patchkit-base")},
        "patches": patches
        or [
            {
                "subject": "README: Add a second line",
                "author": {"name": "Zoë Ærø", "email": "zoe@example.org"},
                "date": "2026-02-03T04:05:06+01:00",
                "body": "Explain why.",
                "trailers": ["Signed-off-by: Zoë Ærø <zoe@example.org>"],
                "diff": "0001-readme.diff",
            },
            {
                "subject": "x86/virt: Add a Makefile",
                "author": {"name": "Test Author", "email": "author@example.org"},
                "date": "2026-02-04T04:05:06-05:00",
                "trailers": ["Signed-off-by: Test Author <author@example.org>"],
                "diff": "0002-makefile.diff",
            },
        ],
    }


def make_small_series(project: Path, tree: GitTree) -> Path:
    return write_series(
        project / "series" / "demo",
        small_series_data(tree),
        {"0001-readme.diff": DIFF_README, "0002-makefile.diff": DIFF_NEW_FILE},
    )


def write_mail_series(project: Path, tree: GitTree, revision: int = 1, body: str = "Why it matters.") -> Path:
    """The demo series ready to be mailed: recipients, a cover letter, a changelog up to ``revision``, and a
    third, overlay patch (applied, never mailed)."""
    data = small_series_data(tree)
    data.update({
        "revision": revision,
        "to": ["x86@kernel.org"],
        "cc": ["linux-kernel@vger.kernel.org"],
        "cover": {"subject": "demo: Two small changes", "body": body},
        "changelog": [{"revision": 1, "changes": "First posting."}]
        + ([{"revision": 2, "changes": "Reworded the cover."}] if revision > 1 else []),
    })  # fmt: skip
    patches = data["patches"]
    assert isinstance(patches, list)
    patches.append({**patches[0], "subject": "README: Test-only line", "diff": "0003-overlay.diff", "overlay": True})
    overlay = DIFF_README.replace("+second line", "+test only").replace("@@ -1 +1,2 @@", "@@ -1,2 +1,3 @@")
    overlay = overlay.replace(" tiny tree\n", " tiny tree\n second line\n")
    diffs = {"0001-readme.diff": DIFF_README, "0002-makefile.diff": DIFF_NEW_FILE, "0003-overlay.diff": overlay}
    return write_series(project / "series" / "demo", data, diffs)


def posted_v1(tmp_path: Path, tree: GitTree) -> tuple[Path, list[Path]]:
    """The mailable demo series in ``tmp_path/project``, applied and formatted into ``v1``: the project, the mails."""
    project = tmp_path / "project"
    write_mail_series(project, tree)
    assert run_cli("apply", "--tree", str(tree.path), cwd=project).code == 0
    result = run_cli("format", "--tree", str(tree.path), "-o", "v1", cwd=project)
    assert result.code == 0, result.err
    return project, sorted((project / "v1").glob("*.patch"))


def read_mail(path: Path) -> email.message.EmailMessage:
    """A mail ``patchkit format`` wrote, parsed as a mail client would."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def write_many_patch_series(directory: Path, tree: GitTree, count: int) -> Path:
    """A series of ``count`` patches, each adding one small file (long enough to interrupt or kill midway)."""
    patches: list[dict[str, object]] = []
    diffs: dict[str, str] = {}
    for index in range(1, count + 1):
        name = f"{index:04d}-file.diff"
        diffs[name] = (
            f"diff --git a/gen/f{index}.c b/gen/f{index}.c\nnew file mode 100644\n"
            f"--- /dev/null\n+++ b/gen/f{index}.c\n@@ -0,0 +1 @@\n+int f{index};\n"
        )
        patches.append({
            "subject": f"gen: Add f{index}", "author": {"name": "A", "email": "a@example.org"},
            "date": "2026-03-01T00:00:00+00:00", "diff": name,
        })  # fmt: skip
    return write_series(directory, small_series_data(tree, patches), diffs)


@dataclass
class Project:
    """A project directory holding ``series/demo`` and the small tree it applies to."""

    root: Path
    tree: GitTree

    @property
    def series(self) -> Path:
        return self.root / "series" / "demo"

    @property
    def yaml_path(self) -> Path:
        return self.series / "series.yaml"

    @classmethod
    def create(cls, root: Path, tree: GitTree) -> Project:
        """The demo series (two patches that apply to the small tree) in ``root/series/demo``."""
        make_small_series(root, tree)
        return cls(root, tree)

    def cli(self, *args: str, env: Mapping[str, str | None] | None = None) -> CliResult:
        """``patchkit ARGS`` run in the project directory (see :func:`run_cli`)."""
        return run_cli(*args, cwd=self.root, env=env)

    def apply(self, *extra: str) -> CliResult:
        """``patchkit apply --tree TREE``, which must succeed."""
        result = self.cli("apply", "--tree", str(self.tree.path), *extra)
        assert result.code == 0, result.err
        return result

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.yaml_path.read_text())
        return loaded

    def write_data(self, data: dict[str, Any]) -> None:
        self.yaml_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    def mutate(self, change: Callable[[dict[str, Any]], object]) -> None:
        data = self.data()
        change(data)
        self.write_data(data)

    def text(self) -> str:
        return self.yaml_path.read_text()

    def write_text(self, text: str) -> None:
        self.yaml_path.write_text(text)

    def replace(self, old: str, new: str) -> None:
        text = self.text()
        assert old in text, f"{old!r} not in series.yaml"
        self.write_text(text.replace(old, new, 1))

    def line_of(self, needle: str) -> int:
        text = self.text()
        return text[: text.index(needle)].count("\n") + 1

    def set_diff(self, text: str, name: str = "0001-readme.diff") -> Path:
        path = self.series / name
        path.unlink(missing_ok=True)
        path.write_text(text)
        return path

    def only_first_patch(self) -> None:
        self.mutate(lambda d: d.update(patches=d["patches"][:1]))

    def diff_path(self, name: str = "0001-readme.diff") -> Path:
        return self.series / name


def clone_real_tree(prepared: Path, clone: Path) -> Path:
    """A private clone of the prepared real tree on branch main at patchkit-base (shares objects)."""
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(prepared), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "config", "gc.auto", "0"], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-B", "main", "patchkit-base"], check=True)
    return clone


_KEPT_REFS = ("refs/heads/main", "refs/tags/patchkit-base")
_GIT_STATE = ("rebase-merge", "rebase-apply", "sequencer", "patchkit", "MERGE_HEAD", "CHERRY_PICK_HEAD",
              "REVERT_HEAD", "BISECT_LOG", "index.lock", "HEAD.lock")  # fmt: skip


@dataclass
class SharedRealTree:
    """One checkout of the real tree for the whole session (a checkout of its 78,000 files is the cost), handed to
    each test as :func:`clone_real_tree` made it: :meth:`reset` puts back branch main at patchkit-base checked out,
    no other branch or tag, no file of a test's, no state of patchkit's or of git's, the clone's own config."""

    path: Path
    config: bytes

    @classmethod
    def clone(cls, prepared: Path, clone: Path) -> SharedRealTree:
        clone_real_tree(prepared, clone)
        return cls(clone, (clone / ".git" / "config").read_bytes())

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip

    def reset(self) -> Path:
        git_dir = self.path / ".git"
        for name in _GIT_STATE:
            target = git_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        (git_dir / "config").write_bytes(self.config)
        self.git("checkout", "-q", "-f", "-B", "main", "patchkit-base")
        self.git("clean", "-q", "-ffdx")
        for ref in self.git("for-each-ref", "--format=%(refname)").split():
            if ref not in _KEPT_REFS:
                self.git("update-ref", "-d", ref)
        self.git("worktree", "prune")
        # as a fresh clone: nothing but the base, checked out and clean
        assert self.git("for-each-ref", "--format=%(refname)").split() == sorted(_KEPT_REFS)
        assert self.git("status", "--porcelain=v1", "--untracked-files=all", "--ignored") == ""
        return self.path


FAKE_KERNEL_MAKEFILE = """\
VERSION = 6
PATCHLEVEL = 1
SUBLEVEL = 99
EXTRAVERSION =
tinyconfig:
\t@mkdir -p $(O) && printf 'CONFIG_X86_64=y\\n' > $(O)/.config
olddefconfig:
\t@true
all:
\t@{all}
"""


def fake_kernel_files(all_recipe: str) -> dict[str, str]:
    """A tree whose Makefile configures in no time and runs ``all_recipe`` as its build (real make, no compiler)."""
    return {
        "Makefile": FAKE_KERNEL_MAKEFILE.replace("{all}", all_recipe),
        "arch/x86/Kconfig": "config X86_64\n\tdef_bool y\n",
        "scripts/kconfig/merge_config.sh": '#!/bin/sh\ncat "$5" >> "$4"\n',
    }


REPORT_SCHEMA = REPO_ROOT / "patchkit" / "verify" / "report-schema.json"


def valid_report(path: Path) -> dict[str, Any]:
    """A report.json that verify or ci merge wrote, read as a CI job reads it; its data.

    The file must match the schema (checked here with jsonschema itself, not through patchkit), read back
    through ``VerifyReport.from_json``, and write out again as the same data. A run's own report names its logs
    and consoles relative to its results directory, and each is there (an uploaded artifact is complete).
    """
    import jsonschema

    from patchkit.verify.report import VerifyReport

    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))).validate(data)
    assert VerifyReport.from_json(data, str(path)).to_json() == data, path
    if data.get("results") == str(path.parent):  # written by a run into its own results directory
        evidence = [r["log"] for r in (data.get("build") or {}).get("results", [])]
        evidence += [b["console"] for b in (data.get("boot") or {}).get("boots", [])]
        for name in evidence:  # every log and console is in the directory, named relative to it
            assert not Path(name).is_absolute() and ".." not in Path(name).parts, (path, name)
            assert (path.parent / name).is_file(), (path, name)
    return data


def verify_reports_under(*roots: Path) -> list[Path]:
    """Every report.json of verify or ci merge under ``roots`` (build's and boot's own reports have no branch)."""
    found: list[Path] = []
    for root in roots:
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if d != ".git"]
            path = Path(directory) / "report.json"
            if "report.json" in files and path.is_file():  # never a FIFO: reading one would wait forever
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and "branch" in data:
                    found.append(path)
    return sorted(found)
