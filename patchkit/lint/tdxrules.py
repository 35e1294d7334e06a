"""The ten TDX consistency rules, evaluated over the facts of one tree state.

Each check is registered with the rule ids it emits (:func:`state_check`) and returns
:class:`~patchkit.lint.model.Hit` records; the engine adds severity, blame and suppressions.
Messages never contain line numbers, so the same problem in two states has the same identity.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from patchkit.lint import expr
from patchkit.lint.config import LintConfig
from patchkit.lint.lang import asmflow
from patchkit.lint.lang.asm import AsmFacts, Item, Macro, parse_mem
from patchkit.lint.lang.c import Base, OffsetCall, StructDef
from patchkit.lint.lang.x86 import canonical, sysv_class
from patchkit.lint.model import Hit
from patchkit.lint.registry import RuleError, declared_ids, emits
from patchkit.lint.rules.tdx.kvm import KvmFacts
from patchkit.lint.suppressions import LineSuppression

OFFSET_SYMBOL = re.compile(r"\bTDX_([A-Z][A-Z0-9]*)_([a-z][a-z0-9]*)\b")
# TDCALL (guest to TDX module), SEAMCALL (host to TDX module), VMCALL: their registers travel in the args structs
CROSSING = asmflow.Crossing(frozenset({"tdcall", "seamcall", "vmcall"}), OFFSET_SYMBOL)


@dataclass
class StateFacts:
    label: str
    c: dict[str, KvmFacts] = field(default_factory=dict)
    asm: dict[str, AsmFacts] = field(default_factory=dict)
    suppressions: dict[str, list[LineSuppression]] = field(default_factory=dict)
    variants: list[asmflow.Variant] | None = None  # expanded once per state, for every rule that walks them
    mismatches: list[tuple[Hit, str]] | None = None  # offsets on a pointer to another struct (two rules use them)

    def structs(self) -> dict[str, tuple[str, StructDef]]:
        """Struct definitions by name; a definition under arch/x86/include wins over copies."""
        found: dict[str, tuple[str, StructDef]] = {}
        for path in sorted(self.c, key=lambda p: (not p.startswith("arch/x86/include/"), p)):
            for name, sdef in self.c[path].structs.items():
                found.setdefault(name, (path, sdef))
        return found

    def asm_offsets(self) -> list[tuple[str, OffsetCall]]:
        return [
            (path, off)
            for path, facts in sorted(self.c.items())
            if path.rsplit("/", 1)[-1].startswith("asm-offsets")
            for off in facts.offsets
        ]

    def macros(self) -> dict[str, Macro]:
        merged: dict[str, Macro] = {}
        for path in sorted(self.asm):
            merged.update(self.asm[path].macros)
        return merged


# Rule ids the checks below emit, each written once (registration binds it to its YAML).
TDX_OFFSET_PER_FIELD = "tdx/offset-per-field"
TDX_ASM_OFFSET_DEFINED = "tdx/asm-offset-defined"
TDX_MOV_REGISTER_MATCHES_OFFSET = "tdx/mov-register-matches-offset"
TDX_GROUPING_COMMENT_CLASS = "tdx/grouping-comment-class"
TDX_VCPU_REGS_LAYOUT = "tdx/vcpu-regs-layout"
TDX_VCPU_REGS_COPY = "tdx/vcpu-regs-copy"
TDX_FIELD_EXISTS = "tdx/field-exists"
PARSE_UNPARSED_CONSTRUCT = "parse/unparsed-construct"
TDX_OFFSET_STRUCT_MATCHES_POINTER = "tdx/offset-struct-matches-pointer"
TDX_CLEAR_BEFORE_RETURN = "tdx/clear-before-return"
TDX_CALLEE_SAVED_PRESERVED = "tdx/callee-saved-preserved"
SUPPRESSION_MISSING_REASON = "suppression/missing-reason"
TDX_REMOVED_SYMBOL_USERS = "tdx/removed-symbol-users"

StateCheck = Callable[[StateFacts, LintConfig], list[Hit]]
STATE_CHECKS: list[StateCheck] = []  # filled by @state_check, in the order of this module


def state_check(*rule_ids: str) -> Callable[[StateCheck], StateCheck]:
    """Register a check over one state's facts, emitting ``rule_ids`` (each bound to its YAML)."""

    def register(fn: StateCheck) -> StateCheck:
        STATE_CHECKS.append(emits(*rule_ids)(fn))
        return fn

    return register


# ---- helpers ------------------------------------------------------------------------------------


def _member_types(state: StateFacts, args_structs: Iterable[str]) -> dict[str, str]:
    """Struct members whose type is an args struct: member name -> struct name."""
    wanted = set(args_structs)
    out: dict[str, str] = {}
    for facts in state.c.values():
        for sdef in facts.structs.values():
            for f in sdef.fields:
                m = re.match(r"^(?:const\s+)?struct\s+(\w+)", f.type)
                if m and m.group(1) in wanted:
                    out.setdefault(f.name, m.group(1))
    return out


def _resolve(base: Base, members: dict[str, str]) -> str | None:
    if base.struct is not None:
        return base.struct
    if base.kind == "member":
        return members.get(base.name)
    return None


# ---- rule 1 -------------------------------------------------------------------------------------


@state_check(TDX_OFFSET_PER_FIELD)
def offset_per_field(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = TDX_OFFSET_PER_FIELD
    hits: list[Hit] = []
    structs = state.structs()
    offsets = [(p, o) for p, o in state.asm_offsets()]
    if not offsets and not any(p.rsplit("/", 1)[-1].startswith("asm-offsets") for p in state.c):
        return hits
    seen: Counter[tuple[str, str]] = Counter()
    for path, off in offsets:
        struct, fld, sym = off.struct, off.field, off.symbol
        line = off.line
        if struct not in config.args_structs:
            continue
        kind = config.args_structs[struct]
        if struct not in structs:
            hits.append(Hit(rule, path, line, f"OFFSET({sym}, {struct}, {fld}) names struct {struct}, "
                            "which is not defined in this state"))  # fmt: skip
            continue
        if fld not in structs[struct][1].field_names():
            hits.append(Hit(rule, path, line, f"OFFSET({sym}, {struct}, {fld}) names a field that struct {struct} "
                            "does not have"))  # fmt: skip
            continue
        expected = f"TDX_{kind}_{fld}"
        if sym != expected:
            hits.append(Hit(rule, path, line, f"OFFSET({sym}, {struct}, {fld}) should be named {expected}"))
        seen[(struct, fld)] += 1
        if seen[(struct, fld)] == 2:
            hits.append(Hit(rule, path, line, f"{struct}.{fld} has more than one OFFSET() in asm-offsets"))
    for struct, kind in config.args_structs.items():
        if struct not in structs:
            continue
        path, sdef = structs[struct]
        for f in sdef.fields:
            if seen[(struct, f.name)] == 0:
                hits.append(Hit(rule, path, f.line, f"{struct}.{f.name} has no OFFSET(TDX_{kind}_{f.name}, {struct}, "
                                f"{f.name}) in asm-offsets"))  # fmt: skip
    return hits


# ---- rule 2 -------------------------------------------------------------------------------------


@state_check(TDX_ASM_OFFSET_DEFINED)
def asm_offset_defined(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = TDX_ASM_OFFSET_DEFINED
    kinds = set(config.args_structs.values())
    defined = {off.symbol for _p, off in state.asm_offsets()}
    # an offset used on a pointer to another struct is reported once, as that (the cause), not again here
    # when a later patch removes the offset
    wrong = {(h.path, h.line, sym) for h, sym in _pointer_mismatches(state, config)}
    hits: list[Hit] = []
    for path, facts in sorted(state.asm.items()):
        for item in facts.items:
            if item.kind not in ("insn", "directive"):
                continue
            for m in OFFSET_SYMBOL.finditer(" ".join(item.operands)):
                if m.group(1) in kinds and m.group(0) not in defined and (path, item.line, m.group(0)) not in wrong:
                    hits.append(Hit(rule, path, item.line, f"{m.group(0)} is not defined by asm-offsets in this state"))
    return hits


# ---- rule 2b: the offset belongs to the struct the pointer holds --------------------------------

ARG_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")


def _pointer_mismatches(state: StateFacts, config: LintConfig) -> list[tuple[Hit, str]]:
    """Every ``TDX_<K>_x(%base)`` whose KIND is not that of the struct %base points to. What %base holds
    comes from the C prototype of the function (SysV argument registers), else from what the rest of the
    block (the macro, or the function's own lines) indexes it with."""
    if state.mismatches is not None:
        return state.mismatches
    rule = TDX_OFFSET_STRUCT_MATCHES_POINTER
    kinds = set(config.args_structs.values())
    prototypes: dict[str, tuple[str | None, ...]] = {}
    for facts in state.c.values():
        for name, params in facts.prototypes.items():
            prototypes.setdefault(name, params)
    found: dict[tuple[str, int, str], tuple[Hit, str]] = {}
    for variant in variants(state):
        held: dict[str, tuple[str, str]] = {}  # register -> (kind, how we know)
        if not variant.synthetic and variant.function.name in prototypes:
            for reg, struct in zip(ARG_REGS, prototypes[variant.function.name], strict=False):
                if struct is not None and struct in config.args_structs:
                    held[reg] = (config.args_structs[struct], f"a struct {struct} pointer by the C prototype")
        uses: list[tuple[asmflow.Step, str, str, str]] = []  # step, symbol, kind, base
        votes: dict[tuple[str, str], Counter[str]] = {}  # (block, base) -> kinds
        for step in variant.steps:
            if step.kind != "insn":
                continue
            for op in step.operands:
                mem = parse_mem(op)
                if mem is None or mem[1] is None:
                    continue
                found_sym = OFFSET_SYMBOL.fullmatch(mem[0])
                if found_sym is None or found_sym.group(1) not in kinds:
                    continue
                uses.append((step, found_sym.group(0), found_sym.group(1), mem[1]))
                votes.setdefault((step.origin, mem[1]), Counter())[found_sym.group(1)] += 1
        for step, sym, kind, base in uses:
            expected, how = held.get(base, ("", ""))
            if not expected:
                counts = votes[(step.origin, base)].most_common()
                if len(counts) < 2 or counts[0][1] == counts[1][1]:
                    continue  # one kind only, or no majority to tell which is wrong
                expected, how = counts[0][0], f"indexed with TDX_{counts[0][0]}_* offsets elsewhere in the same code"
            if kind == expected:
                continue
            owner = step.origin or variant.function.name
            message = (
                f"{sym} indexes %{base}, which holds a pointer to the struct of the TDX_{expected}_* offsets "
                f"({how}); a TDX_{kind}_* offset reads another struct's layout"
            )
            hit = Hit(rule, step.path, step.line, message, f"{owner}: {sym} on %{base} holding {expected}",
                      ((step.path, step.line),))  # fmt: skip
            found.setdefault((step.path, step.line, sym), (hit, sym))
    state.mismatches = list(found.values())
    return state.mismatches


@state_check(TDX_OFFSET_STRUCT_MATCHES_POINTER)
def offset_struct_matches_pointer(state: StateFacts, config: LintConfig) -> list[Hit]:
    return [h for h, _sym in _pointer_mismatches(state, config)]


# ---- rule 3 -------------------------------------------------------------------------------------


def _blocks(facts: AsmFacts) -> dict[int, str]:
    """Line -> block name (macro or function) for the lines inside one."""
    owner: dict[int, str] = {}
    for macro in facts.macros.values():
        for item in macro.body:
            owner[item.line] = macro.name
    for fn in facts.functions:
        for item in fn.body:
            owner.setdefault(item.line, fn.name)
    return owner


def _from_stack(items: list[Item], at: Item, reg: str, owner: dict[int, str], block: str) -> bool:
    """Whether ``reg`` was last written, before ``at`` in the same block, from the stack (``pop %reg``,
    ``mov N(%rsp), %reg`` or an ``xchg`` with a stack slot)."""
    index = items.index(at)
    for item in reversed(items[:index]):
        if owner.get(item.line, "") != block:
            break
        if item.kind != "insn" or not item.operands:
            continue
        if item.name.startswith("pop"):
            if canonical(item.operands[0]) == reg:
                return True
            continue
        if item.name.startswith("xchg") and len(item.operands) == 2:
            regs = [canonical(op) for op in item.operands]
            mems = [parse_mem(op) for op in item.operands]
            if reg in regs and any(m is not None and m[1] == "rsp" for m in mems):
                return True
        if canonical(item.operands[-1]) == reg:
            src = parse_mem(item.operands[0]) if len(item.operands) == 2 else None
            return item.name.startswith("mov") and src is not None and src[1] == "rsp"
    return False


@state_check(TDX_MOV_REGISTER_MATCHES_OFFSET)
def mov_register_matches(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = TDX_MOV_REGISTER_MATCHES_OFFSET
    kinds = set(config.args_structs.values())
    hits: list[Hit] = []
    for path, facts in sorted(state.asm.items()):
        owner = _blocks(facts)
        moves = []
        for item in facts.items:
            if item.kind != "insn" or not item.name.startswith("mov") or len(item.operands) != 2:
                continue
            for pos, operand in enumerate(item.operands):
                mem = parse_mem(operand)
                if mem is None:
                    continue
                sym = OFFSET_SYMBOL.fullmatch(mem[0])
                if sym is None or sym.group(1) not in kinds:
                    continue
                block = owner.get(item.line, "")
                moves.append((item, pos, sym, block))
        for item, pos, sym, block in moves:
            field_reg = canonical(sym.group(2))
            other = canonical(item.operands[1 - pos])
            if field_reg is None or other is None or field_reg == other:
                continue
            mem = parse_mem(item.operands[pos])
            base = mem[1] if mem is not None else None
            # The one exception: the pointer register's own field, stored from the value the register got back,
            # which had to wait on the stack while the register held the pointer again. Loading that field into
            # another register, or storing a register that did not come from the stack, is a mismatch.
            if (
                config.pointer_exception and pos == 1 and field_reg == base
                and _from_stack(facts.items, item, other, owner, block)
            ):  # fmt: skip
                continue
            direction = "loaded into" if pos == 0 else "stored from"
            hits.append(Hit(rule, path, item.line, f"{sym.group(0)} is {direction} %{other} in "
                            f"{block or path}; the offset is that of %{field_reg}"))  # fmt: skip
    return hits


# ---- rules 4 and 5 ------------------------------------------------------------------------------


def clear_mode(variant: asmflow.Variant, config: LintConfig) -> str | None:
    """How strictly the variant must clear what came back: None, "cleared" or "stored-or-cleared"."""
    if not variant.synthetic and variant.function.name in config.clear_functions:
        return "cleared" if config.clear_functions[variant.function.name] else None
    if variant.macro in config.clear_macros and _condition(config.clear_macros[variant.macro], variant.args):
        return "cleared"
    return None if config.clear_mode == "off" else config.clear_mode


def _condition(cond: str | bool, args: tuple[tuple[str, str], ...]) -> bool:
    """Whether a variant with these macro arguments is one the condition (lint.yaml) names: a name the macro
    does not have, or a condition with no value, names none."""
    if isinstance(cond, bool):
        return cond
    names: dict[str, int] = {}
    for key, value in args:
        number = expr.literal(value)
        names[key] = number if number is not None else (1 if value else 0)
    try:
        return bool(expr.evaluate(str(cond), names, words=True))
    except expr.ExprError:
        return False


def variants(state: StateFacts) -> list[asmflow.Variant]:
    """Every function that touches an args struct or the stack, expanded; plus every variant of every
    args-struct macro that no function invokes yet (its text says which variants exist)."""
    if state.variants is not None:
        return state.variants
    out: list[asmflow.Variant] = []
    macros = state.macros()
    expander = asmflow.Expander(macros, CROSSING)
    for _path, facts in sorted(state.asm.items()):
        for fn in facts.functions:
            variant = expander.expand(fn)
            if variant.relevant:
                out.append(variant)
    for name, macro in sorted(macros.items()):
        if not asmflow.uses_slots(macro, CROSSING):
            continue
        called = [dict(v.args) for v in out if v.macro == name]
        for values in asmflow.macro_variants(macro):
            varied = [k for k, v in values.items() if not v.startswith("<")]
            if any(all(c.get(k) == values[k] for k in varied) for c in called):
                continue  # a function invokes this variant: its own expansion covers it
            out.append(expander.expand_macro(macro, values))
    state.variants = out
    return out


@state_check(TDX_CLEAR_BEFORE_RETURN, TDX_CALLEE_SAVED_PRESERVED, PARSE_UNPARSED_CONSTRUCT)
def asm_paths(state: StateFacts, config: LintConfig) -> list[Hit]:
    """Rules 4 and 5 over every variant (see :func:`variants`). A problem found in several variants is one
    finding, at the line at fault, naming every variant; its identity names the block the line is in (the
    macro, or the function for its own lines), never the callers, so a patch that adds another user of a
    broken macro is not blamed for it."""
    groups: dict[tuple[str, str, str], list[tuple[asmflow.Variant, asmflow.PathProblem]]] = {}
    for variant in variants(state):
        for problem in asmflow.simulate(variant, clear_mode=clear_mode(variant, config), crossing=CROSSING):
            rule, identity = _identity(variant, problem)
            groups.setdefault((rule, _where(problem).path, identity), []).append((variant, problem))
    hits: list[Hit] = []
    for (rule, path, identity), items in sorted(groups.items()):
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
        hits.append(Hit(rule, path, where.line, _message(items[0][1], labels), identity, tuple(evidence)))
    return hits


def _where(p: asmflow.PathProblem) -> asmflow.Step:
    return p.where if p.where is not None else p.step


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> tuple[str, str]:
    owner = _where(p).origin or variant.function.name
    if p.kind == "gave-up":
        return PARSE_UNPARSED_CONSTRUCT, f"{owner}: path walk gave up"
    rule = TDX_CLEAR_BEFORE_RETURN if p.kind == "not-cleared" else TDX_CALLEE_SAVED_PRESERVED
    if p.kind == "unbalanced":
        return rule, f"{owner}: unbalanced"  # how many values are left differs by variant and patch
    return rule, f"{owner}: {p.kind} {p.reg} {p.detail}".strip()


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


# ---- rule 6 -------------------------------------------------------------------------------------

_CLOBBERED_WORDS = re.compile(r"callee[- ]clobbered|caller[- ]saved|scratch|\bvolatile")
_SAVED_WORDS = re.compile(r"callee[- ]saved|non-volatile|preserved")
_REG_WORD = re.compile(r"\b(r[a-z0-9]{1,3}|e[a-z]{2})\b")


@state_check(TDX_GROUPING_COMMENT_CLASS)
def grouping_comments(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = TDX_GROUPING_COMMENT_CLASS
    hits: list[Hit] = []
    for name, (path, sdef) in sorted(state.structs().items()):
        if name not in config.args_structs:
            continue
        for group in sdef.groups:
            text = group.comment.lower()
            clobbered, saved = bool(_CLOBBERED_WORDS.search(text)), bool(_SAVED_WORDS.search(text))
            if clobbered == saved:
                continue
            want = "clobbered" if clobbered else "saved"
            named = {canonical(w) for w in _REG_WORD.findall(text)} - {None}
            comment = " ".join(group.comment.strip("/* \t\n").split())
            for fname in group.fields:
                reg = canonical(fname)
                if reg is None or reg in named:
                    continue
                actual = sysv_class(reg)
                if actual is not None and actual != want:
                    field_line = next((f.line for f in sdef.fields if f.name == fname), group.line)
                    cls = "callee-saved" if actual == "saved" else "callee-clobbered"
                    hits.append(Hit(rule, path, field_line, f"struct {name}: {fname} is {cls} (SysV) but sits under "
                                    f"the comment '{comment}'"))  # fmt: skip
    return hits


# ---- rule 7 -------------------------------------------------------------------------------------


def _vcpu_regs(state: StateFacts, config: LintConfig) -> dict[str, int] | None:
    facts = state.c.get(config.vcpu_regs_header)
    candidates = [facts] if facts is not None else list(state.c.values())
    out: dict[str, int] = {}
    for f in candidates:
        for name, (value, _line) in f.defines.items():
            m = re.match(r"^__VCPU_REGS_([A-Z0-9]+)$", name)
            if m:
                try:
                    out[m.group(1).lower()] = int(value.split()[0], 0)
                except (ValueError, IndexError):
                    continue
    return out or None


@state_check(TDX_VCPU_REGS_LAYOUT)
def vcpu_regs_layout(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = TDX_VCPU_REGS_LAYOUT
    hits: list[Hit] = []
    arrays = {"regs"}.union(*(f.array_names for f in state.c.values()))  # declared [NR_VCPU_REGS]
    uses = [(p, u) for p, f in sorted(state.c.items()) for u in f.layouts if u.array in arrays]
    if not uses:
        return hits
    structs = state.structs()
    members = _member_types(state, config.args_structs)
    regs = _vcpu_regs(state, config)
    for path, use in uses:
        struct = use.struct
        if struct is not None and struct.startswith("member:"):
            struct = members.get(struct[len("member:") :])
        if struct not in config.args_structs:
            continue
        what = f"{use.how} between the vcpu register array ({use.array}) and struct {struct}"
        if struct not in structs:
            hits.append(Hit(rule, path, use.line, f"{what}: struct {struct} is not defined in this state"))
            continue
        if regs is None:
            hits.append(Hit(rule, path, use.line, f"{what}: no __VCPU_REGS_* values found ({config.vcpu_regs_header})"))
            continue
        for index, f in enumerate(structs[struct][1].fields):
            offset = 8 * index
            reg = canonical(f.name) or f.name
            if reg not in regs:
                hits.append(Hit(rule, path, use.line, f"{what}: field {f.name} (offset {offset}) has no "
                                f"__VCPU_REGS_{f.name.upper()} slot"))  # fmt: skip
            elif regs[reg] * 8 != offset:
                hits.append(Hit(rule, path, use.line, f"{what}: field {f.name} is at offset {offset} but "
                                f"8 * __VCPU_REGS_{reg.upper()} is {regs[reg] * 8}"))  # fmt: skip
    return hits


# ---- rule 8 -------------------------------------------------------------------------------------


@state_check(TDX_VCPU_REGS_COPY)
def vcpu_regs_copy(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = TDX_VCPU_REGS_COPY
    hits: list[Hit] = []
    members = _member_types(state, config.args_structs)
    for path, facts in sorted(state.c.items()):
        for copy in facts.copies:
            struct = _resolve(copy.args.base, members)
            if struct not in config.args_structs:
                continue
            field_reg = canonical(copy.args.field)
            vcpu_reg = canonical(copy.vcpu.reg)
            if field_reg is None or vcpu_reg is None or field_reg == vcpu_reg:
                continue
            candidates = config.translation_for(field_reg, vcpu_reg, copy.part)
            if any(t.applies(copy.function, copy.args.base.name) for t in candidates):
                continue
            half = {"low": " (low 32 bits)", "high": " (high 32 bits)"}.get(copy.part, "")
            field_text = f"{struct}.{copy.args.field}"
            arrow = (
                f"{field_text}{half} -> vcpu {vcpu_reg.upper()}"
                if copy.direction == "to_vcpu"
                else f"vcpu {vcpu_reg.upper()}{half} -> {field_text}"
            )
            if candidates:
                where = copy.function or "file scope"
                why = (
                    f"'{candidates[0].name}' pairs them, but only in code that carries that ABI (functions "
                    f"{', '.join(candidates[0].functions) or '-'}; args {', '.join(candidates[0].args) or '-'}; "
                    f"scope in lint.yaml), and {where} with {copy.args.base.name or 'these args'} is not such code"
                )
            else:
                why = "no configured ABI translation pairs them"
            hits.append(Hit(rule, path, copy.vcpu.line, f"{arrow}: different registers; {why}"))
    return hits


# ---- rule 9 -------------------------------------------------------------------------------------


@state_check(TDX_FIELD_EXISTS)
def field_exists(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = TDX_FIELD_EXISTS
    hits: list[Hit] = []
    structs = state.structs()
    members = _member_types(state, config.args_structs)
    for path, facts in sorted(state.c.items()):
        for use in facts.uses:
            struct = _resolve(use.base, members)
            if struct not in config.args_structs or struct not in structs:
                continue
            if use.field not in structs[struct][1].field_names():
                what = "designated initializer ." if use.kind == "init" else "member access "
                hits.append(Hit(rule, path, use.line, f"{what}{use.field}: struct {struct} has no field "
                                f"'{use.field}' in this state"))  # fmt: skip
    return hits


# ---- parse problems and bad suppressions --------------------------------------------------------


@state_check(PARSE_UNPARSED_CONSTRUCT)
def unparsed(state: StateFacts, config: LintConfig) -> list[Hit]:
    rule = PARSE_UNPARSED_CONSTRUCT
    hits: list[Hit] = []
    for path, facts in sorted(state.c.items()):
        for u in facts.unparsed:
            hits.append(Hit(rule, path, u.line, f"'{u.token}' is inside a construct tree-sitter could not parse; "
                            "the TDX rules cannot check it"))  # fmt: skip
    conditions = {
        (where, line, " ".join(text.split()), why) for v in variants(state) for where, line, text, why in v.unreadable
    }
    for where, line, text, why in sorted(conditions):
        shown = text if len(text) <= 60 else text[:57] + "..."
        hits.append(Hit(rule, where, line, f"'{shown}' cannot be evaluated ({why}); the TDX rules read its block "
                        "as taken"))  # fmt: skip
    kinds = set(config.args_structs.values())
    for path, afacts in sorted(state.asm.items()):
        for item in afacts.items:
            if item.kind != "insn" or not item.name.startswith("mov"):
                continue
            syms = [m for m in OFFSET_SYMBOL.finditer(" ".join(item.operands)) if m.group(1) in kinds]
            if not syms:
                continue
            good = len(item.operands) == 2 and any(
                (mem := parse_mem(op)) is not None and OFFSET_SYMBOL.fullmatch(mem[0]) for op in item.operands
            )
            if not good:
                hits.append(Hit(rule, path, item.line, f"cannot read the operands of '{item.text}'; the TDX rules "
                                "cannot check it"))  # fmt: skip
    return hits


@state_check(SUPPRESSION_MISSING_REASON)
def bad_suppressions(state: StateFacts, config: LintConfig) -> list[Hit]:
    hits: list[Hit] = []
    for path, sups in sorted(state.suppressions.items()):
        for s in sups:
            if not s.reason:
                hits.append(Hit(SUPPRESSION_MISSING_REASON, path, s.line, f"suppression of {s.rule} has no reason "
                                "('-- <why>'); it is ignored"))  # fmt: skip
    return hits


def check_state(state: StateFacts, config: LintConfig) -> list[Hit]:
    """Every registered state check over one state (the engine's and the rule cases' entry point)."""
    hits: list[Hit] = []
    for check in STATE_CHECKS:
        declared = declared_ids(check)
        for hit in check(state, config):
            if hit.rule not in declared:
                raise RuleError(f"{check.__name__} emitted {hit.rule}, which it does not declare")
            if hit.rule not in config.disabled:
                hits.append(hit)
    return hits


# ---- rule 10 ------------------------------------------------------------------------------------

_REMOVED_DEFS = (
    re.compile(r"^\s*struct\s+(\w+)\s*\{"),
    re.compile(r"^\s*#\s*define\s+(\w+)"),
    re.compile(r"^\s*SYM_[A-Z_]*START[A-Z_]*\(\s*(\w+)"),
    re.compile(r"^\s*(?:OFFSET|DEFINE)\(\s*(\w+)\s*,"),
    re.compile(r"^\s*\.macro\s+(\w+)"),
    re.compile(
        r"^(?:static\s+|extern\s+|inline\s+|__always_inline\s+|noinstr\s+|const\s+)*"
        r"(?:unsigned\s+|signed\s+|struct\s+|enum\s+)?\w+[\s*]+(?:__\w+\s+)*\**(\w+)\s*\("
    ),
)
_NOT_NAMES = {"if", "while", "for", "switch", "return", "sizeof", "defined"}
_HEADER_GUARD = re.compile(r"^_*[A-Z0-9_]+_H_*$")


def defined_names(line: str) -> list[str]:
    names = []
    for pattern in _REMOVED_DEFS:
        m = pattern.match(line)
        if m and m.group(1) not in _NOT_NAMES:
            names.append(m.group(1))
            break
    return names


def removed_symbols(diff_text: str) -> list[tuple[str, str]]:
    """(symbol, file) for definitions on removed lines of a unified diff that no added line defines again."""
    removed: dict[str, str] = {}
    added: set[str] = set()
    path = ""
    for line in diff_text.splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            if line.startswith("--- "):
                path = line[6:] if line.startswith("--- a/") else path
            continue
        if not path.endswith((".c", ".h", ".S")):
            continue
        if line.startswith("-"):
            for name in defined_names(line[1:]):
                if not _HEADER_GUARD.match(name):
                    removed.setdefault(name, path)
        elif line.startswith("+"):
            added.update(defined_names(line[1:]))
    return [(name, p) for name, p in removed.items() if name not in added]


def _in_comment(text: str, name: str) -> bool:
    stripped = text.lstrip()
    if stripped.startswith(("*", "/*", "//")):
        return True
    pos = re.search(r"\b" + re.escape(name) + r"\b", text)
    if pos is None:
        return True
    before = text[: pos.start()]
    return before.rfind("/*") > before.rfind("*/") or "//" in before


@emits(TDX_REMOVED_SYMBOL_USERS)
def removed_symbol_users(
    removed: list[tuple[str, str]], lines: Iterable[tuple[str, int, str]], patch: int
) -> list[Hit]:
    """Uses of a symbol patch ``patch`` removed, among ``lines`` ((path, line, text) of the state after it)."""
    hits_by_symbol: dict[str, list[tuple[str, int, str]]] = {}
    if removed:
        symbol = re.compile(r"\b(" + "|".join(re.escape(n) for n, _p in removed) + r")\b")
        for path, number, text in lines:
            for m in symbol.finditer(text):
                hits_by_symbol.setdefault(m.group(1), []).append((path, number, text))
    out: list[Hit] = []
    for name, where in removed:
        hits = hits_by_symbol.get(name, [])
        if any(name in defined_names(text) for _p, _l, text in hits):
            continue  # still (or again) defined somewhere: moved, not removed
        for path, line, text in hits:
            if _in_comment(text, name):
                continue
            out.append(Hit(TDX_REMOVED_SYMBOL_USERS, path, line, f"uses {name}, which patch {patch} removed "
                           f"(from {where}) and nothing defines any more"))  # fmt: skip
    return out
