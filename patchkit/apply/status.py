"""What ``patchkit status`` finds: the series, its base, the tree, and whether the branch still matches the data.

:class:`SeriesStatus` is the answer as a value; the command prints it as text or, with ``--format json``, as
``to_json()``, whose shape is ``status-schema.json`` beside this module (JSON Schema draft 2020-12), so a
machine reads it without parsing the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchkit.apply.states import BranchState, compare_branch
from patchkit.errors import ExitCode
from patchkit.series.model import Series
from patchkit.tree import basetree, debian
from patchkit.tree.repo import KernelTree

FORMAT = 1


@dataclass(frozen=True)
class SeriesStatus:
    series: Series
    installed: str | None  # the installed version of the base package (None: not installed)
    tree: Path
    default_tree: bool  # the default tree (not --tree)
    prepared: bool  # whether the tree exists (a default tree not prepared yet has no branch)
    branch: BranchState | None  # None: the tree is not prepared

    @property
    def matches(self) -> bool:
        return self.branch is not None and self.branch.matches

    @property
    def exit_code(self) -> int:
        """0 when the branch matches the data; 1 (a failed check) when it does not or nothing is applied."""
        return int(ExitCode.OK if self.matches else ExitCode.FINDINGS)

    def to_json(self) -> dict[str, Any]:
        series, base = self.series, self.series.base
        branch = None
        if self.branch is not None:
            state = self.branch
            branch = {"name": state.branch, "exists": state.exists, "tip": state.tip,
                      "checked_out": state.checked_out, "matches": state.matches, "detail": state.detail}  # fmt: skip
        return {
            "format": FORMAT,
            "series": series.name,
            "revision": series.revision,
            "directory": str(series.directory),
            "patches": len(series.mailed_patches),
            "overlays": len(series.overlay_patches),
            "base": {
                "package": base.package,
                "package_version": base.package_version or None,
                "version": base.version,
                "tree": base.tree,
            },
            "installed": self.installed,
            "tree": {"path": str(self.tree), "default": self.default_tree, "prepared": self.prepared},
            "branch": branch,
            "matches": self.matches,
            "exit_code": self.exit_code,
        }


def series_status(series: Series, tree: Path | None) -> SeriesStatus:
    """The status of ``series`` in ``tree`` (None: the default tree, which is not prepared here)."""
    installed = debian.installed_version(series.base.package)
    if tree is None:
        default = basetree.default_tree(series.base.package, series.base.package_version)
        if not default.prepared:
            return SeriesStatus(series, installed, default.path, True, False, None)
        return SeriesStatus(
            series, installed, default.path, True, True, compare_branch(KernelTree(default.path), series)
        )
    return SeriesStatus(series, installed, tree, False, True, compare_branch(KernelTree(tree), series))
