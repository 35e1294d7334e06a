"""lint_series: evaluate the base and the state after each mailed patch, blame, suppress, report.

Reading is from git objects only. The base is found with one ``git grep`` (the files that mention
an args struct or an offset symbol, plus every symbol any patch removes); each later state
re-reads only the paths its patch changed (``git diff --name-status``), and parsed facts are
cached by blob id, so a file is parsed once per distinct content.

Blame: a finding's identity is (rule, path, message without line numbers), or the identity the
rule gives it. One present after patch k and not after k-1 (counting repeats) is new there; one
present at the base is pre-existing and does not fail. A new finding is blamed on k unless the rule
names the lines at fault (``Hit.evidence``) and patch k wrote none of them: then the patch that
wrote the newest of them is blamed, and the finding says from which patch on it is reachable.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from patchkit.apply.record import AppliedSeries
from patchkit.apply.states import mailed_states
from patchkit.errors import DataError
from patchkit.lint import cache as lint_cache
from patchkit.lint import hygiene, registry, suppressions
from patchkit.lint.checkpatch import Checkpatch
from patchkit.lint.config import LintConfig, load_config
from patchkit.lint.lang import asm
from patchkit.lint.model import Finding, Hit, LintReport, Status
from patchkit.lint.rules.tdx import kvm
from patchkit.lint.source import GitSource
from patchkit.lint.suppressions import LineSuppression
from patchkit.lint.tdxrules import StateFacts, check_state, removed_symbol_users, removed_symbols
from patchkit.series.model import Series, Suppression
from patchkit.tree.repo import KernelTree
from patchkit.util.store import VerdictCache

_ALWAYS = ("arch/x86/kernel/asm-offsets.c", "arch/x86/kernel/asm-offsets_64.c")
_SOURCE_EXT = (".c", ".h", ".S")


class _Walker:
    def __init__(self, source: GitSource, config: LintConfig) -> None:
        self.source = source
        self.config = config
        self.relevant = config.file_pattern
        self.always = {*_ALWAYS, config.vcpu_regs_header}
        self.cache: dict[tuple[str, str], tuple[kvm.KvmFacts | asm.AsmFacts, list[LineSuppression]]] = {}
        self.parsed = 0

    def facts(self, path: str, blob: str, content: bytes) -> tuple[kvm.KvmFacts | asm.AsmFacts, list[LineSuppression]]:
        key = (path, blob)
        hit = self.cache.get(key)
        if hit is None:
            self.parsed += 1
            hit = self.cache[key] = (
                extract(path, content, self.config),
                suppressions.in_text(content.decode("utf-8", "replace")),
            )
        return hit

    def wanted(self, path: str, content: bytes) -> bool:
        return path in self.always or bool(self.relevant.search(content.decode("utf-8", "replace")))

    def build(self, label: str, files: dict[str, str]) -> StateFacts:
        contents = self.source.read(files.values())
        return state_facts(label, ((p, self.facts(p, blob, contents[blob])) for p, blob in sorted(files.items())))


def extract(path: str, content: bytes, config: LintConfig) -> kvm.KvmFacts | asm.AsmFacts:
    """The facts of one source file (assembly or C)."""
    if path.endswith(".S"):
        return asm.extract(path, content)
    return kvm.extract(path, content, config.args_structs, config.unparsed_pattern)


def state_facts(
    label: str, files: Iterable[tuple[str, tuple[kvm.KvmFacts | asm.AsmFacts, list[LineSuppression]]]]
) -> StateFacts:
    state = StateFacts(label=label)
    for path, (facts, sups) in files:
        if isinstance(facts, asm.AsmFacts):
            state.asm[path] = facts
        else:
            state.c[path] = facts
        state.suppressions[path] = sups
    return state


def _yaml_path(series: Series) -> str:
    """series.yaml as a path to show: relative to the working directory when under it."""
    path = series.directory / "series.yaml"
    try:
        shown = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if shown.startswith("..") else shown


@dataclass(frozen=True)
class _Placer:
    """The one place a :class:`Finding` is made: a hit placed in a state, with its severity and location."""

    labels: list[str]
    commits: list[str]
    series: Series
    yaml_path: str

    def finding(self, hit: Hit, index: int, status: Status = "new", patch: int | None = None) -> Finding:
        """``hit`` as seen in state ``index``, blamed on ``patch`` (default: the patch of that state)."""
        if hit.path is not None:
            path, line = hit.path, hit.line
        else:  # on the patch's entry in series.yaml
            path, line = self.yaml_path, self.series.line("patches", index - 1)
        return Finding(
            rule=hit.rule, severity=hit.severity or registry.severity(hit.rule), path=path, line=line,
            message=hit.message, patch=patch if patch is not None else index or None, state=self.labels[index],
            status=status, commit=self.commits[index], identity=hit.identity,
        )  # fmt: skip


def lint_series(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    *,
    checkpatch: bool = True,
    config: LintConfig | None = None,
    progress: Callable[[str], None] | None = None,
    cache: VerdictCache | None = None,
) -> LintReport:
    """Lint every state of the applied series; see the module docstring for blame.

    With ``cache``, a report for the same content (see :mod:`patchkit.lint.cache`) is returned as it was
    computed, marked :attr:`LintReport.cached`; a fresh report is stored. A ``config`` given here (not
    read from lint.yaml) bypasses the cache.
    """
    registry.registered_rules()  # every rule's code and YAML present, or a RuleError now
    mailed = series.mailed_patches
    if len(mailed) != len(record.patches):
        raise DataError(
            f"series '{series.name}' has {len(mailed)} patches but the applied branch has {len(record.patches)}; "
            "run 'patchkit apply --force'"
        )
    if cache is None or config is not None:
        return _lint(tree, series, record, checkpatch, config or load_config(series.directory), progress)
    key = lint_cache.lint_key(series, record, _yaml_path(series), checkpatch)
    found = lint_cache.load(cache, key)
    if found is not None:
        return found
    report = _lint(tree, series, record, checkpatch, load_config(series.directory), progress)
    lint_cache.store(cache, key, report)
    return report


def _lint(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    checkpatch: bool,
    config: LintConfig,
    progress: Callable[[str], None] | None,
) -> LintReport:
    started = time.perf_counter()
    mailed = series.mailed_patches
    source = GitSource(tree)
    walker = _Walker(source, config)
    walked = mailed_states(record)
    commits = [s.commit for s in walked]
    labels = [s.label for s in walked]
    report = LintReport(series=series.name, states=labels)
    placer = _Placer(labels, commits, series, _yaml_path(series))

    diffs = [source.diff(commits[i - 1], commits[i]) for i in range(1, len(commits))]
    removed = [removed_symbols(d) for d in diffs]
    symbols = sorted({name for r in removed for name, _p in r})
    touched = {p for i in range(1, len(commits)) for _s, p, _b in source.changed(commits[i - 1], commits[i])}
    base_hits = source.grep(commits[0], [*config.fixed_words(), *symbols], config.search_paths)
    base_candidates = {p for p, lines in base_hits.items() if any(walker.relevant.search(t) for _n, t in lines)}
    extra = source.blobs(commits[0], {p for p in touched if p.endswith(_SOURCE_EXT)} - set(base_hits))
    extra_text = source.read(extra.values())
    for path, blob in extra.items():
        lines = extra_text[blob].decode("utf-8", "replace").splitlines()
        base_hits[path] = [(n, t) for n, t in enumerate(lines, start=1) if any(w in t for w in symbols)]
        if walker.wanted(path, extra_text[blob]):
            base_candidates.add(path)
    files = source.blobs(commits[0], base_candidates | walker.always)
    symbol_re = re.compile(r"\b(" + "|".join(symbols) + r")\b") if symbols else None

    per_state: list[list[Hit]] = []
    facts_by_state: list[StateFacts] = []
    cumulative: set[str] = set()
    for index, commit in enumerate(commits):
        if progress:
            progress(f"lint: {labels[index]}")
        if index > 0:
            changed = [c for c in source.changed(commits[index - 1], commit) if c[1].endswith(_SOURCE_EXT)]
            cumulative.update(p for _s, p, _b in changed)
            contents = source.read(b for s, _p, b in changed if s != "D")
            files = dict(files)
            for status, path, now in changed:
                files.pop(path, None)
                if status != "D" and walker.wanted(path, contents[now]):
                    files[path] = now
        facts = walker.build(labels[index], files)
        facts_by_state.append(facts)
        hits = check_state(facts, config)
        if index > 0 and removed[index - 1] and symbol_re is not None:
            users = _removed_users(source, commit, removed[index - 1], base_hits, cumulative, symbol_re, index)
            # an offset used on a pointer to another struct is already reported as that, where it was written
            wrong = {(h.path, h.line) for h in hits if h.rule == "tdx/offset-struct-matches-pointer"}
            hits.extend(h for h in users if (h.path, h.line) not in wrong)
        per_state.append([h for h in hits if h.rule not in config.disabled])
    report.timings["states"] = time.perf_counter() - started

    findings = _blame(per_state, placer, source)
    for number, patch in enumerate(mailed, start=1):
        findings.extend(placer.finding(h, number) for h in hygiene.check_patch(patch, diffs[number - 1]))
    if checkpatch and record.patches:
        t0 = time.perf_counter()
        runner = Checkpatch(tree, commits[0])
        try:
            results = runner.run_all([p.commit for p in record.patches])
        finally:
            runner.close()
        report.checkpatch_ran = True
        report.timings["checkpatch"] = time.perf_counter() - t0
        for number, hits in enumerate(results, start=1):
            findings.extend(placer.finding(h, number) for h in hits)
    findings = suppressions.apply(findings, [s.suppressions for s in facts_by_state], mailed)
    for number, patch in enumerate(mailed, start=1):
        findings.extend(placer.finding(h, number) for h in check_series_suppressions(patch.suppress))
    findings.sort(key=lambda f: (-1 if f.patch is None else f.patch, f.path, f.line, f.rule))
    report.findings = findings
    report.timings["total"] = time.perf_counter() - started
    report.timings["parsed_files"] = float(walker.parsed)
    return report


def _removed_users(
    source: GitSource,
    commit: str,
    removed: list[tuple[str, str]],
    base_hits: dict[str, list[tuple[int, str]]],
    cumulative: set[str],
    symbol_re: re.Pattern[str],
    patch: int,
) -> list[Hit]:
    lines = [(p, number, text) for p, found in base_hits.items() if p not in cumulative for number, text in found]
    present = source.blobs(commit, cumulative)
    contents = source.read(present.values())
    for path, blob in sorted(present.items()):
        for number, text in enumerate(contents[blob].decode("utf-8", "replace").splitlines(), start=1):
            if symbol_re.search(text):
                lines.append((path, number, text))
    return removed_symbol_users(removed, lines, patch)


def _blame(per_state: list[list[Hit]], placer: _Placer, source: GitSource | None = None) -> list[Finding]:
    """A finding present after patch k and not after k-1 is blamed on k; when the rule names the lines that
    make the defect (``Hit.evidence``) and patch k wrote none of them, it is blamed on the patch that wrote
    the newest of them, and the message says from which patch on it is reachable."""
    findings: list[Finding] = []
    commits = placer.commits
    index_of = {commit: i for i, commit in enumerate(commits)}

    def origin(h: Hit, index: int) -> int:
        """The newest patch among the evidence lines, or ``index`` when patch ``index`` wrote one of them."""
        if source is None or not h.evidence:
            return index
        found: set[int] = set()
        by_path: dict[str, list[int]] = {}
        for path, line in h.evidence:
            by_path.setdefault(path, []).append(line)
        for path, lines in sorted(by_path.items()):
            for sha in source.blame(commits[0], commits[index], path, lines).values():
                found.add(0 if sha is None else index_of.get(sha, index))
        return index if index in found or not found else max(found)

    previous: Counter[tuple[str, str, str]] = Counter()
    for index, hits in enumerate(per_state):
        current: Counter[tuple[str, str, str]] = Counter()
        seen_now: Counter[tuple[str, str, str]] = Counter()
        for h in sorted(hits, key=lambda x: (x.path, x.line, x.rule, x.message)):
            f = placer.finding(h, index, "pre-existing" if index == 0 else "new")
            key = f.key()
            current[key] += 1
            seen_now[key] += 1
            if index == 0 or seen_now[key] <= previous[key]:
                if index == 0:
                    findings.append(f)
                continue
            written = origin(h, index)
            if written != index:
                # the defect's lines are older than the patch that first makes it reachable
                where = f"introduced by patch {written}" if written else "in lines from the base"
                f = f.with_(
                    patch=written or index, message=f"{f.message} ({where}, first reachable from patch {index})",
                    reachable_from=index,
                )  # fmt: skip
            findings.append(f)
        previous = current
    return findings


def lint_files(files: dict[str, str], config: LintConfig | None = None, label: str = "case") -> list[Hit]:
    """The state rules on in-memory files (rule cases and unit tests), as the engine runs them on a state."""
    config = config or load_config(None)
    state = state_facts(
        label,
        ((p, (extract(p, text.encode(), config), suppressions.in_text(text))) for p, text in sorted(files.items())),
    )
    return check_state(state, config)


@registry.emits("suppression/missing-reason", "suppression/unknown-rule")
def check_series_suppressions(suppressions: tuple[Suppression, ...]) -> list[Hit]:
    """Series suppressions without a reason or naming no known rule (on the patch's series.yaml entry)."""
    out: list[Hit] = []
    known = registry.all_rules()
    for s in suppressions:
        if not s.reason.strip():
            message = f"series suppression of {s.rule} has no reason; it is ignored"
            out.append(Hit("suppression/missing-reason", None, 0, message))
        elif not s.rule.startswith("checkpatch/") and not any(
            r.matches(s.rule) or fnmatch.fnmatchcase(r.id, s.rule) for r in known
        ):
            out.append(Hit("suppression/unknown-rule", None, 0, f"series suppression names no known rule: {s.rule}"))
    return out
