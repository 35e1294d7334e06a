"""The verdict cache on a tree whose Makefile builds in no time (real make, real git, a fake kernel).

Each `make all` appends the state it built to out/<config>/builds.log, so the tests
can see which builds really ran and which verdicts came from the cache.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from patchkit.apply.engine import apply_series
from patchkit.apply.record import require_record
from patchkit.kbuild.walk import BuildReport, build_states
from patchkit.kbuild.worktree import WorkTree
from patchkit.series.load import load_series
from patchkit.series.model import Series
from patchkit.tree.repo import KernelTree
from patchkit.util.store import VerdictCache, make_key
from tests.helpers import GitTree, fake_kernel_files, small_series_data, write_series

# Each build records what it built, so the tests see which builds really ran.
BUILD_RECIPE = (
    "mkdir -p $(O)/arch/x86/boot && cat *.c > $(O)/arch/x86/boot/bzImage && echo $$(cat *.c) >> $(O)/builds.log"
)


def _diff(number: int, value: str = "") -> str:
    """Patch ``number`` adds s<number>.c, so every later state holds what it adds."""
    return (
        f"diff --git a/s{number}.c b/s{number}.c\nnew file mode 100644\nindex 000000000000..000000000000\n"
        f"--- /dev/null\n+++ b/s{number}.c\n@@ -0,0 +1 @@\n+int s{number} = {value or number};\n"
    )


def _project(root: Path, diffs: list[str], fragments: dict[str, str]) -> tuple[KernelTree, Series]:
    tree = GitTree.create_small(root / "linux", {**fake_kernel_files(BUILD_RECIPE), "state.c": "int state = 0;\n"})
    (tree.path / "scripts/kconfig/merge_config.sh").chmod(0o755)
    tree.git("commit", "-q", "-a", "-m", "mode")
    tree.git("tag", "-f", "patchkit-base")
    patches = [
        {"subject": f"x: State {n}", "author": {"name": "A", "email": "a@example.org"},
         "date": "2026-03-01T00:00:00+00:00", "diff": f"{n:04d}.diff"}
        for n in range(1, len(diffs) + 1)
    ]  # fmt: skip
    data = small_series_data(tree, patches)
    data["configs"] = [{"name": name, "fragment": f"{name}.config"} for name in fragments]
    files = {f"{n:04d}.diff": text for n, text in enumerate(diffs, start=1)}
    files.update({f"{name}.config": text for name, text in fragments.items()})
    directory = write_series(root / "series" / "demo", data, files)
    return KernelTree(tree.path), load_series(directory)


def _build(tree: KernelTree, series: Series, results: Path, cache: VerdictCache) -> BuildReport:
    apply_series(tree, series, force=True)
    record = require_record(tree, series.name)
    work = WorkTree(tree, series.name)
    with work.locked():
        return build_states(tree, series, record, list(series.configs), results, cache=cache)


def _cached(report: BuildReport) -> list[tuple[str, str, bool]]:
    return [(r.config, r.state.label, bool(r.cached)) for r in report.results]


def _built(root: Path, config: str) -> list[str]:
    log = root / "patchkit" / "work" / "demo" / "out" / config / "builds.log"
    return log.read_text().splitlines() if log.is_file() else []


FRAGMENTS = {"guest": "CONFIG_X86_64=y\n", "host": "CONFIG_X86_64=y\n# host\n"}


@pytest.fixture
def cache_home() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"])


def test_an_unchanged_series_is_all_hits_and_a_changed_patch_rebuilds_from_it_on(
    tmp_path: Path, cache_home: Path
) -> None:
    tree, series = _project(tmp_path, [_diff(1), _diff(2), _diff(3)], FRAGMENTS)
    cold = _build(tree, series, tmp_path / "r1", VerdictCache())
    assert not any(cached for _, _, cached in _cached(cold))
    assert len(_built(cache_home, "guest")) == 4

    warm = _build(tree, series, tmp_path / "r2", VerdictCache())
    assert all(cached for _, _, cached in _cached(warm))
    assert len(_built(cache_home, "guest")) == 4  # make did not run again
    assert warm.results[0].cached.startswith("cached from ") and str(tmp_path / "r1") in warm.results[0].cached

    # v2 changes patch 2 only: base and patch 1 are hits, patches 2 and 3 build again, for both configs.
    (series.directory / "0002.diff").write_text(_diff(2, "22"))
    v2 = _build(tree, load_series(series.directory), tmp_path / "r3", VerdictCache())
    hits = {(config, label) for config, label, cached in _cached(v2) if cached}
    assert hits == {(c, s) for c in ("guest", "host") for s in ("base", "patch 1")}
    last_two = _built(cache_home, "guest")[-2:]
    assert "int s2 = 22;" in last_two[0] and "int s3" not in last_two[0]
    assert "int s2 = 22;" in last_two[1] and "int s3 = 3;" in last_two[1]

    fresh = _build(tree, load_series(series.directory), tmp_path / "r4", VerdictCache(enabled=False))
    assert not any(cached for _, _, cached in _cached(fresh))


def test_a_changed_fragment_invalidates_that_config_only(tmp_path: Path, cache_home: Path) -> None:
    tree, series = _project(tmp_path, [_diff(1)], FRAGMENTS)
    _build(tree, series, tmp_path / "r1", VerdictCache())
    (series.directory / "host.config").write_text("CONFIG_X86_64=y\n# host, changed\n")
    again = _build(tree, load_series(series.directory), tmp_path / "r2", VerdictCache())
    assert {(c, cached) for c, _, cached in _cached(again)} == {("guest", True), ("host", False)}


def test_another_compiler_invalidates_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree, series = _project(tmp_path, [_diff(1)], FRAGMENTS)
    _build(tree, series, tmp_path / "r1", VerdictCache())
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "gcc").write_text("#!/bin/sh\necho 'gcc (Patchkit Test) 99.1.0'\n")
    (fake_bin / "gcc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    again = _build(tree, series, tmp_path / "r2", VerdictCache())
    assert not any(cached for _, _, cached in _cached(again))


def test_a_corrupt_or_truncated_entry_is_ignored_with_a_warning(tmp_path: Path, cache_home: Path) -> None:
    tree, series = _project(tmp_path, [_diff(1)], {"guest": "CONFIG_X86_64=y\n"})
    _build(tree, series, tmp_path / "r1", VerdictCache())
    entries = sorted((cache_home / "patchkit" / "verdicts").glob("??/*.json"))
    assert len(entries) == 2
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # truncated
    tampered = json.loads(entries[1].read_text())
    tampered["verdict"]["data"]["status"] = "failed" if tampered["verdict"]["data"]["status"] == "ok" else "ok"
    entries[1].write_text(json.dumps(tampered))  # edited: its checksum no longer matches
    warnings: list[str] = []
    again = _build(tree, series, tmp_path / "r2", VerdictCache(warn=warnings.append))
    assert not any(cached for _, _, cached in _cached(again))
    assert all(r.status == "ok" for r in again.results)
    assert len(warnings) == 2 and all("corrupt or truncated; ignored" in w for w in warnings)
    third = _build(tree, series, tmp_path / "r3", VerdictCache())  # the bad entries were replaced
    assert all(cached for _, _, cached in _cached(third))


def _put_many(root: str, worker: int) -> None:
    cache = VerdictCache(Path(root))
    for n in range(40):
        cache.put(make_key("build", n=n), "build", {"worker": worker, "n": n, "pad": "x" * 2000}, f"w{worker}")


def test_concurrent_writers_leave_only_whole_entries(tmp_path: Path) -> None:
    root = tmp_path / "verdicts"
    workers = [multiprocessing.Process(target=_put_many, args=(str(root), w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    cache = VerdictCache(root, warn=lambda text: pytest.fail(text))
    for n in range(40):
        verdict = cache.get(make_key("build", n=n))
        assert verdict is not None and verdict.data["n"] == n
    assert cache.info()["entries"] == {"build": 40}
    assert not list(root.rglob("*.tmp"))


def test_the_cache_stays_under_its_size_bound_dropping_the_least_recently_used(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "verdicts", max_bytes=20_000)
    for n in range(30):
        cache.put(make_key("build", n=n), "build", {"pad": "x" * 2000}, "here")
    info = cache.info()
    assert info["bytes"] <= 20_000
    assert cache.get(make_key("build", n=29)) is not None and cache.get(make_key("build", n=0)) is None
    assert cache.clear() == sum(info["entries"].values())
    assert cache.info()["entries"] == {}


def test_a_kept_image_is_stored_by_its_builds_hash_and_not_trusted_once_changed(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "verdicts")
    image = tmp_path / "bzImage"
    image.write_bytes(b"a kernel image")
    digest = hashlib.sha256(b"a kernel image").hexdigest()
    cache.keep_image(image, digest)
    kept = cache.image(digest)
    assert kept == tmp_path / "verdicts" / "images" / digest
    assert kept.read_bytes() == b"a kernel image"
    kept.write_bytes(b"another kernel image")  # a kept copy that no longer has its name's hash is not booted
    assert cache.image(digest) is None
