"""Benchmark: `tree prepare` from the .deb against `tar xf` of the same tarball alone, in one run.

Usage: python bench/bench_prepare.py [SERIES] [--rounds N]

The series' exact base package is downloaded once (or taken from patchkit's
.deb cache). Each round then times, in scratch directories:

1. baseline: `tar xf` of the kernel tarball that .deb holds (already taken out of it);
2. patchkit: `basetree.prepare_base` with only that .deb in a fresh cache directory
   (unpack from the .deb, hash every file, commit, check the tree hash).

The figure is the ratio of medians (target: <= 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patchkit.cli.target import open_series
from patchkit.tree import basetree, debian
from patchkit.util import paths


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("series", nargs="?")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    series = open_series(options.series)
    package, version = series.base.package, series.base.package_version
    deb = paths.debs_dir() / debian.deb_name(package, version)
    if not deb.is_file():
        deb = debian.download(package, version, paths.debs_dir())
    with tempfile.TemporaryDirectory(prefix="bench-prepare-", dir=paths.cache_root()) as scratch_name:
        scratch = Path(scratch_name)
        member = debian.tarball_member(package)
        fsys = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(scratch), member], input=fsys, check=True)
        tarball = scratch / member
        tar_times, prepare_times = [], []
        for round_number in range(options.rounds):
            target = scratch / f"tar-{round_number}"
            target.mkdir()
            started = time.perf_counter()
            subprocess.run(["tar", "xf", str(tarball), "-C", str(target)], check=True)
            tar_times.append(time.perf_counter() - started)
            shutil.rmtree(target)

            cache = scratch / f"cache-{round_number}"
            os.environ["XDG_CACHE_HOME"] = str(cache)
            paths.debs_dir().mkdir(parents=True)
            os.link(deb, paths.debs_dir() / deb.name)
            started = time.perf_counter()
            prepared = basetree.prepare_base(series)
            prepare_times.append(time.perf_counter() - started)
            assert prepared.base_tree == series.base.tree, "the prepared tree is not the series' base"
            shutil.rmtree(cache)
        baseline, ours = statistics.median(tar_times), statistics.median(prepare_times)
        print(f"tar xf          : {baseline:.1f}s median of {options.rounds} ({tarball.name} of {deb.name})")
        print(f"tree prepare    : {ours:.1f}s median of {options.rounds} (unpack from the .deb, hash, commit)")
        print(f"ratio           : {ours / baseline:.2f}x (target <= 2.00)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
