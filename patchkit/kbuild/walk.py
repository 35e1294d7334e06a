"""Build the series at every state, for every kconfig fragment, incrementally.

The walk visits states in order (base, after patch 1, ..., after patch N, then
the overlay patches on top when the series has any) and builds every config at
each state before moving on, so ``src/`` is checked out once per state and
each ``O=`` directory only recompiles what the patch touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.apply.record import AppliedSeries
from patchkit.apply.states import State, series_states
from patchkit.errors import DataError, EnvironmentProblem, UsageError
from patchkit.kbuild import kconfig
from patchkit.kbuild.child import run_logged
from patchkit.kbuild.diagnostics import CompilerWarning, error_excerpt, first_error_line, parse_warnings
from patchkit.kbuild.worktree import WorkTree
from patchkit.series.model import KconfigSpec, Series
from patchkit.tree.repo import KernelTree
from patchkit.util import paths, proc, store, tools
from patchkit.util.progress import Progress
from patchkit.util.store import Verdict, VerdictCache

LOG_EVIDENCE = "log"  # a build verdict's evidence in the cache: the tail of its log
BUILD_LOG_TAIL = 64 * 1024  # the link or the first error and what led to it

# Fixed so that rebuilding an unchanged state hits ccache and gives the same image.
_REPRODUCIBLE_ENV = {
    "KBUILD_BUILD_TIMESTAMP": "2000-01-01",
    "KBUILD_BUILD_USER": "patchkit",
    "KBUILD_BUILD_HOST": "patchkit",
    "LC_ALL": "C",
    # The kernel's Makefile unexports LC_ALL, so LANG decides the compiler's quotes: plain ASCII to parse.
    "LANG": "C",
}


@dataclass
class StateBuild:
    config: str
    state: State
    status: str  # "ok", "failed"
    seconds: float
    log: Path
    reconfigured: bool = False
    new_warnings: list[CompilerWarning] = field(default_factory=list)
    error: str = ""  # the first error line
    excerpt: str = ""  # the compiler's explanation, a few lines
    all_warnings: list[CompilerWarning] = field(default_factory=list)  # before blame (what the log showed)
    image: str = ""  # sha256 of the bzImage it made ("" when it made none)
    cached: str = ""  # provenance when the verdict came from the cache, else ""

    def verdict_data(self) -> dict[str, Any]:
        """What the verdict cache keeps of a build (its log's tail goes with it as evidence: :meth:`evidence`)."""
        return {
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "warnings": [w.to_json_data() for w in self.all_warnings],
            "error": self.error,
            "excerpt": self.excerpt,
            "image": self.image,
        }

    def evidence(self) -> dict[str, str]:
        """The tail of the build's log, kept with its verdict (where the error, or the link, shows)."""
        return {LOG_EVIDENCE: store.tail_of(self.log, BUILD_LOG_TAIL)}

    @classmethod
    def from_verdict(cls, config: str, state: State, verdict: Verdict, log: Path) -> StateBuild:
        """The build a cached verdict stands for; its evidence (the log's tail) is written to ``log``, in this run."""
        data = verdict.data
        warnings = [CompilerWarning.from_json_data(w) for w in data["warnings"]]
        store.write_evidence(verdict, LOG_EVIDENCE, log)
        return cls(
            config, state, data["status"], float(data["seconds"]), log,
            error=data["error"], excerpt=data["excerpt"], all_warnings=warnings, new_warnings=list(warnings),
            image=data["image"], cached=verdict.provenance(),
        )  # fmt: skip

    def to_json_data(self, results: Path) -> dict[str, Any]:
        """The build in a report.json of the run's ``results`` directory (the log's path relative to it)."""
        return {
            "config": self.config,
            "state": self.state.label,
            "commit": self.state.commit,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "reconfigured": self.reconfigured,
            "new_warnings": [w.describe() for w in self.new_warnings],
            "error": self.error,
            "excerpt": self.excerpt,
            "log": paths.relative_within(self.log, results),
            "cached": self.cached or None,
        }


@dataclass
class BuildReport:
    states: list[State]
    configs: list[str]
    results: list[StateBuild] = field(default_factory=list)
    ccache: bool = False

    @property
    def first_failure(self) -> StateBuild | None:
        return next((r for r in self.results if r.status == "failed"), None)

    def result(self, config: str, state_index: int) -> StateBuild | None:
        return next((r for r in self.results if r.config == config and r.state.index == state_index), None)

    def to_json_data(self, results: Path) -> dict[str, Any]:
        return {
            "ccache": self.ccache,
            "configs": self.configs,
            "results": [r.to_json_data(results) for r in self.results],
        }


def select_configs(series: Series, names: tuple[str, ...] = ()) -> list[KconfigSpec]:
    if not series.configs:
        raise DataError(
            f"{series.directory}/series.yaml: configs: the series names no kconfig fragment to build "
            "(add configs: [{name: ..., fragment: ...}])"
        )
    if not names:
        return list(series.configs)
    known = {c.name: c for c in series.configs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"no config '{unknown[0]}' in series {series.name} (it has: {', '.join(known)})")
    return [known[n] for n in names]


class Builder:
    """Configures and builds one series' work tree (see :mod:`patchkit.kbuild.worktree`)."""

    def __init__(self, tree: KernelTree, series: Series, work: WorkTree, logs: Path, jobs: int | None = None) -> None:
        self.tree = tree
        self.series = series
        self.work = work
        self.logs = logs
        self.jobs = jobs or os.cpu_count() or 1
        self.logs.mkdir(parents=True, exist_ok=True)
        tools.require(tools.BUILD)
        self.ccache = shutil.which("ccache") is not None
        self._fragments: dict[str, dict[str, str]] = {}
        self._configured_at: dict[str, int] = {}  # config -> state index of its last merge
        self._compiler: str | None = None
        self._trees: dict[str, str | None] = {}  # commit -> its tree (a git run), once for all of a state's configs

    def make_env(self) -> dict[str, str]:
        env = dict(_REPRODUCIBLE_ENV)
        if self.ccache and "CCACHE_DIR" not in os.environ:
            # Kept beside the work trees so `rm -rf ~/.cache/patchkit` clears everything patchkit made.
            env["CCACHE_DIR"] = str(paths.ccache_dir())
        if self.ccache:
            # Paths under the work root become relative in ccache's hash: hits survive another cache location.
            env["CCACHE_BASEDIR"] = str(self.work.root)
        return env

    def compiler(self) -> str:
        """The compiler's own version line: a different compiler invalidates every cached build."""
        if self._compiler is None:
            result = proc.run(["gcc", "--version"])
            self._compiler = result.stdout.decode("utf-8", "replace").splitlines()[0] if result.stdout else "gcc ?"
        return self._compiler

    def verdict_key(self, spec: KconfigSpec, state: State) -> str:
        """Everything a build's outcome depends on: the state's content, the fragment, the compiler, the flags."""
        fragment = self.series.fragment_bytes(spec)
        if state.commit not in self._trees:
            self._trees[state.commit] = self.tree.tree_of(state.commit)
        return store.make_key(
            "build",
            tree=self._trees[state.commit],
            fragment=hashlib.sha256(fragment).hexdigest(),
            compiler=self.compiler(),
            flags=[*self.make_argv(spec.name, "all")[4:], sorted(_REPRODUCIBLE_ENV.items()), "tinyconfig"],
        )

    def make_argv(self, config: str, *targets: str) -> list[str]:
        argv = ["make", "-C", str(self.work.src), f"O={self.work.out_dir(config)}", "ARCH=x86_64"]
        if self.ccache:
            argv.append("CC=ccache gcc")
        return [*argv, *targets]

    def fragment(self, spec: KconfigSpec) -> dict[str, str]:
        if spec.name not in self._fragments:
            label = f"{self.series.directory / spec.fragment}"
            self._fragments[spec.name] = kconfig.read_fragment(self.series.directory / spec.fragment, label)
        return self._fragments[spec.name]

    def configure(self, spec: KconfigSpec, state: State) -> None:
        """tinyconfig + fragment + olddefconfig in ``out/<config>``; raise DataError when options are missing."""
        out = self.work.out_dir(spec.name)
        out.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{spec.name}.configure.log"
        fragment_path = (self.series.directory / spec.fragment).resolve()
        steps = [
            self.make_argv(spec.name, "tinyconfig"),
            [str(self.work.src / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(out), str(out / ".config"),
             str(fragment_path)],
            self.make_argv(spec.name, "olddefconfig"),
        ]  # fmt: skip
        for argv in steps:
            with log.open("a") as handle:
                handle.write(f"\n$ {' '.join(argv)}  # at {state.label}\n")
            result = run_logged(argv, log, cwd=self.work.src, env=self.make_env())
            if result.returncode != 0:
                raise DataError(
                    f"config {spec.name}: configuring at {state.label} failed ({os.path.basename(argv[0])} "
                    f"exit {result.returncode}); see {log}"
                )
        self._configured_at[spec.name] = state.index

    def check_options(self, spec: KconfigSpec, state: State) -> list[kconfig.OptionMismatch]:
        """Raise DataError for fragment options missing from the config, except those not yet defined before ``since``.

        Returns the tolerated (not yet defined) ones.
        """
        config_text = (self.work.out_dir(spec.name) / ".config").read_text(encoding="utf-8", errors="replace")
        missing = kconfig.mismatches(self.fragment(spec), kconfig.parse_config_text(config_text))
        if not missing:
            return []
        defined = kconfig.defined_symbols(self.tree, state.commit, [m.option for m in missing])
        tolerated, errors = kconfig.split_by_since(missing, defined, state.index, spec.since)
        if errors:
            first = errors[0]
            if first.option not in defined:
                why = f"no Kconfig file defines {first.option.removeprefix('CONFIG_')} at {state.label}"
            else:
                why = f"it ended up {first.got} at {state.label} (an unmet 'depends on'?)"
            others = ", ".join(m.option for m in errors[1:4])
            more = f" (and {len(errors) - 1} more: {others})" if len(errors) > 1 else ""
            raise DataError(
                f"{self.series.directory / spec.fragment}: config {spec.name} asks for {first.option}={first.wanted}, "
                f"but {why}{more}"
            )
        return tolerated

    def log_path(self, spec: KconfigSpec, state: State) -> Path:
        """Where this run keeps the log of ``spec`` built at ``state`` (or the cached verdict's evidence of it)."""
        log = self.logs / spec.name / f"{state.index:02d}-{state.label.replace(' ', '-')}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        return log

    def build(self, spec: KconfigSpec, state: State) -> StateBuild:
        log = self.log_path(spec, state)
        log.write_text(f"$ {' '.join(self.make_argv(spec.name, f'-j{self.jobs}', 'all'))}\n")
        started = time.monotonic()
        result = run_logged(
            self.make_argv(spec.name, f"-j{self.jobs}", "all"), log, cwd=self.work.src, env=self.make_env()
        )
        seconds = time.monotonic() - started
        text = log.read_text(encoding="utf-8", errors="replace")
        if result.returncode != 0 and "No space left on device" in text:
            out = self.work.out_dir(spec.name)
            raise EnvironmentProblem(f"{out}: no space left on device while building; log: {log}")
        build = StateBuild(spec.name, state, "ok" if result.returncode == 0 else "failed", seconds, log)
        if result.returncode != 0:
            build.excerpt = error_excerpt(text, str(self.work.src), str(self.work.out_dir(spec.name)))
            build.error = first_error_line(build.excerpt)
        build.all_warnings = parse_warnings(text, str(self.work.src), str(self.work.out_dir(spec.name)))
        build.new_warnings = list(build.all_warnings)
        image = self.image(spec.name)
        if build.status == "ok" and image.is_file():
            build.image = store.sha256_file(image)
        return build

    def image(self, config: str) -> Path:
        return self.work.out_dir(config) / "arch/x86/boot/bzImage"


def build_states(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    configs: list[KconfigSpec],
    results: Path,
    *,
    states: list[State] | None = None,
    keep_going: bool = False,
    jobs: int | None = None,
    progress: Progress | None = None,
    work: WorkTree | None = None,
    after_state: Callable[[State, list[StateBuild], Builder], None] | None = None,
    cache: VerdictCache | None = None,
) -> BuildReport:
    """Build ``states`` (default: all) for each config; stop after the first failing state unless ``keep_going``.

    A build whose inputs already have a verdict in ``cache`` is not run again: the verdict stands, marked as
    cached. ``after_state`` runs after each state's builds, while ``out/`` holds that state when it was built
    (to boot it). The caller holds ``work.locked()``.
    """
    progress = progress or Progress(live=False)
    work = work or WorkTree(tree, series.name)
    wanted = states if states is not None else series_states(record)
    builder = Builder(tree, series, work, results / "build", jobs)
    report = BuildReport(states=wanted, configs=[c.name for c in configs], ccache=builder.ccache)
    seen_warnings: dict[str, set[tuple[str, str, str]]] = {c.name: set() for c in configs}
    built_at: dict[str, str] = {}  # config -> commit its out/ directory was last built at, in this run
    for position, state in enumerate(wanted, start=1):
        state_builds: list[StateBuild] = []
        for spec in configs:
            key = builder.verdict_key(spec, state) if cache is not None else ""
            verdict = cache.get(key) if cache is not None else None
            if verdict is not None:
                build = StateBuild.from_verdict(spec.name, state, verdict, builder.log_path(spec, state))
                tolerated: list[kconfig.OptionMismatch] = []
            else:
                build, tolerated = _build_one(builder, work, spec, state, built_at, progress, position, len(wanted))
                built_at[spec.name] = state.commit
                if cache is not None:
                    cache.put(key, "build", build.verdict_data(), results, build.evidence())
            keys = seen_warnings[spec.name]
            fresh = [w for w in build.all_warnings if w.key not in keys]
            keys.update(w.key for w in build.all_warnings)
            # The base's warnings are the tree's own; only patches get blamed.
            build.new_warnings = fresh if state.index > 0 and position > 1 else []
            report.results.append(build)
            state_builds.append(build)
            progress.line(_result_line(build, tolerated))
        if after_state is not None:
            after_state(state, state_builds, builder)
        if any(b.status == "failed" for b in state_builds) and not keep_going:
            break
    return report


def _build_one(
    builder: Builder,
    work: WorkTree,
    spec: KconfigSpec,
    state: State,
    built_at: dict[str, str],
    progress: Progress,
    position: int,
    total: int,
) -> tuple[StateBuild, list[kconfig.OptionMismatch]]:
    """Move the sources to ``state`` (when not there yet), configure when needed, and build one config."""
    if work.current != state.commit:
        progress.step("checkout", f"{state.label} {state.commit[:12]}", position, total)
        work.move_to(state.commit)
    last = built_at.get(spec.name)
    out = work.out_dir(spec.name)
    must_configure = (
        last is None
        or not (out / ".config").is_file()
        or kconfig.kconfig_changed(work.changed_paths(last, state.commit))
    )
    if must_configure:
        progress.step("configure", f"{spec.name} at {state.label}", position, total)
        builder.configure(spec, state)
    tolerated = builder.check_options(spec, state)
    progress.step("build", f"{spec.name} at {state.label}", position, total)
    build = builder.build(spec, state)
    build.reconfigured = must_configure
    return build, tolerated


def _result_line(build: StateBuild, tolerated: list[kconfig.OptionMismatch]) -> str:
    status = "ok" if build.status == "ok" else "FAILED"
    subject = f" {build.state.subject}" if build.state.subject else ""
    timing = "cached" if build.cached else f"{build.seconds:6.1f}s"
    line = f"  build {build.config:<8} {build.state.label:<9} {status:<6} {timing:>7}{subject}"
    for warning in build.new_warnings:
        line += f"\n      new warning: {warning.describe()}"
    if tolerated:
        line += f"\n      not yet defined here (fragment 'since' is later): {', '.join(m.option for m in tolerated)}"
    if build.status == "failed":
        line += "\n" + "\n".join("      | " + excerpt_line for excerpt_line in build.excerpt.splitlines())
        line += f"\n      log: {build.log}"
    return line
