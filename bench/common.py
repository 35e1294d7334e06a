"""What every benchmark shares: a private clone of the prepared default tree, commands timed, one config each."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from patchkit.cli.target import open_series
from patchkit.series.model import Series
from patchkit.tree import basetree
from patchkit.tree.repo import KernelTree


def git(tree: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(tree), *args], input=stdin, capture_output=True, check=True).stdout


def private_clone(prepared: Path, clone: Path) -> Path:
    """Clone ``prepared`` (sharing its objects) to ``clone``, on branch main at the base tag."""
    git(clone.parent, "clone", "-q", "--shared", "--no-checkout", str(prepared), str(clone))
    git(clone, "checkout", "-q", "-B", "main", basetree.BASE_REF)
    return clone


def default_tree_clone(series: Series, scratch: Path) -> KernelTree:
    """The series' default tree, prepared if needed, as a private clone under ``scratch``."""
    prepared = basetree.prepare_base(series)
    return KernelTree(private_clone(prepared.path, scratch / "linux"))


def run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds ``argv`` took; the benchmark stops (with its output) when it fails."""
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(argv[:6])} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr}")
    return time.perf_counter() - started


def one_config_copy(series_dir: Path, config: str, scratch: Path) -> Path:
    """A copy of the series whose series.yaml names only ``config``."""
    copy = scratch / "series" / series_dir.name
    shutil.copytree(series_dir, copy)
    data: dict[str, Any] = yaml.safe_load((copy / "series.yaml").read_text())
    data["configs"] = [c for c in data["configs"] if c["name"] == config]
    (copy / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return copy


def main_per_config(bench_config: Callable[[Path, str, Path, int], None]) -> int:
    """``[SERIES] [--config NAME ...] [-j N]``: run ``bench_config`` for each config (default: every one)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("series", nargs="?")
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    options = parser.parse_args()
    series = open_series(options.series)
    prepared = basetree.prepare_base(series).path
    for config in options.config or [c.name for c in series.configs]:
        bench_config(series.directory, config, prepared, options.jobs)
    return 0


PATCHKIT = [sys.executable, "-m", "patchkit"]


@dataclass(frozen=True)
class Sandbox:
    scratch: Path
    env: dict[str, str]  # caches (ccache, verdicts, results) inside the scratch directory
    clone: Path  # a private clone of the default tree
    copy: Path  # the series, naming only the config under test


@contextmanager
def sandbox(prefix: str, series_dir: Path, config: str, prepared: Path) -> Iterator[Sandbox]:
    """A scratch directory with empty caches, a tree clone and a one-config copy of the series."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch_name:
        scratch = Path(scratch_name)
        env = {**os.environ, "XDG_CACHE_HOME": str(scratch / "cache"), "CCACHE_DIR": str(scratch / "ccache"),
               "CI": "true"}  # fmt: skip
        clone = private_clone(prepared, scratch / "linux")
        yield Sandbox(scratch, env, clone, one_config_copy(series_dir, config, scratch))
