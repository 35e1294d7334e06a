"""Test helpers: hermetic git trees and series directories built in tmp dirs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

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


def run_cli(*args: str, cwd: Path) -> CliResult:
    """Run patchkit as a user would: a separate process, exit code and both streams."""
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "patchkit", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
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


def clone_real_tree(prepared: Path, clone: Path) -> Path:
    """A private clone of the prepared real tree on branch main at patchkit-base (shares objects)."""
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(prepared), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "config", "gc.auto", "0"], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-B", "main", "patchkit-base"], check=True)
    return clone


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
