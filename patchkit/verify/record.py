"""What ``verify`` last found for a series in a tree, and the gate ``send`` opens only on it.

Every whole ``verify`` run (no ``--config``/``--states``) writes
``$GIT_DIR/patchkit/<series>.verify.json``, beside apply's record::

    {"format": 2, "series": "tdx", "revision": 1,
     "tree": "<git tree hash of the verified branch tip>", "date": "2026-11-20T10:00:00+00:00",
     "passed": true,                       # verify's own verdict (exit 0)
     "lint": "passed",
     "configs": {"guest": {"digest": "<sha256>", "build": "passed", "boot": "passed"}, ...}}

A verdict is ``passed``, ``failed``, ``not run`` (skipped, e.g. ``--no-boot``, or never reached after an
earlier failure) or ``disabled`` (boot only: the config says ``boot: {enabled: false}``). A build passed
when every state of the series built; a boot when the series' end booted. ``digest`` covers what the tree
hash does not: the config's settings in series.yaml and its fragment's text.

``send`` opens only for the same revision and tree, lint passed, and every config the series has now
verified with the same digest, its build passed and its boot passed (or disabled). Every field is read
with its exact JSON type: ``"passed": "false"`` is invalid data naming the file and key, not a yes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchkit.apply.record import AppliedSeries
from patchkit.apply.statedir import StateDir
from patchkit.errors import DataError, PatchkitError, TreeError
from patchkit.series.model import KconfigSpec, Series
from patchkit.tree.repo import KernelTree
from patchkit.util import atomic, inputfile
from patchkit.verify.report import VerifyReport

FORMAT = 2
MAX_RECORD_BYTES = 1024 * 1024  # a record names a verdict per config: a few KB
PASSED, FAILED, NOT_RUN, DISABLED = "passed", "failed", "not run", "disabled"
VERDICTS = (PASSED, FAILED, NOT_RUN, DISABLED)


@dataclass(frozen=True)
class ConfigVerdict:
    build: str
    boot: str
    digest: str = ""


@dataclass(frozen=True)
class Verified:
    """A verify record as read back (every field of its exact type)."""

    path: Path
    revision: int
    tree: str
    date: str
    passed: bool
    lint: str
    configs: dict[str, ConfigVerdict]


@dataclass(frozen=True)
class Gate:
    """Whether ``send`` may mail the revision as applied now, and if not, what is missing."""

    verified: Verified | None
    missing: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.verified is not None and not self.missing


def record_path(tree: KernelTree, series_name: str) -> Path:
    return StateDir(tree).verify_record(series_name)


def config_digest(series: Series, config: KconfigSpec) -> str:
    """What a config's verdicts depend on beside the tree: its settings and its fragment's text."""
    settings = json.dumps(
        [config.name, config.fragment, config.since, config.boot.enabled, config.boot.cmdline,
         list(config.boot.expect)]
    )  # fmt: skip
    try:
        fragment = series.fragment_bytes(config)
    except PatchkitError:
        fragment = b""  # loading the series checked it exists; gone now, it differs from what was verified
    return hashlib.sha256(settings.encode() + b"\0" + fragment).hexdigest()


def verdicts_of(series: Series, report: VerifyReport) -> tuple[str, dict[str, ConfigVerdict]]:
    """Lint's verdict and each config's build and boot verdicts from verify's report."""
    lint_summary = report.lint_summary
    lint = NOT_RUN if lint_summary is None or not lint_summary.ran else FAILED if lint_summary.failed else PASSED
    labels = [state.label for state in report.states]
    results = report.build.results if report.build is not None else ()
    boots = report.boot.boots if report.boot is not None else ()
    booting = report.scope is not None and report.scope.boot
    configs: dict[str, ConfigVerdict] = {}
    for config in series.configs:
        built_here = [r for r in results if r.config == config.name]
        if any(not r.ok for r in built_here):
            built = FAILED
        elif labels and {r.state for r in built_here} >= set(labels):
            built = PASSED
        else:
            built = NOT_RUN
        if not config.boot.enabled:
            booted = DISABLED
        else:
            at_end = [b for b in boots if b.config == config.name and labels and b.state == labels[-1]]
            booted = NOT_RUN if not (booting and at_end) else PASSED if all(b.ok for b in at_end) else FAILED
        configs[config.name] = ConfigVerdict(built, booted, config_digest(series, config))
    return lint, configs


def record_verify(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    *,
    lint: str,
    configs: Mapping[str, ConfigVerdict],
    passed: bool,
) -> Path:
    """Write the verify record of this revision and content (atomically); what ``send`` checks before mailing."""
    for verdict in (lint, *(c.build for c in configs.values()), *(c.boot for c in configs.values())):
        assert verdict in VERDICTS, verdict
    data = {
        "format": FORMAT,
        "series": series.name,
        "revision": series.revision,
        "tree": tree.tree_of(record.tip) or "",
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "passed": passed,
        "lint": lint,
        "configs": {
            name: {"digest": c.digest or _digest_of(series, name), "build": c.build, "boot": c.boot}
            for name, c in configs.items()
        },
    }
    path = record_path(tree, series.name)
    atomic.write_text(path, json.dumps(data, indent=2) + "\n")
    return path


def _digest_of(series: Series, name: str) -> str:
    config = next((c for c in series.configs if c.name == name), None)
    return config_digest(series, config) if config is not None else ""


class _Reader:
    """Fields of one record, each of its exact JSON type; anything else is invalid data naming file and key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def bad(self, key: str, expected: str, value: object) -> DataError:
        found = f"the string {json.dumps(value)}" if isinstance(value, str) else json.dumps(value)[:60]
        return DataError(f"{self.path}: key '{key}': expected {expected}, found {found}; run 'patchkit verify' again")

    def get(self, data: Mapping[str, Any], key: str, where: str = "") -> Any:
        if key not in data:
            raise DataError(f"{self.path}: key '{where + key}' is missing; run 'patchkit verify' again")
        return data[key]

    def integer(self, data: Mapping[str, Any], key: str) -> int:
        value = self.get(data, key)
        if type(value) is not int:  # bool is an int to Python, not to JSON
            raise self.bad(key, "a whole number", value)
        return value

    def string(self, data: Mapping[str, Any], key: str, where: str = "") -> str:
        value = self.get(data, key, where)
        if type(value) is not str:
            raise self.bad(where + key, "a string", value)
        return value

    def boolean(self, data: Mapping[str, Any], key: str) -> bool:
        value = self.get(data, key)
        if type(value) is not bool:
            raise self.bad(key, "true or false", value)
        return value

    def verdict(self, data: Mapping[str, Any], key: str, where: str = "") -> str:
        value = self.get(data, key, where)
        if value not in VERDICTS or type(value) is not str:
            raise self.bad(where + key, "one of " + ", ".join(f'"{v}"' for v in VERDICTS), value)
        return str(value)

    def mapping(self, data: Mapping[str, Any], key: str, where: str = "") -> dict[str, Any]:
        value = self.get(data, key, where)
        if type(value) is not dict:
            raise self.bad(where + key, "an object", value)
        return value


def read_verified(tree: KernelTree, series_name: str) -> Verified | None:
    """The verify record of ``series_name`` in ``tree``, None when there is none; invalid data (exit 3) names
    the file and the key; a record of an older format is a :class:`TreeError` asking to verify again."""
    path = record_path(tree, series_name)
    if not os.path.lexists(path):
        return None
    try:
        data = inputfile.read_json(path, MAX_RECORD_BYTES)
    except DataError as exc:
        reason = exc.message.removeprefix(f"{path}: ")
        raise DataError(f"{path}: not a verify record ({reason}); run 'patchkit verify' again") from None
    read = _Reader(path)
    if type(data) is not dict:
        raise DataError(f"{path}: not a verify record (not a JSON object); run 'patchkit verify' again")
    if "format" not in data:
        raise TreeError(f"{path}: written by an older patchkit, without the verdict of each stage and config; "
                        "run 'patchkit verify' again")  # fmt: skip
    if read.integer(data, "format") != FORMAT:
        raise DataError(f"{path}: key 'format': {data['format']} is not a format this patchkit reads ({FORMAT})")
    if read.string(data, "series") != series_name:
        raise DataError(f"{path}: key 'series': {data['series']!r} is not '{series_name}'")
    configs: dict[str, ConfigVerdict] = {}
    for name, value in read.mapping(data, "configs").items():
        where = f"configs.{name}."
        if type(value) is not dict:
            raise read.bad(f"configs.{name}", "an object", value)
        configs[name] = ConfigVerdict(
            read.verdict(value, "build", where), read.verdict(value, "boot", where), read.string(value, "digest", where)
        )
    return Verified(
        path, read.integer(data, "revision"), read.string(data, "tree"), read.string(data, "date"),
        read.boolean(data, "passed"), read.verdict(data, "lint"), configs,
    )  # fmt: skip


def gate(tree: KernelTree, series: Series, record: AppliedSeries) -> Gate:
    """Whether the revision as applied now passed lint, build and boot for every config; what is missing if not."""
    verified = read_verified(tree, series.name)
    if verified is None:
        return Gate(None, [f"v{series.revision} was never verified; run 'patchkit verify' first"])
    tip_tree = tree.tree_of(record.tip) or "?"
    if verified.revision != series.revision or verified.tree != tip_tree:
        return Gate(verified, [
            f"the last verify was of v{verified.revision} (tree {verified.tree[:12]}), not of v{series.revision} "
            f"as applied now (tree {tip_tree[:12]}); run 'patchkit verify' again"
        ])  # fmt: skip
    missing: list[str] = []
    if verified.lint != PASSED:
        missing.append(f"lint {verified.lint}")
    if not series.configs:
        missing.append("the series names no kconfig fragment, so nothing was built or booted")
    by_verdict: dict[tuple[str, str], list[str]] = {}
    changed: list[str] = []
    unverified: list[str] = []
    for config in series.configs:
        found = verified.configs.get(config.name)
        if found is None:
            unverified.append(config.name)
            continue
        if found.digest != config_digest(series, config):
            changed.append(config.name)
            continue
        if found.build != PASSED:
            by_verdict.setdefault(("build", found.build), []).append(config.name)
        if found.boot not in (PASSED, DISABLED) or (found.boot == DISABLED and config.boot.enabled):
            by_verdict.setdefault(("boot", found.boot), []).append(config.name)
    missing += [f"{stage} {verdict} for {', '.join(names)}" for (stage, verdict), names in by_verdict.items()]
    if changed:
        missing.append(f"config {', '.join(changed)} changed since (its fragment or settings)")
    if unverified:
        missing.append(f"config {', '.join(unverified)} was not verified (added since?)")
    if not missing and not verified.passed:
        missing.append(f"verify of v{series.revision} failed on {verified.date}")
    if missing:
        missing[-1] += "; run 'patchkit verify' again"
    return Gate(verified, missing)


def require_verified(tree: KernelTree, series: Series, record: AppliedSeries) -> Verified:
    """The record that opens the gate for exactly this revision and content, or a :class:`TreeError` (exit 4)
    saying what is missing and what to run."""
    checked = gate(tree, series, record)
    if not checked.open:
        raise TreeError(f"{tree.path}: not sending series '{series.name}' v{series.revision}: "
                        f"{'; '.join(checked.missing)} (or send --force)")  # fmt: skip
    assert checked.verified is not None
    return checked.verified


def passed_stages(series: Series, verified: Verified) -> str:
    """What an open gate rests on, in words: ``lint, build and boot (guest, host; boot disabled for off)``."""
    disabled = [name for name, c in verified.configs.items() if c.boot == DISABLED]
    names = ", ".join(c.name for c in series.configs)
    extra = f"; boot disabled for {', '.join(disabled)}" if disabled else ""
    return f"lint, build and boot passed ({names}{extra})"
