"""drift: does the series still apply (and build and boot) on the versions of its base apt offers now?

Changes nothing of the series. Exit 0 when it applies on every version
checked; 4 when a patch does not apply on one; with ``--build``, 5 or 6 when
the carried series does not build or boot there. A scheduled CI job runs
this to warn maintainers before their users hit the drift.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from patchkit.apply.engine import apply_series
from patchkit.apply.rebase import PatchConflict, carry, drift_between, rebased_series
from patchkit.apply.states import series_states
from patchkit.cli.commands import verdict_exit
from patchkit.cli.options import DriftOptions
from patchkit.cli.target import open_series
from patchkit.errors import ExitCode, PatchkitError
from patchkit.series.dump import write_series
from patchkit.series.load import load_series
from patchkit.series.model import Series
from patchkit.tree import basetree, debian
from patchkit.tree.basetree import PreparedTree
from patchkit.tree.repo import KernelTree
from patchkit.util import tools
from patchkit.util.progress import Progress
from patchkit.verify.plan import BootPlan, BuildPlan
from patchkit.verify.results import new_results_dir
from patchkit.verify.stages import boot_error, build_error, run_stages


@dataclass
class DriftCheck:
    which: list[str]  # "installed", "newest"
    package_version: str
    kernel: str = ""
    tree: str = ""
    applies: bool = False
    same_base: bool = False
    failed_patch: int | None = None
    conflicts: list[str] = field(default_factory=list)
    message: str = ""
    changed_files: list[str] = field(default_factory=list)
    touched_files: list[str] = field(default_factory=list)
    rewritten_patches: list[int] = field(default_factory=list)
    verify_exit: int | None = None  # with --build: verify's exit code on that base

    @property
    def exit_code(self) -> int:
        if not self.applies:
            return ExitCode.GIT
        return self.verify_exit or ExitCode.OK

    def verdict(self) -> str:
        if not self.applies:
            return f"does not apply at patch {self.failed_patch}: {self.message}"
        text = "same base" if self.same_base else "applies"
        if self.rewritten_patches:
            text += f" ({len(self.rewritten_patches)} diff(s) would be rewritten: context moved)"
        if self.verify_exit is not None:
            text += ", builds and boots" if self.verify_exit == 0 else f", but verify failed (exit {self.verify_exit})"
        return text


def run(options: DriftOptions) -> int:
    series = open_series(options.series)
    checks: list[DriftCheck] = []
    with Progress() as progress:
        old = basetree.prepare_base(series, progress)
        for which, version in _targets(series.base.package, options.versions):
            found = next((c for c in checks if c.package_version == version), None)
            if found is not None:
                found.which.append(which)
                continue
            new = basetree.prepare(series.base.package, version, progress=progress)
            checks.append(_check(series, old, new, which))
    if options.build:
        for check in checks:
            if check.applies:
                check.verify_exit = _verify_on(series, old, check)
    worst = max((c.exit_code for c in checks), default=0)
    if options.fmt == "json":
        click.echo(json.dumps(_json(series, checks, worst), indent=2))
    else:
        click.echo(f"series:  {series.name} v{series.revision}, based on {series.base.describe()}")
        for check in checks:
            names = " and ".join(w for w in check.which if w != check.package_version)
            click.echo(f"{names + ' ' if names else ''}{check.package_version}: {check.verdict()}")
            if check.changed_files:
                touched = f", {len(check.touched_files)} touched by the series" if check.touched_files else ""
                click.echo(f"  the base moved in {len(check.changed_files)} file(s){touched}")
                for name in check.touched_files:
                    click.echo(f"    {name}")
        if worst:
            click.echo(f"the series has drifted; move it with: patchkit rebase {series.name} --onto VERSION")
    failing = next((c for c in checks if c.exit_code == worst), None)
    return verdict_exit(worst, f"{failing.package_version}: {failing.verdict()}" if failing else "drifted")


def _targets(package: str, wanted: tuple[str, ...]) -> list[tuple[str, str]]:
    if wanted:
        return [(which, basetree.resolve_version(package, which)) for which in wanted]
    targets: list[tuple[str, str]] = []
    installed = debian.installed_version(package)
    if installed is not None:
        targets.append(("installed", installed))
    targets.append(("newest", basetree.resolve_version(package, basetree.NEWEST)))
    return targets


def _check(series: Series, old: PreparedTree, new: PreparedTree, which: str) -> DriftCheck:
    check = DriftCheck([which], new.package_version, new.version, new.base_tree)
    if new.base_tree == old.base_tree:
        check.applies = check.same_base = True
        return check
    drift = drift_between(series, old, new)
    check.changed_files, check.touched_files = drift.changed_files, drift.touched_files
    try:
        carried = carry(series, old, new)
    except PatchConflict as conflict:
        check.failed_patch, check.conflicts, check.message = conflict.patch.number, conflict.files, conflict.message
        return check
    check.applies = True
    check.rewritten_patches = [c.patch.number for c in carried if c.changed]
    return check


def _verify_on(series: Series, old: PreparedTree, check: DriftCheck) -> int:
    """Carry the series into a scratch copy on that base, apply it to a private clone, build and boot its end.

    Whether it still builds and boots there (every config), not a per-patch bisect of it: only the end.
    """
    new = basetree.prepare(series.base.package, check.package_version)
    with tempfile.TemporaryDirectory(prefix="patchkit-drift-") as scratch:
        copy = Path(scratch) / series.name
        shutil.copytree(series.directory, copy)
        carried = carry(series, old, new)
        moved = replace(rebased_series(series, new), directory=copy)
        write_series(moved, {c.patch.diff: c.diff for c in carried if c.changed})
        try:
            tools.require(tools.BUILD + tools.BOOT)
            moved = load_series(copy)
            tree = KernelTree(basetree.private_clone(new, Path(scratch) / "linux"))
            record = apply_series(tree, moved).record
            end = series_states(record)[-1]
            results = new_results_dir(series.name)
            click.echo(f"{check.package_version}: building and booting the carried series' end; results in {results}")
            stages = run_stages(
                tree, moved, record, results, build=BuildPlan(list(moved.configs), [end]),
                boot=BootPlan(frozenset({end.index}), end.index),
            )  # fmt: skip
        except PatchkitError as exc:
            click.echo(f"patchkit: error: {exc.message}", err=True)
            return int(exc.exit_code)
    failed = (stages.build and build_error(stages.build)) or (stages.boot and boot_error(stages.boot))
    if failed:
        click.echo(f"{check.package_version}: {failed.message}", err=True)
        return int(failed.exit_code)
    return ExitCode.OK


def _json(series: Series, checks: list[DriftCheck], worst: int) -> dict[str, Any]:
    return {
        "series": series.name,
        "revision": series.revision,
        "base": series.base.to_data(),
        "exit_code": worst,
        "checks": [asdict(c) for c in checks],  # every field of DriftCheck, in its order
    }
