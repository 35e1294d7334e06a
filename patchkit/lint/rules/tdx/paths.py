"""The path walk of every assembly variant, once per state, shared by the rules that read it.

Those are tdx/clear-before-return, tdx/callee-saved-preserved and the pack's parse coverage (a walk
that gave up), which :func:`walked` reports, and the rules that judge the facts each walk records
(:func:`walks`): tdx/copy-out-complete, tdx/in-out-symmetry, tdx/sti-before-tdcall,
tdx/extable-delivers-trap and tdx/tdvmcall-exposure.

A problem found in several variants is one finding, at the line at fault, naming every variant; its
identity names the block the line is in (the macro, or the function for its own lines), never the
callers, so a patch that adds another user of a broken macro is not blamed for it. The lines of that
block (as expanded) are the finding's evidence for blame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from patchkit.lint.lang import asmflow
from patchkit.lint.model import Hit
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import CROSSING, TdxState, variants

Family = Literal["not-cleared", "callee-saved", "gave-up"]


@dataclass(frozen=True)
class Walked:
    family: str  # which rule reports it: clear-before-return, callee-saved-preserved, parse coverage, or a rule id
    path: str
    line: int
    message: str
    identity: str
    evidence: tuple[tuple[str, int], ...]


def walks(state: TdxState) -> list[tuple[asmflow.Variant, asmflow.Walk]]:
    """Every variant of the state with its walk (computed once per state; each walk is cached by its steps)."""
    if state.walks is None:
        state.walks = [(variant, asmflow.walk(variant, CROSSING)) for variant in variants(state)]
    return state.walks


def walked(state: TdxState, clear_mode: Callable[[asmflow.Variant], str | None]) -> list[Walked]:
    """Every problem with callee-saved registers, the stack and clearing of every variant of the state,
    grouped (computed once per state). ``clear_mode``: how strictly a variant must clear what came back
    (tdx/clear-before-return's options say)."""
    if state.walked is not None:
        return state.walked
    found: list[tuple[asmflow.Variant, asmflow.PathProblem]] = []
    for variant, walk in walks(state):
        for problem in (*walk.problems, *asmflow.not_cleared(walk, clear_mode(variant))):
            found.append((variant, problem))
    state.walked = grouped(found, _family, _identity, _message)
    return state.walked


def owner(variant: asmflow.Variant, step: asmflow.Step) -> str:
    """The block a step is in: the macro it came from, or the function for its own lines."""
    return step.origin or variant.function.name


def where(p: asmflow.PathProblem) -> asmflow.Step:
    return p.where if p.where is not None else p.step


def grouped(
    found: Iterable[tuple[asmflow.Variant, asmflow.PathProblem]],
    family: Callable[[asmflow.PathProblem], str],
    identity: Callable[[asmflow.Variant, asmflow.PathProblem], str],
    message: Callable[[asmflow.PathProblem, str], str],
    more_evidence: Callable[[asmflow.PathProblem], Iterable[tuple[str, int]]] | None = None,
) -> list[Walked]:
    """Problems of one kind in several variants as one finding each, at the line at fault (the lowest),
    naming every variant (``message`` gets the first problem and the variants' labels), with the lines of
    the block it is in as the evidence (and ``more_evidence``'s lines, outside the block)."""
    groups: dict[tuple[str, str, str], list[tuple[asmflow.Variant, asmflow.PathProblem]]] = {}
    for variant, problem in found:
        groups.setdefault((family(problem), where(problem).path, identity(variant, problem)), []).append(
            (variant, problem)
        )
    out: list[Walked] = []
    for (kind, path, name), items in sorted(groups.items()):
        at = min((where(p) for _v, p in items), key=lambda st: st.line)
        labels = ", ".join(sorted({v.label for v, _p in items}))
        evidence = sorted(
            {
                (s.path, s.line)
                for v, p in items
                for s in v.steps
                if s.path == where(p).path and s.origin == where(p).origin and s.kind != "label"
            }
            | {line for _v, p in items for line in (more_evidence(p) if more_evidence is not None else ())}
            | {(where(p).path, where(p).line) for _v, p in items}
        )
        out.append(Walked(kind, path, at.line, message(items[0][1], labels), name, tuple(evidence)))
    return out


def hits(rule: StateRule[TdxState], found: Iterable[Walked]) -> list[Hit]:
    """``found`` as ``rule``'s hits."""
    return [rule.hit(w.path, w.line, w.message, w.identity, w.evidence) for w in found]


def report(
    rule: StateRule[TdxState],
    found: Iterable[tuple[asmflow.Variant, asmflow.PathProblem]],
    identity: Callable[[asmflow.Variant, asmflow.PathProblem], str],
    message: Callable[[asmflow.PathProblem, str], str],
    more_evidence: Callable[[asmflow.PathProblem], Iterable[tuple[str, int]]] | None = None,
) -> list[Hit]:
    """The hits of a rule that judges the walks' facts: its problems :func:`grouped` by kind."""
    return hits(rule, grouped(found, lambda p: p.kind, identity, message, more_evidence))


def _family(p: asmflow.PathProblem) -> Family:
    if p.kind == "gave-up":
        return "gave-up"
    return "not-cleared" if p.kind == "not-cleared" else "callee-saved"


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> str:
    block = owner(variant, where(p))
    if p.kind == "gave-up":
        return f"{block}: path walk gave up"
    if p.kind == "unbalanced":
        return f"{block}: unbalanced"  # how many values are left differs by variant and patch
    return f"{block}: {p.kind} {p.reg} {p.detail}".strip()


def _message(p: asmflow.PathProblem, labels: str) -> str:
    if p.kind == "gave-up":
        return (
            f"{labels}: the path walk stopped after {p.reg} states without covering every path; the TDX rules "
            "cannot check callee-saved registers or clearing before return here"
        )
    if p.kind == "not-cleared":
        how = (
            "the clearing or copy-out here leaves it out"
            if p.detail == "missed"
            else "nothing on that path stores or clears it"
        )
        return (
            f"%{p.reg} still holds what the TDX module/VMM returned when {labels} returns to C: {how}; clear it "
            "(xor), restore it from the stack, or (where the variant hands outputs back) store it to the struct"
        )
    if p.kind == "unbalanced":
        return f"{labels}: returns with {p.reg} pushed value(s) still on the stack (the last one pushed here)"
    if p.kind == "underflow":
        return f"{labels}: pops %{p.reg} with nothing pushed on this path"
    if p.detail:
        return (
            f"callee-saved %{p.reg} gets the value saved from %{p.detail} here, on a path to the return of "
            f"{labels} (pops not in reverse order of the pushes)"
        )
    return (
        f"callee-saved %{p.reg} is written here and not restored on a path to the return of {labels} "
        "(push it before the first write, pop it after the last)"
    )
