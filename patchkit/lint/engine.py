"""lint_series: evaluate the base and the state after each mailed patch, blame, suppress, report.

The engine knows states, blame, suppressions, caching and reporting; what to read and check comes from
the rule packs (:mod:`patchkit.lint.pack`, :mod:`patchkit.lint.registry`). Reading is from git objects
only. For each tree pack, the base is searched once with ``git grep`` for the pack's words and the words
its history rules follow (the symbols patches remove), under the pack's search paths, plus every file a
patch touches; each later state re-reads only the paths its patch changed (``git diff --raw``), and a
file's facts and line suppressions are read once per blob. Blame: :mod:`patchkit.lint.blame`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from patchkit.apply.record import AppliedSeries
from patchkit.apply.states import mailed_states, to_match_the_data
from patchkit.errors import DataError
from patchkit.lint import cache as lint_cache
from patchkit.lint import registry, suppressions
from patchkit.lint.blame import Placer, blame
from patchkit.lint.checkpatch import Checkpatch
from patchkit.lint.config import defaults, load_config
from patchkit.lint.model import Hit, LintReport
from patchkit.lint.options import Settings
from patchkit.lint.pack import TreePack
from patchkit.lint.rule import PatchChange, StateRule
from patchkit.lint.rules.core import missing_reason, unknown_rule, unparsed_construct
from patchkit.lint.source import GitSource
from patchkit.lint.suppressions import LineSuppression
from patchkit.series.model import Series
from patchkit.tree.repo import KernelTree
from patchkit.util.store import VerdictCache


class _PackWalk:
    """One tree pack over the states of one applied series: which files each state holds, their facts."""

    def __init__(
        self, pack: TreePack[Any, Any], settings: Settings, source: GitSource, commits: list[str], diffs: list[str]
    ) -> None:
        self.pack, self.settings, self.source, self.commits, self.diffs = pack, settings, source, commits, diffs
        self.selection = selection = pack.selection(settings)
        self.rules = registry.state_rules(pack.name)
        self.history = registry.history_rules(pack.name)
        self.extensions = tuple("." + e for e in selection.extensions)
        self.cache: dict[tuple[str, str], tuple[Any, list[LineSuppression]]] = {}
        self.parsed = 0
        self.follow_words: set[str] = set()  # the words the pack's followed names added, searched in the base
        self.follow_pattern: re.Pattern[str] | None = None
        symbols = sorted({w for d in diffs for rule in self.history for w in rule.words(d)})
        touched = {p for i in range(1, len(commits)) for _s, p, _b in source.changed(commits[i - 1], commits[i])}
        base_hits = source.grep(commits[0], [*selection.words, *symbols], selection.search_paths, selection.extensions)
        candidates = {p for p, lines in base_hits.items() if any(selection.pattern.search(t) for _n, t in lines)}
        extra = source.blobs(commits[0], {p for p in touched if p.endswith(self.extensions)} - set(base_hits))
        extra_text = source.read(extra.values())
        for path, blob in extra.items():
            lines = extra_text[blob].decode("utf-8", "replace").splitlines()
            base_hits[path] = [(n, t) for n, t in enumerate(lines, start=1) if any(w in t for w in symbols)]
            if self.wanted(path, extra_text[blob]):
                candidates.add(path)
        self.base_lines = base_hits  # what the base search found: the lines history rules look for uses in
        self.cumulative: set[str] = set()  # source files the patches so far touched
        self.current: dict[str, str] = {}  # those of them the state being read holds: path -> blob
        files = source.blobs(commits[0], candidates | selection.always)
        unread = {p: (b, extra_text[b]) for p, b in extra.items() if p not in files}
        self.files = self._follow(files, unread)

    def wanted(self, path: str, content: bytes) -> bool:
        text = content.decode("utf-8", "replace")
        if path in self.selection.always or self.selection.pattern.search(text):
            return True
        return self.follow_pattern is not None and bool(self.follow_pattern.search(text))

    def _follow(self, files: dict[str, str], unread: dict[str, tuple[str, bytes]]) -> dict[str, str]:
        """``files`` (path -> blob) of the state being read plus the files the pack's followed names reach: a new word
        is searched in the base (for the files no patch touched yet) and in the files the patches touched; the
        ``unread`` files of this state (path -> blob, content) are tested whole. Until nothing new is added."""
        files = dict(files)
        while True:
            contents = self.source.read(files.values())
            read = [(p, self._facts(p, blob, contents[blob])[0]) for p, blob in sorted(files.items())]
            found = self.pack.followed(read, self.settings)
            if found is None:
                return files
            self.follow_pattern = found.pattern
            added: dict[str, str] = {}
            new_words = sorted(set(found.words) - self.follow_words)
            if new_words:
                self.follow_words.update(new_words)
                hits = self.source.grep(
                    self.commits[0], new_words, self.selection.search_paths, self.selection.extensions
                )
                fresh = {p for p, lines in hits.items() if p not in self.cumulative and p not in files
                         and any(found.pattern.search(t) for _n, t in lines)}  # fmt: skip
                added.update(self.source.blobs(self.commits[0], fresh))
                touched = {p: b for p, b in self.current.items() if p not in files}
                texts = self.source.read(touched.values())
                added.update(
                    {p: b for p, b in touched.items() if found.pattern.search(texts[b].decode("utf-8", "replace"))}
                )
            for path, (blob, content) in unread.items():
                if path not in files and found.pattern.search(content.decode("utf-8", "replace")):
                    added[path] = blob
            added = {p: b for p, b in added.items() if p not in files}
            if not added:
                return files
            files.update(added)

    def _facts(self, path: str, blob: str, content: bytes) -> tuple[Any, list[LineSuppression]]:
        key = (path, blob)
        hit = self.cache.get(key)
        if hit is None:
            self.parsed += 1
            facts = self.pack.extract(path, content, self.settings)
            hit = self.cache[key] = (facts, suppressions.in_text(content.decode("utf-8", "replace")))
        return hit

    def state(self, index: int, label: str) -> tuple[list[Hit], dict[str, list[LineSuppression]]]:
        """The hits of the pack's rules in state ``index`` (the patch of that state's history rules included),
        and the line suppressions of the files it read."""
        source, commit = self.source, self.commits[index]
        if index > 0:
            changed = [c for c in source.changed(self.commits[index - 1], commit) if c[1].endswith(self.extensions)]
            contents = source.read(b for s, _p, b in changed if s != "D")
            files = dict(self.files)
            unread: dict[str, tuple[str, bytes]] = {}
            for status, path, now in changed:
                self.cumulative.add(path)
                files.pop(path, None)
                if status == "D":
                    self.current.pop(path, None)
                    continue
                self.current[path] = now
                if self.wanted(path, contents[now]):
                    files[path] = now
                else:
                    unread[path] = (now, contents[now])
            self.files = self._follow(files, unread)
        contents = source.read(self.files.values())
        read = [(p, self._facts(p, blob, contents[blob])) for p, blob in sorted(self.files.items())]
        state = self.pack.state(label, [(p, facts) for p, (facts, _s) in read], self.settings)
        hits = _state_hits(self.pack, self.rules, state, self.settings)
        if index > 0:
            present = dict(self.current)
            change = PatchChange(index, self.diffs[index - 1], state, lambda words: self._uses(present, words))
            for rule in self.history:
                hits.extend(rule.run(change, self.settings))
        return hits, {p: sups for p, (_f, sups) in read}

    def _uses(self, present: dict[str, str], words: Sequence[str]) -> list[tuple[str, int, str]]:
        """Lines of a state that name one of ``words``: the base search's lines in files no patch touched yet,
        and every line of the files the patches so far touched (``present``: those the state holds, path ->
        blob)."""
        if not words:
            return []
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b")
        lines = [
            (p, number, text)
            for p, found in self.base_lines.items()
            if p not in self.cumulative
            for number, text in found
            if pattern.search(text)
        ]
        contents = self.source.read(present.values())
        for path, blob in sorted(present.items()):
            for number, text in enumerate(contents[blob].decode("utf-8", "replace").splitlines(), start=1):
                if pattern.search(text):
                    lines.append((path, number, text))
        return lines


def _state_hits(pack: TreePack[Any, Any], rules: Sequence[StateRule[Any]], state: Any, settings: Settings) -> list[Hit]:
    """Every state rule of the pack, and what the pack could not read, on one state (rules lint.yaml disables
    left out)."""
    hits: list[Hit] = []
    for rule in rules:
        if rule.id not in settings.disabled:
            hits.extend(rule.run(state, settings))
    if unparsed_construct.RULE.id not in settings.disabled:
        hits.extend(unparsed_construct.report(pack.unparsed(state, settings)))
    return hits


def _yaml_path(series: Series) -> str:
    """series.yaml as a path to show: relative to the working directory when under it."""
    path = series.directory / "series.yaml"
    try:
        shown = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if shown.startswith("..") else shown


def lint_series(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    *,
    checkpatch: bool = True,
    config: Settings | None = None,
    progress: Callable[[str], None] | None = None,
    cache: VerdictCache | None = None,
) -> LintReport:
    """Lint every state of the applied series; see the module docstring and :mod:`patchkit.lint.blame`.

    With ``cache``, a report for the same content (see :mod:`patchkit.lint.cache`) is returned as it was
    computed, marked :attr:`LintReport.cached`; a fresh report is stored. ``config`` given here (not read
    from lint.yaml) bypasses the cache.
    """
    registry.registered_rules()  # every rule's code and YAML present, or a RuleError now
    mailed = series.mailed_patches
    if len(mailed) != len(record.patches):
        raise DataError(
            f"series '{series.name}' has {len(mailed)} patches but the applied branch has {len(record.patches)}; "
            f"{to_match_the_data(tree, record, series.directory)}"
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
    settings: Settings,
    progress: Callable[[str], None] | None,
) -> LintReport:
    started = time.perf_counter()
    mailed = series.mailed_patches
    source = GitSource(tree)
    walked = mailed_states(record)
    commits = [s.commit for s in walked]
    labels = [s.label for s in walked]
    report = LintReport(series=series.name, states=labels)
    placer = Placer(labels, commits, series, _yaml_path(series))
    kept = _kept(settings)

    diffs = [source.diff(commits[i - 1], commits[i]) for i in range(1, len(commits))]
    walks = [_PackWalk(pack, settings, source, commits, diffs) for pack in registry.tree_packs()]
    per_state: list[list[Hit]] = []
    line_suppressions: list[dict[str, list[LineSuppression]]] = []
    for index, label in enumerate(labels):
        if progress:
            progress(f"lint: {label}")
        hits: list[Hit] = []
        sups: dict[str, list[LineSuppression]] = {}
        for walk in walks:
            pack_hits, pack_sups = walk.state(index, label)
            hits.extend(pack_hits)
            sups.update(pack_sups)
        hits.extend(missing_reason.in_state(sups))
        per_state.append(kept(hits))
        line_suppressions.append(sups)
    report.timings["states"] = time.perf_counter() - started

    findings = blame(per_state, placer, source)
    patch_rules = [r for r in registry.patch_rules() if r.id not in settings.disabled]
    for number, patch in enumerate(mailed, start=1):
        for rule in patch_rules:
            findings.extend(placer.finding(h, number) for h in rule.run(patch, diffs[number - 1], settings))
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
            findings.extend(placer.finding(h, number) for h in kept(hits))
    findings = suppressions.apply(findings, line_suppressions, mailed)
    for number, patch in enumerate(mailed, start=1):
        bad = [*missing_reason.in_series(patch.suppress), *unknown_rule.in_series(patch.suppress)]
        findings.extend(placer.finding(h, number) for h in kept(bad))
    findings.sort(key=lambda f: (-1 if f.patch is None else f.patch, f.path, f.line, f.rule))
    report.findings = findings
    report.timings["total"] = time.perf_counter() - started
    report.timings["parsed_files"] = float(sum(w.parsed for w in walks))
    return report


def _kept(settings: Settings) -> Callable[[list[Hit]], list[Hit]]:
    """The hits of rules lint.yaml does not disable."""
    disabled = settings.disabled
    return lambda hits: [h for h in hits if h.rule not in disabled] if disabled else hits


def lint_files(files: dict[str, str], config: Settings | None = None, label: str = "case") -> list[Hit]:
    """The state rules on in-memory files (rule cases and unit tests), as the engine runs them on a state."""
    settings = config or defaults()
    hits: list[Hit] = []
    for pack in registry.tree_packs():
        read = [(p, pack.extract(p, text.encode(), settings)) for p, text in sorted(files.items())]
        hits.extend(_state_hits(pack, registry.state_rules(pack.name), pack.state(label, read, settings), settings))
    hits.extend(missing_reason.in_state({p: suppressions.in_text(text) for p, text in sorted(files.items())}))
    return _kept(settings)(hits)
