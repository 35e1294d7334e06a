"""The results directory of one build/boot/verify run: logs, consoles and report.json.

``$XDG_CACHE_HOME/patchkit/results/<series>/<UTC time>/`` unless the user
names one; ``results/<series>/latest`` points at the newest run.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from patchkit.errors import os_problem
from patchkit.util import atomic, outdir, paths


def new_results_dir(series_name: str, chosen: Path | None = None) -> Path:
    """Create and return a fresh results directory (``chosen`` when given).

    A chosen directory follows the one output-directory rule (:mod:`patchkit.util.outdir`): new, empty, or
    an earlier results directory (its manifest, ``.patchkit-results.json``, says so); a directory of the
    user's own files is refused before anything is written.
    """
    if chosen is not None:
        outdir.prepare(chosen, outdir.RESULTS_OUTPUT)
        outdir.hold(chosen, outdir.RESULTS_OUTPUT)
        outdir.prepare(chosen, outdir.RESULTS_OUTPUT)  # again, now that no other run writes there
        outdir.mark(chosen, outdir.RESULTS_OUTPUT)
        return chosen
    parent = paths.results_dir(series_name)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = parent / stamp
    suffix = 1
    while target.exists():
        suffix += 1
        target = parent / f"{stamp}-{suffix}"
    try:
        target.mkdir(parents=True)
    except OSError as exc:
        raise os_problem(target, exc, "create the results directory") from exc
    latest = target.parent / "latest"
    with contextlib.suppress(OSError):
        tmp = target.parent / f".latest.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target.name)
        os.replace(tmp, latest)
    return target


def write_report(results: Path, data: dict[str, Any]) -> Path:
    path = results / "report.json"
    atomic.write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    if os.path.lexists(results / outdir.RESULTS_OUTPUT.manifest):
        outdir.record(results, outdir.RESULTS_OUTPUT)
    return path
