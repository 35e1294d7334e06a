"""Benchmark: re-verify with the verdict cache against the cold run, in one run.

Usage: python bench/bench_reverify.py [SERIES] [--config NAME ...] [-j N]

For each config (default: every config of the series), in a scratch cache
directory (empty ccache, empty verdict cache), on a copy of the series that
names only that config:

1. cold: `patchkit apply && patchkit verify` (lint, every state built, boot);
2. warm: the same verify again, unchanged series (every verdict cached);
3. fresh: `verify --fresh` (verdicts ignored, ccache warm: what re-verify cost before the cache);
4. v2 of the last patch: one comment line of the last mailed patch changed, apply, verify;
5. v2 of the first patch: the same for patch 1.

Reported as ratios against the cold run. Targets: warm <= 0.03, v2 of the last
patch <= 0.25, v2 of patch 1 about the cold run minus the clean base build.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PATCHKIT, main_per_config, run, sandbox
from patchkit.series.load import load_series


def touch_comment(series_dir: Path, number: int) -> None:
    """Change one added comment line of patch ``number`` (the tree changes, the code does not).

    As a maintainer's v2 would, the change is carried into the later patches that have the line as
    context or remove it, so they still apply.
    """
    series = load_series(series_dir)
    patches = series.mailed_patches
    lines = series.diff_path(patches[number - 1]).read_text().split("\n")
    for index, line in enumerate(lines):
        text = line[1:]
        if line.startswith("+") and text.strip().startswith("* ") and "*/" not in line:
            for later in patches[number - 1 :]:
                path = series.diff_path(later)
                carried = [
                    kept[0] + text + " (v2)" if kept[1:] == text and (kept[:1] in " -" or kept is line) else kept
                    for kept in path.read_text().split("\n")
                ]
                if later is patches[number - 1]:
                    carried[index] = line + " (v2)"
                path.write_text("\n".join(carried))
            return
    sys.exit(f"bench: patch {number} adds no comment line to change")


def bench_config(series_dir: Path, config: str, prepared: Path, jobs: int) -> None:
    with sandbox("bench-reverify-", series_dir, config, prepared) as box:
        scratch, env, clone, copy, patchkit = box.scratch, box.env, box.clone, box.copy, PATCHKIT
        apply = [*patchkit, "apply", str(copy), "--tree", str(clone), "--force"]
        verify = [*patchkit, "verify", str(copy), "--tree", str(clone), "-j", str(jobs)]
        print(f"config {config}:", flush=True)
        cold = run(apply, env, scratch) + run(verify, env, scratch)
        print(f"  cold apply+verify        : {cold:7.1f}s", flush=True)
        warm = run(verify, env, scratch)
        print(f"  warm verify (cached)     : {warm:7.1f}s = {warm / cold:.3f}x cold (target <= 0.03)", flush=True)
        fresh = run([*verify, "--fresh"], env, scratch)
        print(f"  verify --fresh           : {fresh:7.1f}s = {fresh / cold:.3f}x cold (before the cache)", flush=True)
        last = len(load_series(copy).mailed_patches)
        touch_comment(copy, last)
        v2_last = run(apply, env, scratch) + run(verify, env, scratch)
        print(f"  v2 of patch {last:<2d} (last)    : {v2_last:7.1f}s = {v2_last / cold:.3f}x cold (target <= 0.25)",
              flush=True)  # fmt: skip
        touch_comment(copy, 1)
        v2_first = run(apply, env, scratch) + run(verify, env, scratch)
        print(f"  v2 of patch 1            : {v2_first:7.1f}s = {v2_first / cold:.3f}x cold", flush=True)


if __name__ == "__main__":
    raise SystemExit(main_per_config(bench_config))
