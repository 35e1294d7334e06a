"""import: turn a branch or a mailbox into series data (into an existing series, only what changed)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from patchkit.cli.commands import notify
from patchkit.cli.options import ImportOptions
from patchkit.errors import UsageError, os_problem
from patchkit.mail.importer import import_mbox, import_range
from patchkit.mail.trailers import collect
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE, load_series
from patchkit.series.lock import series_lock
from patchkit.series.model import Base, Series
from patchkit.tree import basetree
from patchkit.tree.repo import KernelTree
from patchkit.util import atomic


def run(options: ImportOptions) -> int:
    series_dir = options.series_dir
    if (options.rev_range is None) == (options.mbox is None):
        raise UsageError("give exactly one of --range BASE..TIP or --mbox FILE")
    if series_dir is None:
        if options.name is None:
            raise UsageError("say where to write: --series DIR or --name NAME (writes series/NAME)")
        series_dir = Path("series") / options.name
    _require_series_or_new(series_dir)
    with series_lock(_lock_directory(series_dir), notify=notify):
        series, notes = _import(options, series_dir)  # the existing data is read under the lock
    for note in notes:
        click.echo(note)
    overlays = len(series.overlay_patches)
    extra = f" and {overlays} overlay" if overlays else ""
    what = f"{len(series.mailed_patches)} patches{extra}"
    click.echo(f"{series.directory}: {what} written (series {series.name} v{series.revision})")
    return 0


def _import(options: ImportOptions, series_dir: Path) -> tuple[Series, list[str]]:
    if options.rev_range is not None:
        tree = KernelTree(options.tree or _default_tree_for(series_dir, options.package))
        recorded = basetree.recorded_package(tree)
        package_version = recorded[1] if recorded is not None and recorded[0] == options.package else ""
        imported_range = import_range(
            tree, options.rev_range, series_dir, name=options.name, package=options.package,
            overlay_tip=options.overlay_tip, package_version=package_version,
        )  # fmt: skip
        series, notes = imported_range.series, imported_range.notes
    else:
        assert options.mbox is not None
        mbox_base = None
        if options.tree is not None:
            tree = KernelTree(options.tree)
            rev = options.base or (basetree.BASE_REF if tree.rev_parse(basetree.BASE_REF) else "HEAD")
            tree_hash = tree.tree_of(rev)
            if tree_hash is None:
                raise UsageError(f"{tree.path}: no commit '{rev}'")
            version = basetree.kernel_version_of_makefile(tree.git("show", f"{rev}:Makefile", check=False))
            mbox_base = Base(options.package, version, tree_hash)
        imported = import_mbox(options.mbox, series_dir, name=options.name, base=mbox_base)
        series, notes = imported.series, imported.notes
        if imported.other_revisions:
            others = ", ".join(f"v{r}" for r in imported.other_revisions)
            click.echo(f"{options.mbox}: also holds {others}; imported the newest, v{series.revision}")
        if imported.replies:
            # Replies in the same mailbox: their review trailers, matched as 'patchkit trailers' does.
            outcome = collect(load_series(series.directory), options.mbox)
            for line in outcome.added:
                click.echo(f"trailer added: {line}")
            for line in outcome.skipped:
                click.echo(f"trailer skipped: {line}")
            if outcome.added:
                atomic.write_text(series.directory / SERIES_FILE, series_yaml(outcome.series))
                series = outcome.series
    return series, list(notes)


def _require_series_or_new(series_dir: Path) -> None:
    """The output-directory rule for a series: new, empty, or a series already (import replaces only its files)."""
    if not series_dir.is_dir() or os.path.lexists(series_dir / SERIES_FILE):
        return
    try:
        entries = sorted(os.listdir(series_dir))
    except OSError as exc:
        raise os_problem(series_dir, exc, "read the series directory") from exc
    if entries:
        more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
        raise UsageError(
            f"{series_dir}: not empty ({entries[0]}{more}) and not a series (no {SERIES_FILE}); import into a new "
            "or empty directory, or an existing series (nothing was written)"
        )


def _lock_directory(series_dir: Path) -> Path:
    """The series lock of an existing series; for a new one, that of the directory it is made in."""
    for candidate in (series_dir, *series_dir.absolute().parents):
        if candidate.is_dir():
            return candidate
    return Path("/")


def _default_tree_for(series_dir: Path, package: str) -> Path:
    """Without --tree: the default tree of the series' base (else the installed package), once it is prepared."""
    package_version = ""
    if (series_dir / SERIES_FILE).is_file():
        base = load_series(series_dir, check_files=False).base
        package, package_version = base.package, base.package_version
    default = basetree.default_tree(package, package_version)
    if not default.prepared:
        raise UsageError(
            f"no --tree given and the default tree {default.path} is not prepared ('patchkit tree prepare')"
        )
    return default.path
