"""The TDX pack's side of the C facts: where code moves values between register slots (an args-struct field, a
vCPU register, an accessor of either), what the code around such a move handles, how C code uses an args
struct around the calls it passes it to, and places that view a vCPU register array as an args struct.

Filled from the hooks of :class:`patchkit.lint.lang.c.Extractor` in the same walk as the generic facts.
Everything that needs the whole state (which member is an args struct, what an accessor in another file
returns, what a called function does with the struct) is recorded unresolved here and resolved per state
(:mod:`patchkit.lint.rules.tdx.copies`, :mod:`patchkit.lint.rules.tdx.calls`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from patchkit.lint.lang.c import (
    CFacts,
    Extractor,
    FieldUse,
    declarator_names,
    line,
    parts,
    struct_name_of_type,
    text,
)
from patchkit.lint.lang.x86 import canonical

_VCPU_REG_INDEX = re.compile(r"^(?:__)?VCPU_REGS_([A-Z0-9]+)$")
# kvm_rax_read(vcpu), kvm_r12_write(vcpu, v), kvm_ecx_write(vcpu, v) (the low 32 bits), kvm_rsi_write_raw(...)
_KVM_ACCESSOR = re.compile(r"^kvm_(e(?:[abcd]x|[sd]i|bp|sp)|r(?:[abcd]x|[sd]i|bp|sp|\d{1,2}))_(read|write)(?:_raw)?$")
_KVM_REGISTER = re.compile(r"^kvm_register_(read|write)(?:_raw)?$")
_CONSTANT = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")
_STI = re.compile(r"STI|\bsti\b|_sti\b")
# structs that hold a set of saved registers under their names (ax, cx, r8, ...): the guest's #VE handlers copy
# between them and the args struct as KVM does between the args struct and the vCPU registers
REGISTER_FILES = frozenset({"pt_regs"})

# Which enclosing code a move sits in, innermost first: per level, the names that say what it handles (case
# labels, the constants an if compares with, the functions called in that block).
Context = tuple[frozenset[str], ...]


@dataclass(frozen=True)
class VcpuReg:
    reg: str  # 64-bit register name, lower case
    line: int
    text: str
    half: str = ""  # "low" for the 32-bit accessors (kvm_eax_read, kvm_ecx_write)
    kind: str = "vcpu"  # "vcpu" (KVM's register array and accessors) or "pt_regs" (a guest's saved registers)

    def shown(self) -> str:
        return f"{'vcpu' if self.kind == 'vcpu' else 'pt_regs'} {self.reg.upper()}"


@dataclass(frozen=True)
class Operand:
    """One end of a move: an args-struct field candidate (resolved per state), a vCPU register, or the value of a
    call to a function that may be a one-line accessor (resolved per state). ``part``: the 32-bit half of the
    args field the value is (a mask, a cast, a shift by 32)."""

    field: FieldUse | None = None
    vcpu: VcpuReg | None = None
    call: str = ""
    part: str = ""


@dataclass(frozen=True)
class Transfer:
    """``dest = sources`` (an assignment, a write accessor, a designated initializer)."""

    dest: Operand
    sources: tuple[Operand, ...]
    function: str
    line: int
    context: Context


@dataclass(frozen=True)
class SetterCall:
    """A call to a function that may be a one-line setter: its arguments' operands, resolved per state."""

    name: str
    line: int
    function: str
    context: Context
    args: tuple[tuple[Operand, ...], ...]


@dataclass(frozen=True)
class Setter:
    """A one-line function that stores one of its parameters: ``to_tdx(vcpu)->vp_enter_args.r11 = val;``."""

    param: int
    target: Operand


@dataclass(frozen=True)
class RegCopy:
    """A copy between an args-struct field and a vCPU register, resolved in one state."""

    args: FieldUse
    struct: str
    vcpu: VcpuReg
    direction: str  # "to_vcpu" | "from_vcpu"
    function: str  # the function the copy is in ("" at file scope)
    part: str  # "" (the whole register), "low" or "high" (32 bits)
    line: int
    context: Context


@dataclass(frozen=True)
class FlowEvent:
    """What a function does with an args struct, in source order: reads or writes a field, or passes it to a
    call. ``obj``: the variable or parameter, or ``->member`` for a member (resolved per state)."""

    kind: str  # "read" | "write" | "call"
    obj: str
    line: int
    struct: str = ""  # the args struct of a variable ("" for a member: resolved per state)
    field: str = ""
    callee: str = ""
    fnargs: tuple[str, ...] = ()  # identifiers passed along (a function pointer: sc_retry(__seamcall_ret, ...))
    sti: str = ""  # "then" / "else": the call sits in a branch of an if that tests an STI flag


@dataclass
class Flow:
    line: int
    params: tuple[tuple[int, str], ...]  # (index, name) of the parameters that point to an args struct
    events: list[FlowEvent] = field(default_factory=list)


@dataclass(frozen=True)
class LayoutUse:
    """A place that treats a vcpu register array (or a struct that wraps it) as an args struct."""

    line: int
    how: str  # "cast" | "memcpy" | "conversion" (void * or implicit) | "argument" (to a parameter, per state)
    text: str
    struct: str | None  # args struct (or "member:<name>", resolved per state)
    array: str  # the array's last name ("regs"), or the wrapper variable or member
    regs_index: str = ""  # the index into the array the view starts at ("VCPU_REGS_R8"), "" for 0
    field: str = ""  # the args field the view starts at (memcpy(&args.r8, ...)), "" for the start
    size: str = ""  # memcpy's size, sizeof() resolved where the file says ("" for the whole struct)
    wrapper: str = ""  # the declared struct type of ``array`` when it is a variable (a wrapper struct)
    callee: str = ""  # "argument": the function and argument position the pointer is passed to
    argpos: int = -1


@dataclass(frozen=True)
class StructCopy:
    """memcpy between two args structs (old and new): each side's struct and the field it starts at."""

    line: int
    text: str
    dest: str  # struct or "member:<name>"
    dest_field: str
    source: str
    source_field: str
    size: str


@dataclass
class KvmFacts(CFacts):
    transfers: list[Transfer] = field(default_factory=list)
    setter_calls: list[SetterCall] = field(default_factory=list)
    getters: dict[str, tuple[Operand, ...]] = field(default_factory=dict)
    setters: dict[str, Setter] = field(default_factory=dict)
    # what a case of a switch handles and the functions it calls (a function's callers say what it handles)
    dispatch: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)
    flows: dict[str, Flow] = field(default_factory=dict)
    layouts: list[LayoutUse] = field(default_factory=list)
    struct_copies: list[StructCopy] = field(default_factory=list)
    array_names: set[str] = field(default_factory=set)  # names declared [NR_VCPU_REGS]
    calls: dict[str, frozenset[str]] = field(default_factory=dict)  # function -> the functions it calls


def _strip(node: Any) -> Any:
    """Parentheses and casts off an expression."""
    while node.type in ("parenthesized_expression", "cast_expression") and node.named_children:
        node = node.child_by_field_name("value") or node.named_children[-1]
    return node


def _identifiers(node: Any) -> set[str]:
    return set(_CONSTANT.findall(text(node)))


class KvmExtractor(Extractor):
    def __init__(self, path: str, src: bytes, structs: Iterable[str], relevant: re.Pattern[str]) -> None:
        super().__init__(path, src, structs, relevant)
        self._callees: dict[int, frozenset[str]] = {}
        self._contexts: dict[int, Context] = {}
        self.struct_vars: dict[int, dict[str, str]] = {}  # scope -> variable -> its struct type (any struct)

    def new_facts(self, path: str) -> CFacts:
        self.kvm = KvmFacts(path=path)
        return self.kvm

    # ---- what the code around a node handles -------------------------------------------------------------
    def callees(self, node: Any) -> frozenset[str]:
        """Names of the functions called anywhere under ``node``, and of the identifiers passed to them (a
        callback: ``__kvm_emulate_hypercall(vcpu, 0, tdx_hypercall_done)``)."""
        found = self._callees.get(node.id)
        if found is None:
            names: set[str] = set()
            todo = [node]
            while todo:
                n = todo.pop()
                if n.type == "call_expression":
                    fn = n.child_by_field_name("function")
                    if fn is not None and fn.type == "identifier":
                        names.add(text(fn))
                    args = n.child_by_field_name("arguments")
                    if args is not None:
                        names.update(text(a) for a in args.named_children if a.type == "identifier")
                todo.extend(n.named_children)
            found = self._callees[node.id] = frozenset(names)
        return found

    def _labels(self, case: Any) -> set[str]:
        """The constants of a case label and of the empty cases right before it (they fall through)."""
        names: set[str] = set()
        value = case.child_by_field_name("value")
        if value is not None:
            names |= _identifiers(value)
        sibling = case.prev_named_sibling
        while sibling is not None and sibling.type == "case_statement" and len(sibling.named_children) <= 1:
            v = sibling.child_by_field_name("value")
            if v is not None:
                names |= _identifiers(v)
            sibling = sibling.prev_named_sibling
        return names

    def context(self, node: Any) -> Context:
        """What each block around ``node`` handles, innermost first, up to the function."""
        levels: list[frozenset[str]] = []
        child, n = node, node.parent
        while n is not None and n.type != "function_definition":
            known = self._contexts.get(n.id)
            if known is not None and n.type != "if_statement":
                levels.extend(known)
                break
            if n.type == "case_statement":
                levels.append(frozenset(self._labels(n) | self.callees(n)))
            elif n.type == "if_statement":
                consequence = n.child_by_field_name("consequence")
                condition = n.child_by_field_name("condition")
                if consequence is not None and child.id == consequence.id and condition is not None:
                    levels.append(frozenset(_identifiers(condition) | self.callees(consequence)))
                elif child.type == "else_clause":
                    levels.append(self.callees(child))
            elif n.type == "compound_statement":
                levels.append(self.callees(n))
            child, n = n, n.parent
        return tuple(levels)

    def on_case(self, node: Any, scope: int) -> None:
        labels = self._labels(node)
        callees = self.callees(node)
        if labels and callees:
            self.kvm.dispatch.append((frozenset(labels), callees))

    # ---- operands ----------------------------------------------------------------------------------------
    def on_declarator(self, name: str, array: str | None) -> None:
        if array is not None and "NR_VCPU_REGS" in array:
            self.kvm.array_names.add(name)

    def _struct_var(self, name: str, scope: int) -> str | None:
        return self.struct_vars.get(scope, {}).get(name) or self.struct_vars.get(0, {}).get(name)

    def _vcpu_reg(self, node: Any, scope: int) -> VcpuReg | None:
        """``x->arch.regs[VCPU_REGS_RAX]``, ``kvm_rax_read(vcpu)``, ``kvm_register_read(vcpu, VCPU_REGS_RAX)``."""
        if node.type == "subscript_expression":
            arg = node.child_by_field_name("argument")
            idx = node.child_by_field_name("index")
            if arg is None or idx is None:
                named = node.named_children
                if len(named) < 2:
                    return None
                arg, idx = named[0], named[-1]
            m = _VCPU_REG_INDEX.match(text(idx).strip())
            if m:  # the VCPU_REGS_* index says it is a vcpu register array, whatever its name
                return VcpuReg(m.group(1).lower(), line(node), text(node))
            return None
        if node.type == "field_expression":  # regs->ax: a guest's registers saved in struct pt_regs
            arg, fld = node.child_by_field_name("argument"), node.child_by_field_name("field")
            if arg is None or fld is None or _strip(arg).type != "identifier":
                return None
            var = text(_strip(arg))
            reg = canonical(text(fld))
            if reg is not None and self._struct_var(var, scope) in REGISTER_FILES:
                return VcpuReg(reg, line(node), text(node), kind="pt_regs")
            return None
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is None or args is None:
                return None
            name = text(fn)
            m = _KVM_ACCESSOR.match(name)
            if m and m.group(2) == "read":
                return _accessor_reg(m.group(1), node)
            m2 = _KVM_REGISTER.match(name)
            if m2 and m2.group(1) == "read" and len(args.named_children) >= 2:
                idx = _VCPU_REG_INDEX.match(text(args.named_children[1]).strip())
                if idx:
                    return VcpuReg(idx.group(1).lower(), line(node), text(node))
        return None

    def operands(self, node: Any, scope: int) -> tuple[Operand, ...]:
        """What an expression is made of that can be a register slot: args-field candidates, vCPU registers, calls
        (accessors, resolved per state), each with the 32-bit half it takes."""
        out: list[Operand] = []
        for part_node, part in parts(node):
            vcpu = self._vcpu_reg(part_node, scope)
            if vcpu is not None:
                out.append(Operand(vcpu=vcpu, part=part))
                continue
            use = self.member_use(part_node, scope)
            if use is not None:
                if canonical(use.field) is not None:
                    out.append(Operand(field=use, part=part))
                continue
            inner = _strip(part_node)
            if inner.type == "call_expression":
                fn = inner.child_by_field_name("function")
                if fn is not None and fn.type == "identifier" and not text(fn).startswith("kvm_register_"):
                    out.append(Operand(call=text(fn), part=part))
        return tuple(out)

    def _target(self, node: Any, scope: int) -> Operand | None:
        vcpu = self._vcpu_reg(node, scope)
        if vcpu is not None:
            return Operand(vcpu=vcpu)
        use = self.member_use(node, scope)
        if use is not None and canonical(use.field) is not None:
            return Operand(field=use)
        return None

    def _transfer(self, node: Any, dest: Operand, sources: tuple[Operand, ...], scope: int) -> None:
        if sources:
            self.kvm.transfers.append(
                Transfer(dest, sources, self.functions.get(scope, ""), line(node), self.context(node))
            )

    def on_assignment(self, node: Any, left: Any, right: Any, scope: int) -> None:
        dest = self._target(left, scope)
        if dest is not None:
            self._transfer(node, dest, self.operands(right, scope), scope)
        if left.type == "identifier" and scope:
            self._conversion(node, text(left), right, scope)

    def on_initializer_pair(self, pair: Any, use: FieldUse, var: str | None, value: Any, scope: int) -> None:
        if canonical(use.field) is not None:
            self._transfer(pair, Operand(field=use), self.operands(value, scope), scope)
        if var is not None and scope and use.base.struct is not None:
            self._flow(scope, FlowEvent("write", var, line(pair), use.base.struct, field=use.field))

    def on_call(self, node: Any, name: str, argv: list[Any], scope: int) -> None:
        m = _KVM_ACCESSOR.match(name)
        if m and m.group(2) == "write" and len(argv) >= 2:
            dest = Operand(vcpu=_accessor_reg(m.group(1), node))
            self._transfer(node, dest, self.operands(argv[1], scope), scope)
            return
        m2 = _KVM_REGISTER.match(name)
        if m2 and m2.group(1) == "write" and len(argv) >= 3:
            idx = _VCPU_REG_INDEX.match(text(argv[1]).strip())
            if idx:
                dest = Operand(vcpu=VcpuReg(idx.group(1).lower(), line(node), text(node)))
                self._transfer(node, dest, self.operands(argv[2], scope), scope)
            return
        if name in ("memcpy", "__memcpy") and len(argv) >= 3:
            self._memcpy(node, argv, scope)
            return
        per_arg = tuple(self.operands(a, scope) for a in argv)
        if any(per_arg) and len(argv) >= 2:
            self.kvm.setter_calls.append(
                SetterCall(name, line(node), self.functions.get(scope, ""), self.context(node), per_arg)
            )
        if scope:
            self._call_flow(node, name, argv, scope)
            self._arguments(node, name, argv, scope)

    # ---- accessors: one-line functions that read or store one slot -------------------------------------
    def on_function(self, node: Any, name: str, scope: int) -> None:
        params = self._params(node)
        self._flows_params(node, name, params, scope)
        body = node.child_by_field_name("body")
        if body is not None:
            self.kvm.calls[name] = self.callees(body)
        statements = [c for c in body.named_children if c.type != "comment"] if body is not None else []
        if len(statements) != 1:
            return
        only = statements[0]
        if only.type == "return_statement" and only.named_children:
            found = self.operands(only.named_children[0], scope)
            if found and not any(o.call for o in found):
                self.kvm.getters.setdefault(name, found)
            return
        if only.type != "expression_statement" or not only.named_children:
            return
        expr = only.named_children[0]
        names = [p for _i, p in params]
        if expr.type == "assignment_expression":
            left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
            if left is None or right is None:
                return
            value = _strip(right)
            target = self._target(left, scope)
            if target is not None and value.type == "identifier" and text(value) in names:
                index = next(i for i, p in params if p == text(value))
                self.kvm.setters.setdefault(name, Setter(index, target))
        elif expr.type == "call_expression":
            fn, args = expr.child_by_field_name("function"), expr.child_by_field_name("arguments")
            m = _KVM_ACCESSOR.match(text(fn)) if fn is not None else None
            if m and m.group(2) == "write" and args is not None and len(args.named_children) >= 2:
                value = _strip(args.named_children[1])
                if value.type == "identifier" and text(value) in names:
                    index = next(i for i, p in params if p == text(value))
                    self.kvm.setters.setdefault(name, Setter(index, Operand(vcpu=_accessor_reg(m.group(1), expr))))

    def _params(self, node: Any) -> list[tuple[int, str]]:
        decl = node.child_by_field_name("declarator")
        while decl is not None and decl.type != "function_declarator":
            decl = decl.child_by_field_name("declarator")
        plist = decl.child_by_field_name("parameters") if decl is not None else None
        out: list[tuple[int, str]] = []
        if plist is None:
            return out
        for index, p in enumerate(c for c in plist.named_children if c.type == "parameter_declaration"):
            names = declarator_names(p.child_by_field_name("declarator"))
            if names:
                out.append((index, names[0][0]))
        return out

    # ---- how a function uses an args struct around its calls ------------------------------------------
    def _flows_params(self, node: Any, name: str, params: list[tuple[int, str]], scope: int) -> None:
        ours = self.vars.get(scope, {})
        pointers = tuple((i, p) for i, p in params if p in ours)
        self.kvm.flows[name] = Flow(line(node), pointers)

    def _flow(self, scope: int, event: FlowEvent) -> None:
        name = self.functions.get(scope)
        if name is not None and name in self.kvm.flows:
            self.kvm.flows[name].events.append(event)

    def _object(self, node: Any, scope: int) -> tuple[str, str] | None:
        """(name, struct) of the args struct an argument or member access base names: a variable of an args
        struct type, or ``->member`` (struct "": resolved per state); None for anything else."""
        node = _strip(node)
        if node.type == "pointer_expression" and node.named_children:
            node = _strip(node.child_by_field_name("argument") or node.named_children[0])
        if node.type == "identifier":
            name = text(node)
            struct = self.vars.get(scope, {}).get(name) or self.vars.get(0, {}).get(name)
            return (name, struct) if struct is not None else None
        if node.type == "field_expression":
            fld = node.child_by_field_name("field")
            if fld is not None and canonical(text(fld)) is None:
                return "->" + text(fld), ""
        return None

    def on_field(self, node: Any, use: FieldUse, scope: int) -> None:
        if not scope or canonical(use.field) is None:
            return
        arg = node.child_by_field_name("argument")
        found = self._object(arg, scope) if arg is not None else None
        if found is None:
            return
        obj, struct = found
        parent = node.parent
        if parent is not None and parent.type == "pointer_expression":
            return  # &args.r8: an address, not a value
        if parent is not None and parent.type == "assignment_expression":
            left = parent.child_by_field_name("left")
            if left is not None and left.id == node.id:
                op = parent.child_by_field_name("operator")
                if op is not None and text(op) != "=":
                    self._flow(scope, FlowEvent("read", obj, use.line, struct, field=use.field))
                self._flow(scope, FlowEvent("write", obj, use.line, struct, field=use.field))
                return
        self._flow(scope, FlowEvent("read", obj, use.line, struct, field=use.field))

    def _sti_branch(self, node: Any) -> str:
        child, n = node, node.parent
        while n is not None and n.type != "function_definition":
            if n.type == "if_statement":
                condition = n.child_by_field_name("condition")
                if condition is not None and _STI.search(text(condition)):
                    consequence = n.child_by_field_name("consequence")
                    return "then" if consequence is not None and child.id == consequence.id else "else"
            child, n = n, n.parent
        return ""

    def _call_flow(self, node: Any, name: str, argv: list[Any], scope: int) -> None:
        fnargs = tuple(text(a) for a in argv if a.type == "identifier")
        sti: str | None = None
        for a in argv:
            found = self._object(a, scope)
            if found is None:
                continue
            if sti is None:
                sti = self._sti_branch(node)
            obj, struct = found
            self._flow(scope, FlowEvent("call", obj, line(node), struct, callee=name, fnargs=fnargs, sti=sti))

    # ---- views of the vCPU register array as an args struct --------------------------------------------
    def _declaration(self, node: Any, scope: int) -> None:
        super()._declaration(node, scope)
        struct = struct_name_of_type(node.child_by_field_name("type"))
        if struct is None or node.type == "field_declaration":
            return
        for d in node.children_by_field_name("declarator"):
            names = declarator_names(d)
            if not names:
                continue
            name, _array, pointer = names[0]
            if not pointer or struct in REGISTER_FILES:
                self.struct_vars.setdefault(scope, {})[name] = struct
            if node.type != "declaration":
                continue
            value = d.child_by_field_name("value") if d.type == "init_declarator" else None
            if value is not None and pointer and struct in self.structs_of_interest and scope:
                self._conversion(d, name, value, scope)

    def _view(self, node: Any, scope: int) -> tuple[str, str] | None:
        """(array or wrapper name, index text) of what a pointer expression points into."""
        node = _strip(node)
        index = ""
        if node.type == "binary_expression":
            op = node.child_by_field_name("operator")
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if op is None or text(op) != "+" or left is None or right is None:
                return None
            node, index = _strip(left), text(right).strip()
        if node.type == "pointer_expression" and node.named_children:
            node = _strip(node.child_by_field_name("argument") or node.named_children[0])
            if node.type == "subscript_expression":
                idx = node.child_by_field_name("index")
                index = text(idx).strip() if idx is not None else ""
                node = node.child_by_field_name("argument") or node
        name = self.target(node, scope)
        return (name, index) if name is not None else None

    def on_cast(self, node: Any, type_desc: Any, value: Any, scope: int) -> None:
        struct = struct_name_of_type(type_desc.child_by_field_name("type"))
        if struct not in self.structs_of_interest or "*" not in text(type_desc):
            return
        view = self._view(value, scope)
        if view is None:  # whether it names a vcpu register array (or a struct wrapping one) is decided per state
            return
        wrapper = self.struct_vars.get(scope, {}).get(view[0]) or self.struct_vars.get(0, {}).get(view[0], "")
        self.kvm.layouts.append(LayoutUse(line(node), "cast", text(node), struct, view[0], view[1], wrapper=wrapper))

    def _is_array(self, name: str) -> bool:
        return name == "regs" or name in self.kvm.array_names

    def _conversion(self, node: Any, var: str, value: Any, scope: int) -> None:
        """``struct tdx_module_args *p = (void *)vcpu->arch.regs;`` (or an implicit conversion)."""
        struct = self.vars.get(scope, {}).get(var) or self.vars.get(0, {}).get(var)
        if struct is None or _casts_to_interest(value, self.structs_of_interest):
            return
        view = self._view(value, scope)
        if view is not None and self._is_array(view[0]):
            self.kvm.layouts.append(LayoutUse(line(node), "conversion", text(node), struct, view[0], view[1]))

    def _arguments(self, node: Any, name: str, argv: list[Any], scope: int) -> None:
        """An array passed where the parameter may point to an args struct (decided per state by the prototype)."""
        for position, arg in enumerate(argv):
            if _casts_to_interest(arg, self.structs_of_interest):
                continue
            view = self._view(arg, scope)
            if view is not None and self._is_array(view[0]):
                self.kvm.layouts.append(
                    LayoutUse(line(node), "argument", text(node), None, view[0], view[1], callee=name, argpos=position)
                )

    def _args_side(self, node: Any, scope: int) -> tuple[str, str] | None:
        """(struct or ``member:<name>``, first field) of an args-struct memcpy operand: ``&args``, ``args``,
        ``&args.r8``, ``&tdx->vp_enter_args``."""
        node = _strip(node)
        if node.type == "pointer_expression" and node.named_children:
            node = _strip(node.child_by_field_name("argument") or node.named_children[0])
        if node.type == "field_expression":
            fld = node.child_by_field_name("field")
            arg = node.child_by_field_name("argument")
            if fld is not None and arg is not None and canonical(text(fld)) is not None:
                inner = self.struct_of_operand(arg, scope)
                if inner is not None:
                    return inner, text(fld)
        found = self.struct_of_operand(node, scope)
        return (found, "") if found is not None else None

    def _memcpy(self, node: Any, argv: list[Any], scope: int) -> None:
        dst, src, size = argv[0], argv[1], self._size(argv[2], scope)
        dst_args, src_args = self._args_side(dst, scope), self._args_side(src, scope)
        if dst_args is not None and src_args is not None:
            self.kvm.struct_copies.append(
                StructCopy(line(node), text(node), dst_args[0], dst_args[1], src_args[0], src_args[1], size)
            )
        # per state, only an array declared [NR_VCPU_REGS] on one side and an args struct on the other count
        for array_side, struct_side in ((dst, src), (src, dst)):
            view = self._view(array_side, scope)
            other = self._args_side(struct_side, scope)
            if view is None or other is None:
                continue
            own = self.struct_of_operand(array_side, scope)
            if own is not None and not own.startswith("member:"):
                continue
            self.kvm.layouts.append(
                LayoutUse(line(node), "memcpy", text(node), other[0], view[0], view[1], other[1], size)
            )

    def _size(self, node: Any, scope: int) -> str:
        """memcpy's size with each sizeof() replaced: a number, ``sizeof:<struct>`` or ``offsetof:<struct>:<f>``
        (resolved per state); "" when the file does not say."""
        out = text(node)
        todo = [node]
        while todo:
            n = todo.pop()
            if n.type in ("sizeof_expression", "offsetof_expression"):
                out = out.replace(text(n), self._sizeof(n, scope), 1)
                continue
            todo.extend(n.named_children)
        return " ".join(out.split())

    def _sizeof(self, node: Any, scope: int) -> str:
        if node.type == "offsetof_expression":
            type_desc, member = node.child_by_field_name("type"), node.child_by_field_name("member")
            struct = struct_name_of_type(type_desc.child_by_field_name("type")) if type_desc is not None else None
            return f" offsetof:{struct}:{text(member)} " if struct and member is not None else " unknown "
        inner = node.child_by_field_name("type") or node.child_by_field_name("value")
        if inner is None:
            return " unknown "
        if inner.type == "type_descriptor":
            struct = struct_name_of_type(inner.child_by_field_name("type"))
            if struct is not None:
                return f" sizeof:{struct} "
            return f" {_SCALAR_SIZES.get(' '.join(text(inner).split()), 'unknown')} "
        bare = _strip(inner)
        word = " ".join(text(bare).split())
        if word in _SCALAR_SIZES:
            return f" {_SCALAR_SIZES[word]} "
        side = self._args_side(bare, scope) if bare.type != "pointer_expression" else None
        if bare.type == "pointer_expression":  # sizeof(*args)
            deref = bare.child_by_field_name("argument")
            side = self._args_side(deref, scope) if deref is not None else None
        if side is not None and not side[1]:
            return f" sizeof:{side[0]} "
        return " unknown "


_SCALAR_SIZES = {
    "u64": "8", "__u64": "8", "s64": "8", "unsigned long": "8", "long": "8", "uint64_t": "8", "unsigned long long": "8",
    "u32": "4", "__u32": "4", "unsigned int": "4", "int": "4", "uint32_t": "4",
}  # fmt: skip


def _accessor_reg(name: str, node: Any) -> VcpuReg:
    reg = canonical(name) or name
    half = "low" if name.startswith("e") else ""
    return VcpuReg(reg, line(node), text(node), half)


def _casts_to_interest(node: Any, structs: frozenset[str]) -> bool:
    """Whether ``node`` is (parenthesized) a cast to a pointer to a struct of interest (reported as a cast)."""
    while node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    if node.type != "cast_expression":
        return False
    type_desc = node.child_by_field_name("type")
    if type_desc is None:
        return False
    return struct_name_of_type(type_desc.child_by_field_name("type")) in structs and "*" in text(type_desc)


def extract(
    path: str, src: bytes, args_structs: Iterable[str], relevant: re.Pattern[str], *, walk: bool = True
) -> KvmFacts:
    """The facts of one C file, the register moves, accessors, calls and layout views included (``walk=False``:
    its declarations only, for a large header read for its structs)."""
    extractor = KvmExtractor(path, src, args_structs, relevant)
    extractor.run(walk=walk)
    return extractor.kvm
