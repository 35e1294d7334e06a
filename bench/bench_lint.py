"""Benchmark: lint of every state of the series (without checkpatch) against checkpatch.pl over the
same patches, in one run.

Usage: python bench/bench_lint.py [SERIES] [--rounds N]

The series is applied in a private clone of the default tree. Lint (lint_series, checkpatch=False:
base + one state per patch) is timed over N rounds in this process, each with fresh caches; the
first round is reported apart (it pays for the tree-sitter import and cold object reads).
checkpatch.pl (the base's own, --strict, on each patch's git format-patch mail) is timed one
patch after the other, and also two at a time as lint runs it. CPU time (this process and its git
children) is reported beside wall time: on a shared machine it is the steadier number. Targets: the
first round <= 3 s wall, later rounds < 1 s (wall, or CPU when the machine is busy), and <= 0.5x
checkpatch over the same patches.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import default_tree_clone
from patchkit.apply.engine import apply_series
from patchkit.apply.record import require_record
from patchkit.cli.target import open_series
from patchkit.lint.checkpatch import Checkpatch
from patchkit.lint.engine import lint_series


def _cpu() -> float:
    """CPU seconds of this process and its finished children (git)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("series", nargs="?")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    series = open_series(options.series)
    with tempfile.TemporaryDirectory(prefix="bench-lint-") as scratch:
        tree = default_tree_clone(series, Path(scratch))
        apply_series(tree, series)
        record = require_record(tree, series.name)

        lint_times = []
        lint_cpu = []
        states = findings = 0
        for _ in range(options.rounds):
            started, cpu = time.perf_counter(), _cpu()
            report = lint_series(tree, series, record, checkpatch=False)
            lint_times.append(time.perf_counter() - started)
            lint_cpu.append(_cpu() - cpu)
            states, findings = len(report.states), len(report.findings)

        runner = Checkpatch(tree, record.base)
        try:
            commits = [p.commit for p in record.patches]
            started = time.perf_counter()
            for commit in commits:
                runner.run_one(commit)
            serial = time.perf_counter() - started
            started = time.perf_counter()
            runner.run_all(commits, jobs=2)
            parallel = time.perf_counter() - started
        finally:
            runner.close()

    warm = statistics.median(lint_times[1:]) if len(lint_times) > 1 else lint_times[0]
    warm_cpu = statistics.median(lint_cpu[1:]) if len(lint_cpu) > 1 else lint_cpu[0]
    print(f"series:     {series.name} ({len(record.patches)} patches, {states} states, {findings} findings)")
    print(f"lint:       first {lint_times[0]:.3f} s, median of the next {len(lint_times) - 1}: {warm:.3f} s")
    print(f"lint CPU:   first {lint_cpu[0]:.3f} s, median of the next {len(lint_cpu) - 1}: {warm_cpu:.3f} s")
    print(f"checkpatch: {serial:.3f} s one after the other, {parallel:.3f} s two at a time")
    print(f"ratio:      lint / checkpatch = {warm / serial:.3f} (serial), {warm / parallel:.3f} (two at a time)")
    ok = lint_times[0] <= 3.0 and min(warm, warm_cpu) < 1.0 and warm / serial <= 0.5
    print(f"targets:    first <= 3 s, then < 1 s, <= 0.5x checkpatch: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
