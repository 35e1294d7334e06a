"""Blame: which patch a finding is new in, and which patch wrote the lines that make it.

A finding's identity is (rule, path, message without line numbers), or the identity the rule gives it.
One present after patch k and not after k-1 (counting repeats) is new there; one present at the base is
pre-existing and does not fail. A new finding is blamed on k unless the rule names the lines at fault
(``Hit.evidence``) and patch k wrote none of them: then the patch that wrote the newest of them is
blamed, and the finding says from which patch on it is reachable. A patch that deleted code inside the
evidence (between two of its lines, or next to it with only blank lines, comments, labels and ``.if``
structure in between) wrote the defect too: a dropped pop or store leaves no line of its own to blame.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from patchkit.lint import definitions
from patchkit.lint.model import Finding, Hit, Status
from patchkit.lint.source import GitSource
from patchkit.series.model import Series


@dataclass(frozen=True)
class Placer:
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
            rule=hit.rule, severity=hit.severity or definitions.severity(hit.rule), path=path, line=line,
            message=hit.message, patch=patch if patch is not None else index or None, state=self.labels[index],
            status=status, commit=self.commits[index], identity=hit.identity,
        )  # fmt: skip


def blame(per_state: list[list[Hit]], placer: Placer, source: GitSource | None = None) -> list[Finding]:
    """A finding present after patch k and not after k-1 is blamed on k; when the rule names the lines that
    make the defect (``Hit.evidence``) and patch k wrote none of them, it is blamed on the patch that wrote
    the newest of them, and the message says from which patch on it is reachable."""
    findings: list[Finding] = []
    commits = placer.commits
    index_of = {commit: i for i, commit in enumerate(commits)}
    deletions: dict[int, dict[str, list[tuple[int, str]]]] = {}  # per state: what its patch deleted, read once

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
        if index in found or not found or _deleted_inside(source, commits, index, by_path, deletions):
            return index
        return max(found)

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


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
# lines that are no code of their own: blank, a comment, a label, assembler conditionals
_SOFT = re.compile(r"^\s*(?:$|/\*|\*|//|[.\w$\\@]+:\s*$|\.(?:if\w*|else\w*|endif)\b)")


def deleted_lines(diff: str) -> dict[str, list[tuple[int, str]]]:
    """Per path of a unified diff: each deleted line that was code, with the line of the new file it sat just
    before."""
    out: dict[str, list[tuple[int, str]]] = {}
    path: str | None = None
    line = 0
    for raw in diff.splitlines():
        if raw.startswith("diff --git "):
            path = None
        elif raw.startswith("+++ "):
            path = raw[6:] if raw.startswith("+++ b/") else None
        elif raw.startswith("--- "):
            continue
        elif (hunk := _HUNK.match(raw)) is not None:
            start, count = int(hunk.group(1)), int(hunk.group(2) or "1")
            line = start if count else start + 1
        elif path is not None and raw.startswith(("+", " ")):
            line += 1
        elif path is not None and raw.startswith("-") and not _SOFT.match(raw[1:]):
            out.setdefault(path, []).append((line, raw[1:]))
    return out


def _deleted_inside(
    source: GitSource,
    commits: list[str],
    index: int,
    evidence: dict[str, list[int]],
    cache: dict[int, dict[str, list[tuple[int, str]]]],
) -> bool:
    """Whether patch ``index`` deleted code inside the evidence lines of some path."""
    if index == 0:
        return False
    if index not in cache:
        cache[index] = deleted_lines(source.diff(commits[index - 1], commits[index]))
    deleted = cache[index]
    for path, lines in evidence.items():
        gaps = sorted({gap for gap, _text in deleted.get(path, ())})
        if not gaps:
            continue
        first, last = min(lines), max(lines)
        text: list[str] | None = None
        for gap in gaps:
            if first < gap <= last:
                return True
            if text is None:
                blob = source.blobs(commits[index], [path]).get(path)
                content = source.read([blob])[blob] if blob is not None else b""
                text = content.decode("utf-8", "replace").splitlines()
            between = text[last : gap - 1] if gap > last else text[gap - 1 : first - 1]
            if all(_SOFT.match(t) for t in between):
                return True
    return False
