"""Lint results cached by content (issue 11): a lint run is not repeated for inputs already judged.

The key holds everything a lint report depends on: each state's commit (its tree, and the message and
author the hygiene rules read), series.yaml as written (suppressions, and the lines findings point at)
and the path it is shown as, the rules version (every rule YAML and the lint code), the effective
``lint.yaml`` and whether checkpatch runs. A hit says so (:attr:`LintReport.cached`); a corrupt entry
is reported by :class:`~patchkit.util.store.VerdictCache` and ignored.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from pathlib import Path
from typing import Any

from patchkit import __version__
from patchkit.apply.record import AppliedSeries
from patchkit.apply.states import mailed_states
from patchkit.lint.model import Finding, LintReport
from patchkit.series.model import Series
from patchkit.util import inputfile
from patchkit.util.store import VerdictCache, make_key
from patchkit.util.yamldata import MAX_FILE_BYTES

KIND = "lint"


@functools.cache
def rules_version() -> str:
    """A hash of the rule definitions and the lint code: a change to either makes earlier results stale."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    files = [p for p in package.rglob("*") if p.suffix in (".py", ".json", ".yaml") and "__pycache__" not in p.parts]
    for path in sorted(files):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    if not os.path.lexists(path):
        return ""  # a series made in memory, or no lint.yaml: the defaults
    return hashlib.sha256(inputfile.read_limited(path, MAX_FILE_BYTES)).hexdigest()


def lint_key(series: Series, record: AppliedSeries, yaml_path: str, checkpatch: bool) -> str:
    return make_key(
        KIND,
        states=[(state.label, state.commit) for state in mailed_states(record)],
        series=series.name,
        series_yaml=_file_hash(series.directory / "series.yaml"),
        yaml_path=yaml_path,
        lint_yaml=_file_hash(series.directory / "lint.yaml"),
        rules=rules_version(),
        checkpatch=checkpatch and bool(record.patches),
    )


def load(cache: VerdictCache, key: str) -> LintReport | None:
    verdict = cache.get(key)
    if verdict is None or verdict.kind != KIND:
        return None
    try:
        report = _report_from_data(verdict.data)
    except (KeyError, TypeError, ValueError):
        cache.warn(f"verdict cache: lint entry {key[:12]} does not read as a lint report; ignored")
        return None
    report.cached = f"cached, computed {verdict.computed_at} on {verdict.where}"
    return report


def store(cache: VerdictCache, key: str, report: LintReport) -> None:
    data = {
        "series": report.series,
        "states": report.states,
        "checkpatch_ran": report.checkpatch_ran,
        "timings": report.timings,
        "findings": [{**f.to_json_data(), "identity": f.identity} for f in report.findings],
    }
    cache.put(key, KIND, data, socket.gethostname())


def _report_from_data(data: dict[str, Any]) -> LintReport:
    return LintReport(
        series=str(data["series"]),
        states=[str(s) for s in data["states"]],
        findings=[Finding.from_json_data(f) for f in data["findings"]],
        checkpatch_ran=bool(data["checkpatch_ran"]),
        timings={str(k): float(v) for k, v in data["timings"].items()},
    )
