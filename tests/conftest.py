"""Shared fixtures: hermetic git (pinned identity and dates, isolated HOME/XDG), small trees, the real tree."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchkit.series.load import load_series
from tests.helpers import (
    PINNED_ENV,
    GitTree,
    Project,
    SharedRealTree,
    patchkit_argv,
    process_env,
    valid_report,
    verify_reports_under,
    write_mail_series,
)
from tests.helpers import REPO_ROOT as REPO_ROOT  # the lint tests import it from here

BUNDLED_SERIES = REPO_ROOT / "series" / "tdx"

# What the machine's environment could bring into git: a repository or index of its own (a git hook running
# pytest sets these), or a mail address git would take as the identity.
_LEAKING = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            "GIT_COMMON_DIR", "GIT_NAMESPACE", "EMAIL")  # fmt: skip
_SESSION_HOME = pytest.StashKey[Path]()


def session_env(home: Path) -> dict[str, str]:
    """The environment every test runs in from the session's start: an empty HOME and global git config,
    no system git config, and the identity, dates, locale and time zone pinned."""
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),  # absent: an empty global config
        "GIT_CONFIG_NOSYSTEM": "1",
        **PINNED_ENV,
    }


def pytest_configure(config: pytest.Config) -> None:
    """Hermetic from the first fixture on: session- and module-scoped fixtures run before any function-scoped
    monkeypatch, so the machine's HOME, git config and identity are replaced for the whole process here. A
    machine whose git has no user.name/user.email (a fresh container) runs the suite as any other does."""
    home = Path(tempfile.mkdtemp(prefix="patchkit-test-home-"))
    config.stash[_SESSION_HOME] = home
    for key in _LEAKING:
        os.environ.pop(key, None)
    os.environ.update(session_env(home))


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_SESSION_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own empty HOME (and so its own caches and global git config), on top of the session's."""
    home = tmp_path_factory.mktemp("home")
    for key, value in session_env(home).items():
        monkeypatch.setenv(key, value)
    return home


@pytest.fixture(autouse=True)
def reports_match_their_schema(request: pytest.FixtureRequest, hermetic_env: Path) -> Iterator[None]:
    """Every report.json verify or ci merge writes in a test (under its tmp_path or the results cache) is
    read back as a CI job reads it: schema, then typed (:func:`tests.helpers.valid_report`).

    A test that writes malformed reports on purpose keeps them out of tmp_path (tmp_path_factory), or says so
    with ``@pytest.mark.bad_reports`` (the corpus of bad inputs: a FIFO, JSON nested 100,000 deep).
    """
    roots = [hermetic_env / ".cache"]
    if "tmp_path" in request.fixturenames and request.node.get_closest_marker("bad_reports") is None:
        roots.append(request.getfixturevalue("tmp_path"))
    yield
    for path in verify_reports_under(*roots):
        valid_report(path)


@pytest.fixture(autouse=True)
def keep_signal_handlers() -> Iterator[None]:
    """Library code run in process may install SIGINT/SIGTERM handlers; give the test process its own back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def small_tree(tmp_path: Path) -> GitTree:
    """A tiny kernel-like git tree with one base commit tagged patchkit-base."""
    return GitTree.create_small(tmp_path / "linux")


@pytest.fixture
def project(tmp_path: Path, small_tree: GitTree) -> Project:
    """The small demo series (two patches) in ``project/series/demo``, not applied yet."""
    return Project.create(tmp_path / "project", small_tree)


@pytest.fixture
def applied_project(project: Project) -> Project:
    """The small demo series applied to the small tree with ``patchkit apply`` (branch patchkit/demo/v1)."""
    project.apply()
    return project


@pytest.fixture
def applied_mail_project(tmp_path: Path, small_tree: GitTree) -> Project:
    """The demo series ready to be mailed (see :func:`write_mail_series`), applied to the small tree."""
    project = Project(tmp_path / "project", small_tree)
    write_mail_series(project.root, small_tree)
    project.apply()
    return project


@pytest.fixture(scope="session")
def real_base_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exact base of series/tdx (Debian's linux-source-6.1 at the version the series names, fetched
    with apt-get download when the installed one differs), prepared once per session via patchkit itself."""
    base = load_series(BUNDLED_SERIES, check_files=False).base
    cache = Path(os.environ.get("PATCHKIT_TEST_CACHE", tmp_path_factory.mktemp("kernel-cache")))
    if shutil.which("apt-get") is None and not any((cache / "patchkit" / "debs").glob(f"{base.package}_*")):
        pytest.skip("no apt-get to fetch the series' base package")
    env = process_env(XDG_CACHE_HOME=str(cache))  # the session's hermetic environment, this cache
    subprocess.run(patchkit_argv("tree", "prepare", str(BUNDLED_SERIES)), check=True, env=env, cwd=REPO_ROOT)
    return cache / "patchkit" / "trees" / f"{base.package}_{base.package_version}"


@pytest.fixture(scope="session")
def shared_real_tree(real_base_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> SharedRealTree:
    """The session's one checkout of the real tree (a clone sharing the prepared tree's objects). Checking out
    78,000 files and deleting them again took up to a minute and a half per test; resetting this one takes a
    second. Tests get it through :func:`real_tree`; a module-scoped fixture may take it for its module with
    ``shared_real_tree.reset()`` (modules run one after another, and the next taker resets it).

    It is not deleted at the end: that cost a minute under load, and pytest already removes its temporary
    directories (it keeps the last three sessions')."""
    return SharedRealTree.clone(real_base_tree, tmp_path_factory.mktemp("real-tree") / "linux-6.1")


@pytest.fixture
def real_tree(shared_real_tree: SharedRealTree) -> Path:
    """The real 6.1 tree as a fresh clone of the prepared one is: branch main at patchkit-base, nothing else."""
    return shared_real_tree.reset()
