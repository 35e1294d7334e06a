"""Benchmark: patchkit's per-patch builds and boot against clean builds of the same config, in one run.

Usage: python bench/bench_build.py [SERIES] [--config NAME ...] [-j N]

For each config (default: every config of the series), in a scratch cache
directory with an empty ccache:

1. baseline: one clean build of the series' end state (`make O=fresh tinyconfig`
   + fragment + `olddefconfig` + `make`), timed;
2. cold: `patchkit apply && patchkit verify --no-lint` of a copy of the series
   that names only this config (base + every patch + overlay, boot at the end);
3. warm: the same verify again, unchanged series, warm ccache.

Reported as ratios in this one run: the per-patch builds (patches 1..N) against
N clean builds (N x the baseline, since a clean build of any state costs the
same), the cold run against one clean build, the warm run against the cold
run, and the boot time to the userspace marker. Targets: <= 0.3, <= 1.6,
<= 0.3 and <= 5 s.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PATCHKIT, main_per_config, run, sandbox


def clean_build(src: Path, fragment: Path, out: Path, env: dict[str, str], jobs: int) -> float:
    make = ["make", "-C", str(src), f"O={out}", "ARCH=x86_64", "CC=ccache gcc"]
    started = time.perf_counter()
    run([*make, "tinyconfig"], env, src)
    run([str(src / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(out), str(out / ".config"), str(fragment)],
        env, src)  # fmt: skip
    run([*make, "olddefconfig"], env, src)
    run([*make, f"-j{jobs}", "all"], env, src)
    return time.perf_counter() - started


def bench_config(series_dir: Path, config: str, prepared: Path, jobs: int) -> None:
    with sandbox("bench-build-", series_dir, config, prepared) as box:
        scratch, env, clone, copy, patchkit = box.scratch, box.env, box.clone, box.copy, PATCHKIT
        apply = run([*patchkit, "apply", str(copy), "--tree", str(clone)], env, scratch)

        # Baseline: the end state (branch tip), checked out into a plain directory, built clean with an empty ccache.
        src = scratch / "clean-src"
        src.mkdir()
        archive = subprocess.run(["git", "-C", str(clone), "archive", "HEAD"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        fragment = copy / next(c["fragment"] for c in yaml.safe_load((copy / "series.yaml").read_text())["configs"])
        baseline = clean_build(src, fragment, scratch / "clean-out", {**env, "CCACHE_DISABLE": "1"}, jobs)
        shutil.rmtree(src)
        shutil.rmtree(scratch / "clean-out")

        verify = [*patchkit, "verify", str(copy), "--tree", str(clone), "--no-lint", "-j", str(jobs)]
        cold_results, warm_results = scratch / "cold", scratch / "warm"
        cold = apply + run([*verify, "--results", str(cold_results)], env, scratch)
        warm = run([*verify, "--results", str(warm_results)], env, scratch)

        report = json.loads((cold_results / "report.json").read_text())
        builds = [r for r in report["build"]["results"] if r["state"].startswith("patch ")]
        per_patch = sum(r["seconds"] for r in builds)
        boots = [b["seconds"] for b in report["boot"]["boots"]]
        print(f"config {config}:")
        print(f"  clean build (baseline)     : {baseline:7.1f}s")
        print(f"  per-patch builds ({len(builds):2d})      : {per_patch:7.1f}s = "
              f"{per_patch / (len(builds) * baseline):.2f}x {len(builds)} clean builds (target <= 0.3)")  # fmt: skip
        print(f"  apply+verify cold          : {cold:7.1f}s = {cold / baseline:.2f}x one clean build (target <= 1.6)")
        print(f"  apply+verify warm          : {warm:7.1f}s = {warm / cold:.2f}x the cold run (target <= 0.3)")
        if boots:
            print(f"  boot to marker ({report['boot']['accel']})      : {max(boots):7.1f}s (target <= 5)")


if __name__ == "__main__":
    raise SystemExit(main_per_config(bench_config))
