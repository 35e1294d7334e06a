"""The path walk of every assembly variant, once per state, shared by the rules that read it.

Those are tdx/clear-before-return, tdx/callee-saved-preserved and the pack's parse coverage (a walk
that gave up).

A problem found in several variants is one finding, at the line at fault, naming every variant; its
identity names the block the line is in (the macro, or the function for its own lines), never the
callers, so a patch that adds another user of a broken macro is not blamed for it. The lines of that
block (as expanded) are the finding's evidence for blame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from patchkit.lint.lang import asmflow
from patchkit.lint.rules.tdx.facts import CROSSING, TdxState, variants

Family = Literal["not-cleared", "callee-saved", "gave-up"]


@dataclass(frozen=True)
class Walked:
    family: Family  # which rule reports it: clear-before-return, callee-saved-preserved, parse coverage
    path: str
    line: int
    message: str
    identity: str
    evidence: tuple[tuple[str, int], ...]


def walked(state: TdxState, clear_mode: Callable[[asmflow.Variant], str | None]) -> list[Walked]:
    """Every problem of every variant of the state, grouped (computed once per state). ``clear_mode``: how
    strictly a variant must clear what came back (tdx/clear-before-return's options say)."""
    if state.walked is not None:
        return state.walked
    groups: dict[tuple[Family, str, str], list[tuple[asmflow.Variant, asmflow.PathProblem]]] = {}
    for variant in variants(state):
        for problem in asmflow.simulate(variant, clear_mode=clear_mode(variant), crossing=CROSSING):
            family, identity = _identity(variant, problem)
            groups.setdefault((family, _where(problem).path, identity), []).append((variant, problem))
    out: list[Walked] = []
    for (family, path, identity), items in sorted(groups.items()):
        where = min((_where(p) for _v, p in items), key=lambda st: st.line)
        labels = ", ".join(sorted({v.label for v, _p in items}))
        evidence = sorted(
            {
                (s.path, s.line)
                for v, p in items
                for s in v.steps
                if s.path == _where(p).path and s.origin == _where(p).origin and s.kind != "label"
            }
        )
        out.append(Walked(family, path, where.line, _message(items[0][1], labels), identity, tuple(evidence)))
    state.walked = out
    return out


def _where(p: asmflow.PathProblem) -> asmflow.Step:
    return p.where if p.where is not None else p.step


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> tuple[Family, str]:
    owner = _where(p).origin or variant.function.name
    if p.kind == "gave-up":
        return "gave-up", f"{owner}: path walk gave up"
    family: Family = "not-cleared" if p.kind == "not-cleared" else "callee-saved"
    if p.kind == "unbalanced":
        return family, f"{owner}: unbalanced"  # how many values are left differs by variant and patch
    return family, f"{owner}: {p.kind} {p.reg} {p.detail}".strip()


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
