"""One owner per location (issue 19): cache paths, ``$GIT_DIR/patchkit``, base tag, default tree, freshness, processes.

Each owner is pinned by what it answers; the meta-tests read patchkit's source, so a location built
anywhere but in its owner fails here, naming the file and line, before two modules can drift apart.
"""

from __future__ import annotations

import ast
import io
import re
import time
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchkit.apply.statedir import StateDir
from patchkit.cli.boundary import run_guarded
from patchkit.errors import MissingToolError
from patchkit.series.load import series_name_problem
from patchkit.series.model import branch_name
from patchkit.tree import basetree
from patchkit.tree.repo import KernelTree
from patchkit.util import paths, proc
from tests.helpers import DIFF_README, REPO_ROOT, GitTree, Project, run_cli

PACKAGE = REPO_ROOT / "patchkit"


def _sources() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield str(path.relative_to(REPO_ROOT)), path.read_text(encoding="utf-8")


def _code_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines of code without docstrings and comments (a docstring may describe a path; code must not build it)."""
    skip: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                skip.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    lines = text.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column]
    for number, line in enumerate(lines, 1):
        if number not in skip:
            yield number, line


def _offenders(pattern: str, owners: set[str]) -> list[str]:
    found = re.compile(pattern)
    return [
        f"{name}:{number}: {line.strip()}"
        for name, text in _sources()
        if name not in owners
        for number, line in _code_lines(text)
        if found.search(line)
    ]


# --- the cache root and every path under it


def test_every_cache_location_is_under_the_root_that_xdg_cache_home_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "xdg" / "patchkit"
    assert paths.cache_root() == root
    assert paths.trees_dir() == root / "trees"
    assert paths.tree_dir("linux-source-6.1", "1:6.1.99-2") == root / "trees" / "linux-source-6.1_1%3a6.1.99-2"
    assert paths.debs_dir() == root / "debs"
    assert paths.work_dir("tdx") == root / "work" / "tdx"
    assert paths.results_dir("tdx") == root / "results" / "tdx"
    assert paths.verdicts_dir() == root / "verdicts"
    assert paths.initramfs_file("0123abcd") == root / "boot" / "initramfs-0123abcd.cpio.gz"
    assert paths.ccache_dir() == root / "ccache"
    assert paths.crashes_dir() == root / "crashes"
    assert paths.kvm_probe_file() == root / "kvm-probe.json"


def test_without_xdg_cache_home_the_root_is_in_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.cache_root() == tmp_path / ".cache" / "patchkit"
    assert paths.work_dir("tdx") == tmp_path / ".cache" / "patchkit" / "work" / "tdx"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../up", "x\0y"])
def test_a_name_from_outside_is_one_path_component_under_the_cache(name: str) -> None:
    for location in (paths.work_dir, paths.results_dir):
        with pytest.raises(ValueError, match="cannot name a directory under"):
            location(name)
    with pytest.raises(ValueError, match="cannot name a directory under"):
        paths.tree_dir("linux-source-6.1", "../../x" if name in ("", ".", "..") else name)


def test_the_crash_log_of_an_internal_error_goes_to_the_crashes_directory() -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    assert run_guarded(broken) == 70
    logs = list(paths.crashes_dir().iterdir())
    assert len(logs) == 1 and "RuntimeError: a bug" in logs[0].read_text()


def test_no_module_but_util_paths_builds_a_path_under_the_cache_root() -> None:
    assert _offenders(r"cache_root\(\)|XDG_CACHE_HOME|[\"']\.cache[\"']", {"patchkit/util/paths.py"}) == []


# --- $GIT_DIR/patchkit


def test_the_state_directory_names_each_file_once(small_tree: GitTree) -> None:
    state = StateDir(KernelTree(small_tree.path))
    own = small_tree.path / ".git" / "patchkit"
    assert state.path == own
    assert state.apply_lock == own / "apply.lock"
    assert state.intent == own / "apply-in-progress.json"
    assert state.apply_record("demo") == own / "demo.json"
    assert state.verify_record("demo") == own / "demo.verify.json"
    for bad in ("", ".hidden", "a/b", "../x"):
        with pytest.raises(ValueError, match="cannot name a file in"):
            state.apply_record(bad)


def test_a_linked_worktree_has_its_own_state_directory(small_tree: GitTree, tmp_path: Path) -> None:
    small_tree.git("worktree", "add", "-q", "--detach", str(tmp_path / "other"))
    state = StateDir(KernelTree(tmp_path / "other"))
    assert state.path == small_tree.path / ".git" / "worktrees" / "other" / "patchkit"


def test_apply_writes_its_record_and_nothing_else_into_the_state_directory(
    project: Project, small_tree: GitTree
) -> None:
    assert project.cli("apply", "--tree", str(small_tree.path)).code == 0
    state = StateDir(KernelTree(small_tree.path))
    assert sorted(p.name for p in state.path.iterdir()) == ["apply.lock", "demo.json"]
    assert state.apply_record("demo").is_file()


def test_no_module_but_the_state_directory_builds_git_dir_patchkit() -> None:
    owner = {"patchkit/apply/statedir.py"}
    assert _offenders(r"git_dir\s*/\s*[\"']patchkit|\.git/patchkit", owner) == []
    assert _offenders(r"[\"'](apply\.lock|apply-in-progress\.json)[\"']|\.verify\.json[\"']", owner) == []


# --- the base tag and the series-name pattern


def test_the_base_tag_is_written_in_one_place_only() -> None:
    assert basetree.BASE_REF == f"refs/tags/{basetree.BASE_TAG}" == "refs/tags/patchkit-base"
    assert _offenders(r"patchkit-base", {"patchkit/tree/basetree.py"}) == []


@pytest.mark.parametrize("name", ["tdx", "a", "tdx-2.0_rc", "9" * 64])
def test_a_series_name_the_schema_allows_is_one(name: str) -> None:
    assert series_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Upper", "lower-case letters"), ("tdx\n", "lower-case letters"), ("", "lower-case letters"),
        ("-x", "lower-case letters"), ("a" * 65, "at most 64"), ("a..b", "contains '..'"),
        ("x.lock", "ends in '.lock'"), ("x.", "ends in '.'"),
    ],
)  # fmt: skip
def test_a_series_name_is_refused_by_the_one_rule(name: str, why: str) -> None:
    problem = series_name_problem(name)
    assert problem is not None and why in problem


def test_the_series_name_pattern_and_the_branch_name_live_in_their_owners() -> None:
    assert _offenders(r"a-z0-9\]\[a-z0-9", set()) == []  # only the schema (a JSON file) spells the pattern
    assert _offenders(r"patchkit/\{[^}]*\}/v", {"patchkit/series/model.py"}) == []
    assert branch_name("tdx", 3) == "patchkit/tdx/v3"


# --- the default tree


def test_the_default_tree_is_the_exact_version_the_series_names() -> None:
    default = basetree.default_tree("linux-source-6.1", "6.1.99-1")
    assert default.package_version == "6.1.99-1"
    assert default.path == paths.tree_dir("linux-source-6.1", "6.1.99-1")
    assert not default.prepared


def test_status_and_import_name_the_same_unprepared_default_tree(project: Project) -> None:
    project.mutate(lambda data: data["base"].update(package_version="6.1.99-1"))
    default = paths.tree_dir("linux-source-6.1", "6.1.99-1")
    status = project.cli("status")
    assert status.code == 1
    assert f"tree:    {default} (default; not prepared yet: 'patchkit tree prepare')" in status.out
    imported = run_cli("import", "--range", "a..b", "--series", str(project.series), cwd=project.root)
    assert imported.code == 2
    assert f"the default tree {default} is not prepared" in imported.err


# --- branch freshness


def test_lint_and_format_refuse_a_stale_branch_with_the_words_status_uses(project: Project) -> None:
    tree = str(project.tree.path)
    project.apply()
    project.set_diff(DIFF_README.replace("+second line", "+another line"), "0001-readme.diff")
    status = project.cli("status", "--tree", tree)
    detail = "differs from the data at patch 1 (README: Add a second line): content changed"
    assert status.code == 1 and f"state:   {detail}" in status.out
    for command, doing in (("lint", "linting"), ("format", "formatting")):
        result = project.cli(command, "--tree", tree)
        assert result.code == 4, result.err
        assert (
            f"patchkit/demo/v1 {detail}; run 'patchkit apply' (the branch is as patchkit left it) before {doing}"
            in result.err
        )
        assert "--force" not in result.err  # the advice never throws an edit on the branch away


def test_lint_and_format_of_a_series_never_applied_say_to_apply_it(project: Project) -> None:
    for command in ("lint", "format"):
        result = project.cli(command, "--tree", str(project.tree.path))
        assert result.code == 4
        assert "series 'demo' is not applied there; run 'patchkit apply' first" in result.err


def test_only_the_states_module_compares_a_branch_with_the_data_or_the_record() -> None:
    owner = {"patchkit/apply/states.py"}
    assert _offenders(r"\bdivergence\(", owner) == []
    assert _offenders(r"refs/heads/\{record\.", owner) == []
    assert _offenders(r"record\.tip\s*[!=]=|[!=]=\s*record\.tip\b", owner) == []


# --- subprocesses


def _imported_modules(text: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_util_proc_starts_processes_and_only_tree_repo_uses_gitpython() -> None:
    importers: dict[str, list[str]] = {"subprocess": [], "git": [], "pty": [], "multiprocessing": []}
    for name, text in _sources():
        for module in _imported_modules(text) & set(importers):
            importers[module].append(name)
    assert importers == {
        "subprocess": ["patchkit/util/proc.py"], "git": ["patchkit/tree/repo.py"], "pty": [], "multiprocessing": []
    }  # fmt: skip
    assert _offenders(r"\bos\.(system|popen|exec\w*|spawn\w*|fork)\(", set()) == []


def test_a_missing_program_is_one_error_naming_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    for start in (lambda: proc.run(["tar", "--version"]), lambda: proc.start(["dpkg-deb", "--version"])):
        with pytest.raises(MissingToolError) as caught:
            start()
        assert caught.value.exit_code == 7 and caught.value.packages in (("tar",), ("dpkg",))


def test_run_adds_env_to_the_environment_and_bounds_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHKIT_OUTER", "kept")
    shown = proc.run(["sh", "-c", 'printf "%s %s" "$PATCHKIT_OUTER" "$PATCHKIT_INNER"'], env={"PATCHKIT_INNER": "set"})
    assert shown.stdout == b"kept set"
    with pytest.raises(proc.TimeoutExpired):
        proc.run(["sleep", "5"], timeout=0.2)


def test_stop_group_ends_a_child_and_what_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    child = proc.start(["sh", "-c", f"sleep 60 & echo $! > {pids}; wait"], new_session=True)
    for _ in range(100):
        if pids.is_file() and pids.read_text().strip():
            break
        time.sleep(0.05)
    grandchild = int(pids.read_text())
    proc.stop_group(child, grace=1.0)
    assert child.returncode is not None
    time.sleep(0.1)
    assert not Path(f"/proc/{grandchild}").exists() or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]
