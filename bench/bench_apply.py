"""Benchmark: `patchkit apply` against `git am` of the same patches on the same tree, in one run.

Usage: python bench/bench_apply.py [SERIES] [--rounds N]

Both sides start from the base commit checked out in a private clone of the
default tree and end with the series checked out on a branch; the figure
reported is the ratio of medians (target: <= 1.1).
(`tree prepare` has its own benchmark: bench/bench_prepare.py.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import default_tree_clone, git
from patchkit.apply.engine import apply_series
from patchkit.cli.target import open_series
from patchkit.tree import basetree


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("series", nargs="?")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    series = open_series(options.series)
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as scratch:
        tree = default_tree_clone(series, Path(scratch))
        clone = tree.path
        # The mailbox git am reads: the same patches, from patchkit's own branch.
        apply_series(tree, series)
        mbox = git(clone, "format-patch", "--stdout", f"{basetree.BASE_REF}..{series.branch}")
        am_times, apply_times = [], []
        for _ in range(options.rounds):
            git(clone, "checkout", "-q", "main")
            git(clone, "branch", "-q", "-D", series.branch)
            git(clone, "checkout", "-q", "-b", "am", "main")
            started = time.perf_counter()
            git(clone, "am", "-q", "--committer-date-is-author-date", stdin=mbox)
            am_times.append(time.perf_counter() - started)
            git(clone, "checkout", "-q", "main")
            git(clone, "branch", "-q", "-D", "am")
            started = time.perf_counter()
            apply_series(tree, series)
            apply_times.append(time.perf_counter() - started)
        am, ours = statistics.median(am_times), statistics.median(apply_times)
        patches = len(series.mailed_patches)
        print(f"git am          : {am:.3f}s median of {options.rounds} ({patches} patches)")
        print(f"patchkit apply  : {ours:.3f}s median of {options.rounds}")
        print(f"ratio           : {ours / am:.2f}x (target <= 1.10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
