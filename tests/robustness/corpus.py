"""The robustness corpus: bad inputs and faults, each with the exit code and the one line it must give.

Every case starts from the small hermetic project (series ``demo``, two patches
that apply to the small tree), spoils one thing in ``setup`` and runs a command.
The test then checks the exit code, that stderr is exactly one line matching
``message``, and that the tree is exactly as it was (see :func:`full_snapshot`).
"""

from __future__ import annotations

import copy
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchkit.mail.revision import planned_revision, record_revision, revise
from patchkit.series.dump import series_yaml
from patchkit.series.load import load_series
from patchkit.util import paths
from tests.helpers import DIFF_README, GitTree, Project, write_mail_series


@dataclass(frozen=True)
class Case:
    id: str
    code: int
    message: str  # a regex the single stderr line must match (re.search)
    setup: Callable[[Project], object]
    args: tuple[str, ...] = ("apply",)  # "--tree <small tree>" is appended (unless tree is False)
    tags: tuple[str, ...] = field(default=())
    tree: bool = True


def full_snapshot(tree: GitTree) -> dict[str, object]:
    """Everything a refused command must leave alone: HEAD, refs, index, stash, status, files, .git, fsck."""
    snap: dict[str, object] = dict(tree.snapshot())
    snap["stash"] = tree.git("stash", "list")
    snap["files"] = _work_tree_files(tree.path)
    git_dir = tree.path / ".git"
    # patchkit's own directory may gain its lock file; nothing else may appear (index.lock, sharedindex.*).
    snap["git_dir"] = sorted(p.name for p in git_dir.iterdir() if p.name != "patchkit")
    own = git_dir / "patchkit"
    snap["patchkit_dir"] = sorted(p.name for p in own.iterdir() if p.name != "apply.lock") if own.is_dir() else []
    snap["fsck"] = tree.git("fsck", "--no-dangling", "--no-progress", "--strict")
    return snap


def directory_snapshot(root: Path) -> dict[str, str]:
    """Every file, directory and symlink under ``root`` (a symlink not followed), with the content's hash."""
    return _work_tree_files(root) if root.is_dir() else {}


def _work_tree_files(root: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not (directory == str(root) and d == ".git")]
        for name in [*names, *dirs]:
            path = Path(directory) / name
            info = path.lstat()
            relative = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                files[relative] = "link:" + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                files[relative] = f"{info.st_mode:o}:{info.st_size}:{_digest(path, info)}"
            else:
                files[relative] = f"{info.st_mode:o}"
    return files


def _digest(path: Path, info: os.stat_result) -> str:
    if info.st_size > 64 * 1024 * 1024:  # a sparse test file: its size and mtime say enough
        return str(info.st_mtime_ns)
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- series.yaml ---------------------------------------------------------------------------------------------

ALIAS_BOMB = "".join(
    [
        'lol1: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n',
        *(f"lol{n}: &{chr(96 + n)} [{', '.join([f'*{chr(95 + n)}'] * 9)}]\n" for n in range(2, 10)),
    ]
)


def _append(text: str) -> Callable[[Project], None]:
    return lambda p: p.write_text(p.text() + text)


def _prepend(text: str) -> Callable[[Project], None]:
    return lambda p: p.write_text(text + p.text())


def _patch0(**changes: object) -> Callable[[Project], None]:
    return lambda p: p.mutate(lambda d: d["patches"][0].update(changes))


def _deep_flow(p: Project) -> None:
    p.write_text(p.text() + "deep: " + "[" * 5000 + "]" * 5000 + "\n")


def _deep_block(p: Project) -> None:
    lines = "".join("  " * depth + "a:\n" for depth in range(200))
    p.write_text(p.text() + "deep:\n" + "".join("  " + line for line in lines.splitlines(keepends=True)) + "  x: 1\n")


def _huge_file(p: Project) -> None:
    p.replace("subject: 'README: Add a second line'", "subject: '" + "x" * (9 * 1024 * 1024) + "'")


def _many_patches(p: Project) -> None:
    def change(data: dict[str, Any]) -> None:
        first = data["patches"][0]
        data["patches"] = [copy.deepcopy(dict(first, diff=f"{n:04d}.diff")) for n in range(1001)]

    p.mutate(change)


def _symlink_yaml_to(target: str) -> Callable[[Project], None]:
    def setup(p: Project) -> None:
        p.yaml_path.unlink()
        p.yaml_path.symlink_to(target)

    return setup


def _fifo_yaml(p: Project) -> None:
    p.yaml_path.unlink()
    os.mkfifo(p.yaml_path)


def _config_with_bad_regex(p: Project) -> None:
    (p.series / "kconfig").mkdir()
    (p.series / "kconfig" / "guest.config").write_text("CONFIG_X86_64=y\n")
    p.mutate(
        lambda d: d.update(
            configs=[{"name": "guest", "fragment": "kconfig/guest.config", "boot": {"expect": ["tdx-probe: ([0-9"]}}]
        )
    )


def _fragment(make: Callable[[Path], None]) -> Callable[[Project], None]:
    def setup(p: Project) -> None:
        make(p.series / "guest.config")
        p.mutate(lambda d: d.update(configs=[{"name": "guest", "fragment": "guest.config"}]))

    return setup


YAML_CASES = [
    Case(
        "yaml-alias-bomb",
        3,
        r"series\.yaml:6: more than 200000 YAML values, aliases expanded",
        _prepend(ALIAS_BOMB),
    ),
    Case(
        "yaml-alias-text-bomb",
        3,
        r"series\.yaml:\d+: more than 16777216 characters of text, aliases expanded",
        _append("s: &s '" + "x" * (1 << 20) + "'\nt: [" + ", ".join(["*s"] * 20) + "]\n"),
    ),
    Case(
        "yaml-alias-deep-chain",
        3,
        r"series\.yaml:\d+: YAML nested deeper than 32 levels, aliases expanded",
        _append(
            "d0: &d0 "
            + "[" * 10
            + "x"
            + "]" * 10
            + "\n"
            + "".join(f"d{n}: &d{n} " + "[" * 10 + f"*d{n - 1}" + "]" * 10 + "\n" for n in range(1, 4))
        ),
    ),
    Case("yaml-recursive-alias", 3, r"YAML alias '\*r' inside the value it names", _append("extra: &r [*r]\n")),
    Case(
        "yaml-undefined-alias",
        3,
        r"series\.yaml:\d+: malformed YAML: found undefined alias 'nowhere'",
        _append("extra: *nowhere\n"),
    ),
    Case(
        "yaml-python-tag",
        3,
        r"series\.yaml:\d+: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' \(tags are not allowed",
        _append("extra: !!python/object/apply:os.system ['touch pwned']\n"),
    ),
    Case("yaml-local-tag", 3, r"YAML tag '!include'", _append("extra: !include /etc/passwd\n")),
    Case("yaml-binary-tag", 3, r"YAML tag 'tag:yaml.org,2002:binary'", _append("extra: !!binary aGVsbG8=\n")),
    Case("yaml-merge-key", 3, r"series\.yaml:\d+: YAML merge key '<<'", _append("<<: {revision: 2}\n")),
    Case(
        "yaml-duplicate-key",
        3,
        r"series\.yaml:\d+: duplicate key 'revision' \(first at line 2; the file must say it once\)",
        _append("revision: 7\n"),
    ),
    Case(
        "yaml-duplicate-nested-key",
        3,
        r"series\.yaml:\d+: duplicate key 'subject' \(first at line \d+",
        lambda p: p.replace("  date: '2026-02-03", "  subject: other\n  date: '2026-02-03"),
    ),
    Case(
        "yaml-deep-flow-5000",
        3,  # libyaml stops at its own limit (1000) when it is there; the pure-Python parser at ours (32)
        r"series\.yaml:\d+: (YAML nested deeper than 32 levels|malformed YAML: exceeded maximum nesting depth)",
        _deep_flow,
    ),
    Case(
        "yaml-deep-flow-100",
        3,
        r"series\.yaml:\d+: YAML nested deeper than 32 levels$",
        lambda p: p.write_text(p.text() + "deep: " + "[" * 100 + "]" * 100 + "\n"),
    ),
    Case("yaml-deep-block", 3, r"series\.yaml:\d+: YAML nested deeper than 32 levels", _deep_block),
    Case("yaml-complex-key", 3, r"series\.yaml:\d+: a key that is not a plain string", _append("? [a, b]\n: 1\n")),
    Case(
        "yaml-two-documents",
        3,
        r"series\.yaml:\d+: malformed YAML: but found another document",
        _append("---\nname: x\n"),
    ),
    Case(
        "yaml-huge-int",
        3,
        r"series\.yaml:2: unreadable value: .*digits",
        lambda p: p.replace("revision: 1", "revision: " + "9" * 5000),
    ),
    Case(
        "yaml-dev-zero",
        3,
        r"series\.yaml: not a regular file \(a character device\); refused without reading it",
        _symlink_yaml_to("/dev/zero"),
    ),
    Case("yaml-fifo", 3, r"series\.yaml: not a regular file \(a FIFO\); refused without reading it", _fifo_yaml),
    Case("yaml-9mb", 3, r"series\.yaml: \d+ bytes, more than the limit of 8388608", _huge_file),
    Case("yaml-symlink-loop", 3, r"series\.yaml: Too many levels of symbolic links", _symlink_yaml_to("series.yaml")),
]

DATA_CASES = [
    Case(
        "subject-too-long",
        3,
        r"series\.yaml:\d+: patches\[0\]\.subject: 300 characters, more than the limit of 200$",
        _patch0(subject="x" * 300),
    ),
    Case(
        "body-too-long",
        3,
        r"series\.yaml:\d+: patches\[0\]\.body: 70000 characters, more than the limit of 65536$",
        _patch0(body="word " * 14000),
    ),
    Case(
        "too-many-patches", 3, r"series\.yaml:\d+: patches: 1001 entries, more than the limit of 1000$", _many_patches
    ),
    Case(
        "cr-in-subject",
        3,
        r"series\.yaml:\d+: patches\[0\]\.subject contains a carriage return \(U\+000D at position 7; one line "
        r"of text\)",
        _patch0(subject="README\rBcc: victim@example.org"),
    ),
    Case(
        "cr-in-cc",
        3,
        r"series\.yaml:\d+: cc\[0\] contains a carriage return \(U\+000D",
        lambda p: p.mutate(lambda d: d.update(cc=["list@example.org\rBcc: victim@example.org"])),
    ),
    Case(
        "nul-in-author",
        3,
        r"series\.yaml:\d+: patches\[0\]\.author\.name contains a NUL character \(U\+0000",
        _patch0(author={"name": "Zo\0e", "email": "zoe@example.org"}),
    ),
    Case(
        "escape-in-body",
        3,
        r"patches\[0\]\.body contains a control character \(U\+001B at position 6; a multi-line text may hold ",
        _patch0(body="text \x1b[31mred\x1b[0m"),
    ),
    Case(
        "impossible-date",
        3,
        r"series\.yaml:\d+: patches\[0\]\.date: '2026-13-45T25:61:00\+01:00': impossible date",
        _patch0(date="2026-13-45T25:61:00+01:00"),
    ),
    Case(
        "impossible-unquoted-date",
        3,
        r"series\.yaml:\d+: patches\[0\]\.date: '2026-02-30T00:00:00\+00:00': impossible date",
        lambda p: p.replace("date: '2026-02-03T04:05:06+01:00'", "date: 2026-02-30T00:00:00+00:00"),
    ),
    Case(
        "date-before-1970",
        3,
        r"patches\[0\]\.date: '1969-12-31T23:00:00\+00:00': outside the years git can record",
        _patch0(date="1969-12-31T23:00:00+00:00"),
    ),
    Case("date-after-2099", 3, r"outside the years git can record", _patch0(date="2100-01-01T00:00:00+00:00")),
    Case("date-minus-zero", 3, r"offset -00:00 \(git records it as \+00:00", _patch0(date="2026-01-01T00:00:00-00:00")),
    Case(
        "branch-name-dotdot",
        3,
        r"series\.yaml:1: name: 'a\.\.b' contains '\.\.' \(git branch names cannot\)",
        lambda p: p.mutate(lambda d: d.update(name="a..b")),
    ),
    Case(
        "branch-name-lock",
        3,
        r"series\.yaml:1: name: 'demo\.lock' ends in '\.lock'",
        lambda p: p.mutate(lambda d: d.update(name="demo.lock")),
    ),
    Case(
        "bad-boot-regex",
        3,
        r"series\.yaml:\d+: configs\[0\]\.boot\.expect\[0\]: not a valid regex",
        _config_with_bad_regex,
    ),
    Case(
        "fragment-dev-zero",
        3,
        r"series\.yaml:\d+: configs\[0\]\.fragment: guest\.config: not a regular file \(a character device\)",
        _fragment(lambda path: path.symlink_to("/dev/zero")),
    ),
    Case(
        "fragment-outside-series",
        3,
        r"configs\[0\]\.fragment: guest\.config is a symlink leading outside the series directory",
        _fragment(lambda path: path.symlink_to("/etc/hostname")),
    ),
    Case(
        "unknown-key-with-newline",
        3,
        r"series\.yaml:\d+: 'evil\\nkey': unknown key",
        lambda p: p.mutate(lambda d: d.update({"evil\nkey": 1})),
    ),
]


# ---- diff files ------------------------------------------------------------------------------------------------


def _diff(text: str) -> Callable[[Project], None]:
    def setup(p: Project) -> None:
        p.only_first_patch()
        p.set_diff(text)

    return setup


def _readme_diff(path_a: str, path_b: str | None = None, header: str | None = None) -> str:
    path_b = path_b or path_a
    first = header if header is not None else f"diff --git a/{path_a} b/{path_b}"
    return f"{first}\n--- a/{path_a}\n+++ b/{path_b}\n@@ -1 +1,2 @@\n tiny tree\n+second line\n"


def _new_file_diff(path: str, quoted: str | None = None) -> str:
    name = quoted or f"b/{path}"
    return (
        f"diff --git {quoted.replace('b/', 'a/', 1) if quoted else 'a/' + path} {name}\nnew file mode 100644\n"
        f"--- /dev/null\n+++ {name}\n@@ -0,0 +1 @@\n+x\n"
    )


def _symlink_diff(link: str, target: str) -> str:
    return (
        f"diff --git a/{link} b/{link}\nnew file mode 120000\nindex 000000000000..111111111111\n"
        f"--- /dev/null\n+++ b/{link}\n@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
    )


def _diff_file_replaced(make: Callable[[Path], None]) -> Callable[[Project], None]:
    def setup(p: Project) -> None:
        p.only_first_patch()
        path = p.diff_path()
        path.unlink()
        make(path)

    return setup


def _sparse_40mb(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(40 * 1024 * 1024)  # sparse: no disk used, but 40 MiB to whoever reads it


def _two_patches_through_symlink(p: Project) -> None:
    p.set_diff(_symlink_diff("arch/x86/escape", "../../arch"), "0001-readme.diff")
    p.set_diff(_new_file_diff("arch/x86/escape/boot/evil.c"), "0002-makefile.diff")


DIFF = "patches\\[0\\]\\.diff|0001-readme\\.diff"

DIFF_CASES = [
    Case(
        "diff-dev-zero",
        3,
        rf"({DIFF}).*: not a regular file \(a character device\); refused without reading it",
        _diff_file_replaced(lambda path: path.symlink_to("/dev/zero")),
    ),
    Case("diff-fifo", 3, r"0001-readme\.diff: not a regular file \(a FIFO\)", _diff_file_replaced(os.mkfifo)),
    Case("diff-directory", 3, r"0001-readme\.diff: not a regular file \(a directory\)", _diff_file_replaced(os.mkdir)),
    Case(
        "diff-40mb-sparse",
        3,
        r"0001-readme\.diff: 41943040 bytes, more than the limit of 33554432",
        _diff_file_replaced(_sparse_40mb),
    ),
    Case(
        "diff-symlink-outside-series",
        3,
        r"patches\[0\]\.diff: 0001-readme\.diff is a symlink leading outside the series directory",
        _diff_file_replaced(lambda path: path.symlink_to("/etc/hostname")),
    ),
    Case(
        "diff-dotdot",
        3,
        r"0001-readme\.diff:2: path 'a/\.\./\.\./etc/passwd' leaves the tree through '\.\.'",
        _diff(_readme_diff("../../etc/passwd", "README", header="diff --git a/README b/README")),
    ),
    Case(
        "diff-absolute",
        3,
        r"0001-readme\.diff:4: absolute path '/etc/passwd'",
        _diff(DIFF_README.replace("+++ b/README", "+++ /etc/passwd")),
    ),
    Case(
        "diff-dot-git",
        3,
        r"0001-readme\.diff:1: path 'a/\.git/config' is inside \.git/$",
        _diff(_readme_diff(".git/config")),
    ),
    Case(
        "diff-dot-git-upper",
        3,
        r"path 'a/\.GIT/config' is inside \.git/ \(written '\.GIT'",
        _diff(_readme_diff(".GIT/config")),
    ),
    Case(
        "diff-dot-git-ntfs-dot", 3, r"path 'a/\.git\./hooks/x' is inside \.git/", _diff(_readme_diff(".git./hooks/x"))
    ),
    Case("diff-dot-git-short-name", 3, r"path 'a/GIT~1/config' is inside \.git/", _diff(_readme_diff("GIT~1/config"))),
    Case(
        "diff-dot-git-hfs-ignorable",
        3,
        r"path 'a/\.g\\u200cit/config' is inside \.git/",
        _diff(_new_file_diff(".g\u200cit/config", quoted='"b/.g\\342\\200\\214it/config"')),
    ),
    Case(
        "diff-octal-dotdot",
        3,
        r"0001-readme\.diff:1: path 'a/\.\./\.\./etc/cron\.d/x' leaves the tree through '\.\.'",
        _diff(_new_file_diff("../../etc/cron.d/x", quoted='"b/\\056\\056/\\056\\056/etc/cron.d/x"')),
    ),
    Case(
        "diff-space-dotdot",
        3,
        r"path 'a/x y/\.\./\.\./\.\./etc/z w' leaves the tree through '\.\.'",
        _diff(_readme_diff("x y/../../../etc/z w")),
    ),
    Case(
        "diff-rename-out",
        3,
        r"0001-readme\.diff:4: path '\.\./README' leaves the tree",
        _diff("diff --git a/README b/README\nsimilarity index 100%\nrename from README\nrename to ../README\n"),
    ),
    Case(
        "diff-copy-into-git",
        3,
        r"0001-readme\.diff:4: path '\.git/hooks/post-checkout' is inside \.git/",
        _diff(
            "diff --git a/README b/README\nsimilarity index 100%\ncopy from README\ncopy to .git/hooks/post-checkout\n"
        ),
    ),
    Case(
        "diff-symlink-up",
        3,
        r"0001-readme\.diff:1: symlink 'arch/up' points outside the tree \(target '\.\./\.\./etc' leaves it",
        _diff(_symlink_diff("arch/up", "../../etc")),
    ),
    Case(
        "diff-symlink-absolute",
        3,
        r"symlink 'arch/abs' points outside the tree \(absolute target '/etc'\)",
        _diff(_symlink_diff("arch/abs", "/etc")),
    ),
    Case(
        "diff-symlink-into-git",
        3,
        r"symlink 'arch/g' points into \.git/ \(target '\.\./\.git/hooks'\)",
        _diff(_symlink_diff("arch/g", "../.git/hooks")),
    ),
    Case(
        "diff-through-own-symlink",
        3,
        r"path 'arch/inner/evil\.c' goes through the symlink 'arch/inner' this diff creates \(line 1\)",
        _diff(_symlink_diff("arch/inner", "x86") + _new_file_diff("arch/inner/evil.c")),
    ),
    Case(
        "diff-through-earlier-symlink",
        3,
        r"0002-makefile\.diff: path 'arch/x86/escape/boot/evil\.c' goes through the symlink 'arch/x86/escape' that "
        r"patch 1 \(README: Add a second line\) creates",
        _two_patches_through_symlink,
    ),
    Case(
        "diff-control-char-path",
        3,
        r"path 'a/foo\\nbar' holds a control character",
        _diff(_new_file_diff("foo\nbar", quoted='"b/foo\\nbar"')),
    ),
    Case(
        "diff-bad-quoting",
        3,
        r"0001-readme\.diff:1: malformed quoted path \(no closing quote\)",
        _diff('diff --git "a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1 @@\n-a\n+b\n'),
    ),
    Case(
        "diff-gitlink",
        3,
        r"0001-readme\.diff:2: a submodule \(gitlink, mode 160000\) entry",
        _diff(
            "diff --git a/sub b/sub\nnew file mode 160000\nindex 0000000..1111111\n--- /dev/null\n+++ b/sub\n"
            "@@ -0,0 +1 @@\n+Subproject commit 1111111111111111111111111111111111111111\n"
        ),
    ),
    Case("diff-crlf", 3, r"0001-readme\.diff:1: CRLF line ending", _diff(DIFF_README.replace("\n", "\r\n"))),
    Case(
        "diff-short-hunk",
        3,
        r"0001-readme\.diff: not a unified diff: Hunk is shorter than expected",
        _diff("diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1,5 +1,6 @@\n tiny tree\n+second\n"),
    ),
    Case(
        "diff-minus-line-in-hunk-is-content",
        4,  # a removed line "-- /etc/x" is content, not a header: the diff is fine, the tree lacks that line
        r"patch 1 \(README: Add a second line\) does not apply: README",
        _diff("diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1,2 +1 @@\n tiny tree\n--- /etc/x\n"),
    ),
]


# ---- the tree ----------------------------------------------------------------------------------------------------


def _stale_index_lock(p: Project) -> None:
    (p.tree.path / ".git" / "index.lock").write_text("")


def _symlink_in_base(p: Project) -> None:
    (p.tree.path / "arch" / "link").symlink_to("x86")
    p.tree.git("add", "arch/link")
    p.tree.git("commit", "-q", "-m", "add a symlink")
    p.tree.git("tag", "-f", "patchkit-base")
    p.mutate(lambda d: d["base"].update(tree=p.tree.tree_hash()))
    p.only_first_patch()
    p.set_diff(_new_file_diff("arch/link/evil.c"))


def _dirty(p: Project) -> None:
    (p.tree.path / "README").write_text("changed\n")


def _mid_rebase(p: Project) -> None:
    (p.tree.path / ".git" / "rebase-merge").mkdir()


def _branch_elsewhere(p: Project) -> None:
    p.tree.git("branch", "patchkit/demo/v1", "HEAD")
    p.tree.commit("other work", {"other.c": "int x;\n"})
    p.tree.git("branch", "-f", "patchkit/demo/v1", "HEAD")
    p.tree.git("reset", "-q", "--hard", "patchkit-base")


def _not_a_repo(p: Project) -> None:
    (p.root / "plain").mkdir()


TREE_CASES = [
    Case(
        "stale-index-lock-not-ours",
        4,
        r"\.git/index\.lock exists: another git process is working in this tree; wait for it to finish, or remove "
        r"the file if no git process is running",
        _stale_index_lock,
    ),
    Case(
        "symlink-in-the-base-tree",
        4,
        # refused by the tree grafting (patchkit/apply/grafting.py) before git would say "beyond a symbolic link"
        r"arch/link: a file and a directory of the same name; the series cannot place it",
        _symlink_in_base,
    ),
    Case("dirty-tree", 4, r"uncommitted changes in README; commit or stash them", _dirty),
    Case("mid-rebase", 4, r"a rebase is in progress; finish or abort it", _mid_rebase),
    Case(
        "branch-holds-other-work",
        4,
        r"branch patchkit/demo/v1 already exists and does not hold this data; pass --force",
        _branch_elsewhere,
    ),
]

USAGE_CASES = [
    Case("unknown-series", 2, r"no series 'nope'", lambda p: None, args=("apply", "nope")),
    Case("unknown-option", 2, r"No such option '--frobnicate'", lambda p: None, args=("apply", "--frobnicate")),
]

CASES: list[Case] = [*YAML_CASES, *DATA_CASES, *DIFF_CASES, *TREE_CASES, *USAGE_CASES]


# ---- the list loop and the commands added since: trailers, revise, rebase, ci, cache, verify's options ----------


def _mailable(p: Project) -> None:
    """The demo series ready to be mailed (a cover, a changelog, an overlay patch)."""
    write_mail_series(p.root, p.tree)


def _fifo_at(name: str) -> Callable[[Project], None]:
    return lambda p: os.mkfifo(p.root / name)


def _sparse_at(name: str, size: int) -> Callable[[Project], None]:
    def setup(p: Project) -> None:
        with (p.root / name).open("wb") as handle:
            handle.truncate(size)

    return setup


def _history_link_out(p: Project) -> None:
    _mailable(p)
    outside = p.root / "elsewhere"
    outside.mkdir()
    (p.series / "history").symlink_to(outside)


def _history_file(p: Project) -> None:
    _mailable(p)
    (p.series / "history").write_text("not a directory\n")


def _sent_then_edited(p: Project) -> None:
    """v1 recorded as sent (its patch-ids), then patch 1's diff edited: revise would snapshot what was not sent."""
    _mailable(p)
    series = load_series(p.series)
    record = replace(planned_revision(series, datetime(2026, 3, 1, tzinfo=UTC)), sent=True)
    (p.series / "series.yaml").write_text(series_yaml(record_revision(series, record)))
    p.set_diff(DIFF_README.replace("+second line", "+another second line"))


def _stale_snapshot(p: Project) -> None:
    _mailable(p)
    (p.series / "history" / "v1").mkdir(parents=True)
    (p.series / "history" / "v1" / "series.yaml").write_text("name: demo\n")


def _revised_then_set_back(p: Project) -> None:
    """Revised (v1 recorded, data at v2), then the revision set back to 1 by hand."""
    _mailable(p)

    revise(load_series(p.series), datetime(2026, 3, 1, tzinfo=UTC))
    p.mutate(lambda d: d.update(revision=1))


def _user_documents(p: Project) -> Path:
    documents = p.root / "documents"
    documents.mkdir(exist_ok=True)
    (documents / "thesis.txt").write_text("years of work\n")
    return documents


def _verdicts_link(p: Project) -> None:
    verdicts = paths.verdicts_dir()
    verdicts.parent.mkdir(parents=True, exist_ok=True)
    verdicts.symlink_to(_user_documents(p))


def _shard_link(p: Project) -> None:
    verdicts = paths.verdicts_dir()
    verdicts.mkdir(parents=True, exist_ok=True)
    (verdicts / "ab").symlink_to(_user_documents(p))


def _results_with_users_report(p: Project) -> None:
    (p.root / "mine").mkdir()
    (p.root / "mine" / "report.json").write_text('{"mine": true}\n')


def _deep_report(p: Project) -> None:
    (p.root / "report.json").write_text("[" * 100000 + "]" * 100000)


def _record_link(name: str, target: str) -> Callable[[Project], None]:
    def setup(p: Project) -> None:
        p.apply()
        path = p.tree.path / ".git" / "patchkit" / name
        path.unlink(missing_ok=True)
        path.symlink_to(target)

    return setup


def _applied_with_fifo(name: str) -> Callable[[Project], None]:
    def setup(p: Project) -> None:
        _mailable(p)
        p.apply()
        os.mkfifo(p.root / name)

    return setup


def _lint_yaml_fifo(p: Project) -> None:
    p.apply()
    os.mkfifo(p.series / "lint.yaml")


TEN_KB = "9" * 10240

LOOP_CASES = [
    Case("trailers-mbox-dev-zero", 3, r"^patchkit: error: /dev/zero: not a regular file \(a character device\); "
         r"refused without reading it$", lambda p: None, args=("trailers", "--mbox", "/dev/zero"), tree=False),
    Case("trailers-mbox-fifo", 3, r"replies\.mbox: not a regular file \(a FIFO\); refused without reading it$",
         _fifo_at("replies.mbox"), args=("trailers", "--mbox", "replies.mbox"), tree=False),
    Case("trailers-mbox-300mb", 3, r"replies\.mbox: 314572800 bytes, more than the limit of 268435456$",
         _sparse_at("replies.mbox", 300 * 1024 * 1024), args=("trailers", "--mbox", "replies.mbox"), tree=False),
    Case("trailers-mbox-empty", 3, r"replies\.mbox: empty file: no mail in it$", _sparse_at("replies.mbox", 0),
         args=("trailers", "--mbox", "replies.mbox"), tree=False),
    Case("import-mbox-fifo", 3, r"replies\.mbox: not a regular file \(a FIFO\)", _fifo_at("replies.mbox"),
         args=("import", "--mbox", "replies.mbox", "--series", "series/demo")),
    Case("import-mbox-dev-zero", 3, r"/dev/zero: not a regular file \(a character device\)", lambda p: None,
         args=("import", "--mbox", "/dev/zero", "--series", "series/demo")),
    Case("import-into-users-directory", 2, r"documents: not empty \(thesis\.txt\) and not a series",
         _user_documents, args=("import", "--range", "patchkit-base..HEAD", "--series", "documents")),
    Case("revise-history-symlink-out", 3, r"history is a symlink leading outside the series directory \(to .*"
         r"elsewhere\); revise writes its snapshot only inside the series", _history_link_out, args=("revise",),
         tree=False),
    Case("revise-history-a-file", 3, r"history: not a directory; revise keeps its snapshot of v1 there",
         _history_file, args=("revise",), tree=False),
    Case("revise-sent-then-edited", 3, r"series\.yaml: patch 1 \(README: Add a second line\) \[0001-readme\.diff\] "
         r"differs from what was sent as v1 \(patch-id [0-9a-f]{12} sent, [0-9a-f]{12} now\)", _sent_then_edited,
         args=("revise",), tree=False),
    Case("revise-stale-snapshot", 3, r"history/v1: v1 is already recorded there, and it is not what the data says",
         _stale_snapshot, args=("revise",), tree=False),
    Case("revise-already-recorded", 3, r"history/v1: v1 is already recorded there and in .*series\.yaml's history, yet "
         r"the data says revision 1; set revision to 2 if v1 was revised", _revised_then_set_back, args=("revise",),
         tree=False),
    Case("states-superscript-two", 2, r"^patchkit: error: --states: '²' is not a range of states", lambda p: None,
         args=("verify", "--states", "²", "--no-build")),
    Case("states-arabic-digit", 2, r"--states: '٣' is not a range of states", lambda p: None,
         args=("verify", "--states", "٣", "--no-build")),
    Case("states-empty", 2, r"^patchkit: error: --states: empty; give a range of states", lambda p: None,
         args=("verify", "--states", "", "--no-build")),
    Case("states-blank", 2, r"--states: empty", lambda p: None, args=("verify", "--states", "  ", "--no-build")),
    Case("states-10kb", 2, r"--states: 10240 characters \('9{40}'\.\.\.\), more than", lambda p: None,
         args=("verify", "--states", TEN_KB, "--no-build")),
    Case("rebase-onto-10kb", 2, r"^patchkit: error: --onto: 10240 characters \('9{40}'\.\.\.\), more than a Debian "
         r"version .{0,80}\(128\)$", lambda p: None, args=("rebase", "--onto", TEN_KB), tree=False),
    Case("rebase-onto-superscript", 2, r"--onto: '6\.1\.²' is not a Debian version", lambda p: None,
         args=("rebase", "--onto", "6.1.²"), tree=False),
    Case("rebase-onto-shell", 2, r"^patchkit: error: '6\.1;rm -rf /' is not a Debian package version", lambda p: None,
         args=("rebase", "--onto", "6.1;rm -rf /"), tree=False),
    Case("drift-onto-empty", 2, r"--onto: empty", lambda p: None, args=("drift", "--onto", ""), tree=False),
    Case("tree-prepare-version-newline", 2, r"--version: '6\.1\\n' is not a Debian version.*'\\n' at position 4",
         lambda p: None, args=("tree", "prepare", "--package", "linux-source-6.1", "--version", "6.1\n"),
         tree=False),
    Case("apply-base-is-an-option", 2, r"--base: '--upload-pack=x' is not a git revision", lambda p: None,
         args=("apply", "--base", "--upload-pack=x")),
    Case("import-range-empty-side", 2, r"--range: 'patchkit-base\.\.' is not a git range", lambda p: None,
         args=("import", "--range", "patchkit-base..", "--series", "series/demo")),
    Case("verify-config-control-char", 2, r"--config: 'gu\\x1best' is not a config name", lambda p: None,
         args=("verify", "--config", "gu\x1best", "--no-build")),
    Case("format-in-reply-to-10kb", 2, r"--in-reply-to: \d+ characters \('<a{39}'\.\.\.\)", lambda p: None,
         args=("format", "--in-reply-to", "<" + "a" * 5000 + "@x>")),
    Case("cache-clear-verdicts-symlink", 8, r"verdicts is a symlink \(to .*documents\), not a directory of the "
         r"cache; refused, nothing removed", _verdicts_link, args=("cache", "clear"), tree=False),
    Case("cache-clear-shard-symlink", 8, r"verdicts/ab is a symlink \(to .*documents\), not a directory of the cache",
         _shard_link, args=("cache", "clear"), tree=False),
    Case("cache-info-verdicts-symlink", 8, r"verdicts is a symlink", _verdicts_link, args=("cache", "info"),
         tree=False),
    Case("verify-results-users-report", 2, r"mine: not empty \(report\.json\) and not a previous 'patchkit verify' "
         r"output; give --results a new or empty directory \(nothing was written\)$", _results_with_users_report,
         args=("verify", "--results", "mine", "--no-build", "--no-lint")),
    Case("ci-merge-fifo", 3, r"report\.json: not a regular file \(a FIFO\)", _fifo_at("report.json"),
         args=("ci", "merge", "report.json"), tree=False),
    Case("ci-merge-dev-zero", 3, r"/dev/zero: not a regular file \(a character device\)", lambda p: None,
         args=("ci", "merge", "/dev/zero"), tree=False),
    Case("ci-merge-deep-json", 3, r"report\.json: JSON nested deeper than 64 levels$", _deep_report,
         args=("ci", "merge", "report.json"), tree=False),
    Case("send-verify-record-dev-zero", 3, r"demo\.verify\.json: not a verify record \(not a regular file \(a "
         r"character device\); refused without reading it\)", _record_link("demo.verify.json", "/dev/zero"),
         args=("send", "--dry-run")),
    Case("status-apply-record-fifo-link", 4, r"demo\.json: unreadable apply record \(not a regular file \(a "
         r"character device\)", _record_link("demo.json", "/dev/zero"), args=("status",)),
    Case("boot-timeout-nan", 2, r"^patchkit: error: --timeout: 'nan' is not a number of seconds from 1 to 86400$",
         lambda p: None, args=("boot", "--timeout", "nan")),
    Case("boot-timeout-inf", 2, r"--timeout: 'inf' is not a number of seconds", lambda p: None,
         args=("boot", "--timeout", "inf")),
    Case("drift-onto-17-times", 2, r"--onto: given 17 times, at most 16", lambda p: None,
         args=("drift", *("--onto", "newest") * 17), tree=False),
    Case("send-cafile-fifo", 3, r"ca\.pem: not a regular file \(a FIFO\); refused without reading it",
         _applied_with_fifo("ca.pem"),
         args=("send", "--dry-run", "--force", "--smtp-server", "127.0.0.1", "--smtp-cafile", "ca.pem")),
    Case("series-argument-10kb", 2, r"^patchkit: error: series: 10240 characters \('9{40}'\.\.\.\), more than a series "
         r"directory or name can have \(4096\)$", lambda p: None, args=("apply", TEN_KB)),
    Case("tree-path-10kb", 2, r"^patchkit: error: --tree: '9{40}'\.\.\. is too long for a path \(10240 characters\)$",
         lambda p: None, args=("status", "--tree", TEN_KB), tree=False),
    Case("results-path-newline", 2, r"--results: 'a\\nb' holds a NUL or a line break", lambda p: None,
         args=("verify", "--results", "a\nb", "--no-build")),
    Case("lint-yaml-fifo", 3, r"lint\.yaml: not a regular file \(a FIFO\); refused without reading it",
         _lint_yaml_fifo, args=("lint", "--no-checkpatch")),
]  # fmt: skip

CASES += LOOP_CASES
