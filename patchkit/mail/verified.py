"""What ``verify`` last found for a series in a tree: the record ``send`` checks before mailing.

Kept beside apply's record as ``$GIT_DIR/patchkit/<series>.verify.json``: the
revision, the tree hash of the verified branch tip, the verdict and the stages
that ran. ``send`` mails only the exact revision and content that passed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from patchkit import atomic
from patchkit.applied import AppliedSeries
from patchkit.errors import TreeError
from patchkit.gitrepo import KernelTree
from patchkit.series.model import Series


@dataclass(frozen=True)
class Verified:
    revision: int
    tree: str
    passed: bool
    stages: dict[str, bool]
    date: str


def _path(tree: KernelTree, series_name: str) -> Path:
    return tree.git_dir / "patchkit" / f"{series_name}.verify.json"


def record_verify(
    tree: KernelTree, series: Series, record: AppliedSeries, exit_code: int, stages: dict[str, bool]
) -> None:
    """Called at the end of verify: remember the verdict for this revision and this content."""
    tip_tree = tree.tree_of(record.tip) or ""
    data = {
        "revision": series.revision,
        "tree": tip_tree,
        "passed": exit_code == 0,
        "stages": stages,
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    atomic.write_text(_path(tree, series.name), json.dumps(data, indent=2) + "\n")


def read_verified(tree: KernelTree, series_name: str) -> Verified | None:
    path = _path(tree, series_name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Verified(int(data["revision"]), str(data["tree"]), bool(data["passed"]), dict(data["stages"]),
                        str(data["date"]))  # fmt: skip
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TreeError(f"{path}: unreadable verify record ({exc}); run 'patchkit verify' again") from exc


def require_verified(tree: KernelTree, series: Series, record: AppliedSeries) -> Verified:
    """The passing verify record of exactly this revision and content, or an error saying what to run."""
    verified = read_verified(tree, series.name)
    tip_tree = tree.tree_of(record.tip)
    if verified is None:
        raise TreeError(f"{tree.path}: series '{series.name}' v{series.revision} was never verified; run "
                        "'patchkit verify' first (or send --force)")  # fmt: skip
    if verified.revision != series.revision or verified.tree != tip_tree:
        raise TreeError(
            f"{tree.path}: the last verify was of v{verified.revision} (tree {verified.tree[:12]}), not of v"
            f"{series.revision} as applied now (tree {(tip_tree or '?')[:12]}); run 'patchkit verify' again "
            "(or send --force)"
        )
    if not verified.passed:
        raise TreeError(f"{tree.path}: verify of v{series.revision} failed on {verified.date}; fix it and verify "
                        "again (or send --force)")  # fmt: skip
    return verified
