"""What the TDX rules need to know about one C file, extracted once per blob with tree-sitter-c.

The parse tolerates ERROR nodes (kernel macros confuse the grammar in about half of the files);
only a relevant token whose parent is an ERROR node is recorded, as :attr:`CFacts.unparsed`, so a
rule never passes silently over a construct it could not see.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from patchkit.lint.suppress import LineSuppression, find_suppressions

_VCPU_REG_INDEX = re.compile(r"^(?:__)?VCPU_REGS_([A-Z0-9]+)$")
_KVM_ACCESSOR = re.compile(r"^kvm_(r(?:[abcd]x|[sd]i|bp|sp|\d{1,2}))_(read|write)$")
_KVM_REGISTER = re.compile(r"^kvm_register_(read|write)(?:_raw)?$")


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # type text as written ("u64", "struct foo")
    line: int
    array: str | None = None  # array size text when declared as an array


@dataclass(frozen=True)
class Group:
    line: int
    comment: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class StructDef:
    name: str
    line: int
    fields: tuple[Field, ...]
    groups: tuple[Group, ...]

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


@dataclass(frozen=True)
class OffsetCall:
    symbol: str
    struct: str
    field: str
    line: int


@dataclass(frozen=True)
class Base:
    """The object a member access starts from: a variable, a member, or something else."""

    kind: str  # "var" | "member" | "cast" | "other"
    name: str  # variable or member name, or struct name for casts
    struct: str | None = None  # resolved inside the file (variables, casts)


@dataclass(frozen=True)
class FieldUse:
    base: Base
    field: str
    line: int
    kind: str  # "access" | "init"


@dataclass(frozen=True)
class VcpuReg:
    reg: str  # 64-bit register name, lower case
    line: int
    text: str


@dataclass(frozen=True)
class RegCopy:
    args: FieldUse
    vcpu: VcpuReg
    direction: str  # "to_vcpu" | "from_vcpu"
    function: str = ""  # the function the copy is in ("" at file scope)
    part: str = ""  # "" (the whole register), "low" or "high" (32 bits: a mask or cast, a shift by 32)


@dataclass(frozen=True)
class LayoutUse:
    """A place that treats a vcpu register array as an args struct."""

    line: int
    how: str  # "cast" | "memcpy"
    text: str
    struct: str | None  # args struct named in the cast, or resolved from the other memcpy operand
    array: str  # the array's last name ("regs")


@dataclass(frozen=True)
class Unparsed:
    line: int
    token: str


@dataclass
class CFacts:
    path: str
    structs: dict[str, StructDef] = field(default_factory=dict)
    offsets: list[OffsetCall] = field(default_factory=list)
    defines: dict[str, tuple[str, int]] = field(default_factory=dict)
    uses: list[FieldUse] = field(default_factory=list)
    copies: list[RegCopy] = field(default_factory=list)
    layouts: list[LayoutUse] = field(default_factory=list)
    array_names: set[str] = field(default_factory=set)  # names declared [NR_VCPU_REGS]
    # function -> per parameter, the args struct it points to (None for other parameters)
    prototypes: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    unparsed: list[Unparsed] = field(default_factory=list)
    suppressions: list[LineSuppression] = field(default_factory=list)


# Declarations the rules read, as tree-sitter queries; expressions need scopes, so they are walked.
_QUERY = """
(call_expression function: (identifier) @fn (#eq? @fn "OFFSET")
  arguments: (argument_list . (_) @sym . (_) @struct . (_) @field .)) @offset
(call_expression function: (identifier) @dfn (#eq? @dfn "DEFINE") arguments: (argument_list . (_) @dsym)) @define_call
(preproc_def name: (identifier) @name value: (preproc_arg)? @value) @define
(struct_specifier name: (type_identifier) @sname body: (field_declaration_list)) @struct_def
"""


@functools.lru_cache(maxsize=1)
def _language() -> Any:
    import tree_sitter_c
    from tree_sitter import Language

    return Language(tree_sitter_c.language())


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from tree_sitter import Parser

    return Parser(_language())


@functools.lru_cache(maxsize=1)
def _query() -> Any:
    from tree_sitter import Query

    return Query(_language(), _QUERY)


def _text(node: Any) -> str:
    raw: bytes = node.text
    return raw.decode("utf-8", "replace")


def _line(node: Any) -> int:
    row: int = node.start_point[0]
    return row + 1


def _struct_name_of_type(node: Any | None) -> str | None:
    if node is not None and node.type == "struct_specifier":
        name = node.child_by_field_name("name")
        if name is not None:
            return _text(name)
    return None


def _declarator_names(node: Any | None) -> list[tuple[str, str | None, bool]]:
    """(name, array size, is pointer) for a declarator tree."""
    out: list[tuple[str, str | None, bool]] = []

    def walk(n: Any | None, array: str | None, pointer: bool) -> None:
        if n is None:
            return
        t = n.type
        if t in ("identifier", "field_identifier"):
            out.append((_text(n), array, pointer))
        elif t == "array_declarator":
            size = n.child_by_field_name("size")
            walk(n.child_by_field_name("declarator"), _text(size) if size is not None else "", pointer)
        elif t == "pointer_declarator":
            walk(n.child_by_field_name("declarator"), array, True)
        elif t == "init_declarator":
            walk(n.child_by_field_name("declarator"), array, pointer)
        elif t in ("parenthesized_declarator", "attributed_declarator"):
            for c in n.named_children:
                walk(c, array, pointer)
        elif t == "function_declarator":
            return

    walk(node, None, False)
    return out


class _Extractor:
    def __init__(self, path: str, src: bytes, args_structs: Iterable[str], relevant: re.Pattern[str]) -> None:
        self.relevant = relevant
        self.facts = CFacts(path=path)
        self.src = src
        self.args_structs = frozenset(args_structs)
        # scope (function node id or 0) -> variable name -> args struct name
        self.vars: dict[int, dict[str, str]] = {}
        # scope -> pointer variable -> the name of what it was set to (``gprs = vcpu->arch.regs``: "regs")
        self.aliases: dict[int, dict[str, str]] = {}
        self.functions: dict[int, str] = {}  # scope -> function name
        self.seen_unparsed: set[tuple[int, str]] = set()

    def run(self) -> CFacts:
        from tree_sitter import QueryCursor

        tree = _parser().parse(self.src)
        root = tree.root_node
        asm_offsets = self.facts.path.rsplit("/", 1)[-1].startswith("asm-offsets")
        for _index, caps in QueryCursor(_query()).matches(root):
            if "offset" in caps and asm_offsets:
                sym, struct, fld = (_text(caps[k][0]).strip() for k in ("sym", "struct", "field"))
                self.facts.offsets.append(OffsetCall(sym, struct, fld, _line(caps["offset"][0])))
            elif "define_call" in caps and asm_offsets:
                self.facts.offsets.append(
                    OffsetCall(_text(caps["dsym"][0]).strip(), "", "", _line(caps["define_call"][0]))
                )
            elif "define" in caps:
                value = caps.get("value")
                text = _text(value[0]).strip() if value else ""
                self.facts.defines.setdefault(_text(caps["name"][0]), (text, _line(caps["define"][0])))
            elif "struct_def" in caps:
                self._struct(caps["struct_def"][0])
        self._walk(root)
        self.facts.suppressions = find_suppressions(self.src.decode("utf-8", "replace"))
        return self.facts

    # ---- the walk -------------------------------------------------------------------------------
    def _walk(self, root: Any) -> None:
        stack: list[tuple[Any, int]] = [(root, 0)]
        while stack:
            node, scope = stack.pop()
            t = node.type
            if t == "function_definition":
                scope = node.id
                self._declare_params(node, scope)
                self._prototype(node)
                self.functions[scope] = _function_name(node) or ""
            elif t == "ERROR":
                self._error(node)
            elif t in ("declaration", "field_declaration", "parameter_declaration"):
                self._declaration(node, scope)
            elif t == "call_expression":
                self._call(node, scope)
            elif t == "field_expression":
                self._field_use(node, scope)
            elif t == "initializer_list":
                self._initializer(node, scope)
            elif t == "cast_expression":
                self._cast(node, scope)
            elif t == "assignment_expression":
                self._assignment(node, scope)
            for child in reversed(node.children):
                stack.append((child, scope))

    def _error(self, node: Any) -> None:
        """Every relevant token under an ERROR node, even where parts of the construct were recovered."""
        todo = list(node.children)
        while todo:
            child = todo.pop()
            if child.child_count:
                todo.extend(child.children)
                continue
            text = _text(child)
            if self.relevant.search(text) and (_line(child), text) not in self.seen_unparsed:
                self.seen_unparsed.add((_line(child), text))
                self.facts.unparsed.append(Unparsed(_line(child), text))

    def _declare_params(self, node: Any, scope: int) -> None:
        decl = node.child_by_field_name("declarator")
        while decl is not None and decl.type == "pointer_declarator":
            decl = decl.child_by_field_name("declarator")
        if decl is None or decl.type != "function_declarator":
            return
        params = decl.child_by_field_name("parameters")
        if params is None:
            return
        for p in params.named_children:
            if p.type == "parameter_declaration":
                self._declaration(p, scope)

    def _prototype(self, node: Any) -> None:
        """Which parameters of a declared or defined function point to an args struct (the assembly rules
        learn from it what the argument registers hold)."""
        decl = node.child_by_field_name("declarator")
        while decl is not None and decl.type in ("pointer_declarator", "attributed_declarator", "init_declarator"):
            decl = decl.child_by_field_name("declarator") or (decl.named_children[0] if decl.named_children else None)
        if decl is None or decl.type != "function_declarator":
            return
        name = decl.child_by_field_name("declarator")
        params = decl.child_by_field_name("parameters")
        if name is None or name.type != "identifier" or params is None:
            return
        kinds: list[str | None] = []
        for p in params.named_children:
            if p.type != "parameter_declaration":
                continue
            struct = _struct_name_of_type(p.child_by_field_name("type"))
            names = _declarator_names(p.child_by_field_name("declarator"))
            pointer = bool(names and names[0][2]) or "*" in _text(p)
            kinds.append(struct if struct in self.args_structs and pointer else None)
        if any(kinds):
            self.facts.prototypes.setdefault(_text(name), tuple(kinds))

    def _declaration(self, node: Any, scope: int) -> None:
        if node.type == "declaration":
            self._prototype(node)
        struct = _struct_name_of_type(node.child_by_field_name("type"))
        for d in node.children_by_field_name("declarator"):
            value = d.child_by_field_name("value") if d.type == "init_declarator" else None
            if value is not None and scope:
                names = _declarator_names(d)
                target = self._target(value, scope)
                if names and names[0][2] and target is not None:
                    self.aliases.setdefault(scope, {})[names[0][0]] = target
            for name, array, _pointer in _declarator_names(d):
                if array is not None and "NR_VCPU_REGS" in array:
                    self.facts.array_names.add(name)
                if struct in self.args_structs and node.type != "field_declaration":
                    self.vars.setdefault(scope, {})[name] = struct

    def _struct(self, node: Any) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            return
        fields: list[Field] = []
        groups: list[tuple[int, str, list[str]]] = []
        last_field_row = -1
        for child in body.children:
            if child.type == "comment":
                if child.start_point[0] == last_field_row:
                    continue  # a trailing comment on a field's line is not a grouping comment
                groups.append((_line(child), _text(child), []))
            elif child.type == "field_declaration":
                type_node = child.child_by_field_name("type")
                type_text = _text(type_node) if type_node is not None else ""
                for d in child.children_by_field_name("declarator"):
                    for fname, array, pointer in _declarator_names(d):
                        fields.append(Field(fname, type_text + (" *" if pointer else ""), _line(child), array))
                        if groups:
                            groups[-1][2].append(fname)
                last_field_row = child.end_point[0]
        name = _text(name_node)
        if name in self.facts.structs:
            return
        self.facts.structs[name] = StructDef(
            name=name,
            line=_line(node),
            fields=tuple(fields),
            groups=tuple(Group(line, text, tuple(names)) for line, text, names in groups),
        )

    # ---- expressions ----------------------------------------------------------------------------
    def _base(self, node: Any, scope: int) -> Base:
        while node.type in ("parenthesized_expression", "pointer_expression"):
            inner = node.child_by_field_name("argument") if node.type == "pointer_expression" else None
            if inner is None:
                named = node.named_children
                if not named:
                    break
                inner = named[0]
            node = inner
        if node.type == "identifier":
            name = _text(node)
            struct = self.vars.get(scope, {}).get(name) or self.vars.get(0, {}).get(name)
            return Base("var", name, struct)
        if node.type == "field_expression":
            fld = node.child_by_field_name("field")
            return Base("member", _text(fld) if fld is not None else "")
        if node.type == "cast_expression":
            type_desc = node.child_by_field_name("type")
            struct = _struct_name_of_type(type_desc.child_by_field_name("type")) if type_desc is not None else None
            return Base("cast", struct or "", struct)
        return Base("other", _text(node)[:40])

    def _field_use(self, node: Any, scope: int) -> None:
        fld = node.child_by_field_name("field")
        arg = node.child_by_field_name("argument")
        if fld is None or arg is None:
            return
        self.facts.uses.append(FieldUse(self._base(arg, scope), _text(fld), _line(fld), "access"))

    def _initializer(self, node: Any, scope: int) -> None:
        parent = node.parent
        struct: str | None = None
        if parent is not None and parent.type == "init_declarator":
            decl = parent.parent
            if decl is not None and decl.type == "declaration":
                struct = _struct_name_of_type(decl.child_by_field_name("type"))
        elif parent is not None and parent.type == "compound_literal_expression":
            type_desc = parent.child_by_field_name("type")
            if type_desc is not None:
                struct = _struct_name_of_type(type_desc.child_by_field_name("type"))
        if struct is None:
            return
        for pair in node.named_children:
            if pair.type != "initializer_pair":
                continue
            designators = pair.children_by_field_name("designator")
            if designators and designators[0].type == "field_designator":
                ident = designators[0].named_children
                if ident:
                    self.facts.uses.append(
                        FieldUse(Base("init", struct, struct), _text(ident[0]), _line(ident[0]), "init")
                    )

    def _vcpu_reg(self, node: Any) -> VcpuReg | None:
        """``x->arch.regs[VCPU_REGS_RAX]``, ``kvm_rax_read(vcpu)``, ``kvm_register_read(vcpu, VCPU_REGS_RAX)``."""
        if node.type == "subscript_expression":
            arg = node.child_by_field_name("argument")
            idx = node.child_by_field_name("index")
            if arg is None or idx is None:
                named = node.named_children
                if len(named) < 2:
                    return None
                arg, idx = named[0], named[-1]
            m = _VCPU_REG_INDEX.match(_text(idx).strip())
            if m:  # the VCPU_REGS_* index says it is a vcpu register array, whatever its name
                return VcpuReg(m.group(1).lower(), _line(node), _text(node))
            return None
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is None or args is None:
                return None
            name = _text(fn)
            m = _KVM_ACCESSOR.match(name)
            if m and m.group(2) == "read":
                return VcpuReg(m.group(1), _line(node), _text(node))
            m2 = _KVM_REGISTER.match(name)
            if m2 and m2.group(1) == "read" and len(args.named_children) >= 2:
                idx = _VCPU_REG_INDEX.match(_text(args.named_children[1]).strip())
                if idx:
                    return VcpuReg(idx.group(1).lower(), _line(node), _text(node))
        return None

    def _args_use(self, node: Any, scope: int) -> FieldUse | None:
        while node.type == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        if node.type != "field_expression":
            return None
        fld = node.child_by_field_name("field")
        arg = node.child_by_field_name("argument")
        if fld is None or arg is None:
            return None
        return FieldUse(self._base(arg, scope), _text(fld), _line(fld), "access")

    def _target(self, node: Any, scope: int) -> str | None:
        """The last name of what ``node`` points into, through this function's pointer aliases."""
        name = _last_name(node)
        seen: set[str] = set()
        while name is not None and name in self.aliases.get(scope, {}) and name not in seen:
            seen.add(name)
            name = self.aliases[scope][name]
        return name

    def _copy(self, use: FieldUse, reg: VcpuReg, direction: str, scope: int, part: str) -> None:
        self.facts.copies.append(RegCopy(use, reg, direction, self.functions.get(scope, ""), part))

    def _assignment(self, node: Any, scope: int) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None:
            return
        if left.type == "identifier" and scope:
            target = self._target(right, scope)
            if target is not None and target != _text(left):
                self.aliases.setdefault(scope, {})[_text(left)] = target
        vl = self._vcpu_reg(left)
        if vl is not None:
            for part_node, part in _parts(right):
                use = self._args_use(part_node, scope)
                if use is not None:
                    self._copy(use, vl, "to_vcpu", scope, part)
            return
        use = self._args_use(left, scope)
        if use is None:
            return
        for part_node, part in _parts(right):
            vr = self._vcpu_reg(part_node)
            if vr is not None:
                self._copy(use, vr, "from_vcpu", scope, part)

    def _call(self, node: Any, scope: int) -> None:
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if fn is None or args is None:
            return
        name = _text(fn)
        argv = args.named_children
        m = _KVM_ACCESSOR.match(name)
        if m and m.group(2) == "write" and len(argv) >= 2:
            for part_node, part in _parts(argv[1]):
                use = self._args_use(part_node, scope)
                if use is not None:
                    self._copy(use, VcpuReg(m.group(1), _line(node), _text(node)), "to_vcpu", scope, part)
            return
        m2 = _KVM_REGISTER.match(name)
        if m2 and m2.group(1) == "write" and len(argv) >= 3:
            idx = _VCPU_REG_INDEX.match(_text(argv[1]).strip())
            for part_node, part in _parts(argv[2]):
                use = self._args_use(part_node, scope)
                if idx and use is not None:
                    reg = VcpuReg(idx.group(1).lower(), _line(node), _text(node))
                    self._copy(use, reg, "to_vcpu", scope, part)
            return
        if name in ("memcpy", "__memcpy") and len(argv) >= 2:
            dst, src = argv[0], argv[1]
            # both orientations are recorded; per state, only an array declared [NR_VCPU_REGS] on one side
            # and an args struct on the other count
            for array_side, struct_side in ((dst, src), (src, dst)):
                array = self._target(array_side, scope)
                own = self._struct_of_operand(array_side, scope)
                if array is None or (own is not None and not own.startswith("member:")):
                    continue
                other = self._struct_of_operand(struct_side, scope)
                if other is not None:
                    self.facts.layouts.append(LayoutUse(_line(node), "memcpy", _text(node), other, array))

    def _struct_of_operand(self, node: Any, scope: int) -> str | None:
        while node.type in ("pointer_expression", "parenthesized_expression") and node.named_children:
            node = node.child_by_field_name("argument") or node.named_children[0]
        if node.type == "cast_expression":
            type_desc = node.child_by_field_name("type")
            return _struct_name_of_type(type_desc.child_by_field_name("type")) if type_desc is not None else None
        base = self._base(node, scope)
        if base.struct is not None:
            return base.struct
        if base.kind == "member":
            return "member:" + base.name
        return None

    def _cast(self, node: Any, scope: int) -> None:
        type_desc = node.child_by_field_name("type")
        value = node.child_by_field_name("value")
        if type_desc is None or value is None:
            return
        struct = _struct_name_of_type(type_desc.child_by_field_name("type"))
        if struct not in self.args_structs or "*" not in _text(type_desc):
            return
        array = self._target(value, scope)
        if array is not None:  # whether it names a vcpu register array is decided per state
            self.facts.layouts.append(LayoutUse(_line(node), "cast", _text(node), struct, array))


_LOW_MASKS = re.compile(
    r"^\(?\s*(0x0*ffffffff[uUlL]*|-1[uU][lL]*|U32_MAX|\(u32\)\s*-1|GENMASK(_ULL)?\(31,\s*0\))\s*\)?$"
)
_LOW_CASTS = re.compile(r"^\(\s*(u32|__u32|uint32_t|unsigned int|unsigned)\s*\)$")


def _parts(node: Any) -> list[tuple[Any, str]]:
    """The operands an expression is built from, each with the 32-bit half it takes: ``x & 0xffffffff``,
    ``lower_32_bits(x)`` and ``(u32)x`` are the low half, ``x >> 32``, ``x << 32`` and ``upper_32_bits(x)`` the
    high half; ``a | b`` and ``a + b`` are both of their operands; anything else is itself, whole."""
    while node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    if node.type == "binary_expression":
        op = node.child_by_field_name("operator")
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        text = _text(op) if op is not None else ""
        if left is not None and right is not None:
            if text in ("|", "+"):
                return _parts(left) + _parts(right)
            if text == "&":
                if _LOW_MASKS.match(_text(right).strip()):
                    return [(n, "low") for n, _p in _parts(left)]
                if _LOW_MASKS.match(_text(left).strip()):
                    return [(n, "low") for n, _p in _parts(right)]
            if text in (">>", "<<") and _text(right).strip() == "32":
                return [(n, "high") for n, _p in _parts(left)]
    if node.type == "call_expression":
        fn, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if fn is not None and args is not None and len(args.named_children) == 1:
            name = _text(fn)
            if name in ("lower_32_bits", "upper_32_bits"):
                half = "low" if name == "lower_32_bits" else "high"
                return [(n, half) for n, _p in _parts(args.named_children[0])]
    if node.type == "cast_expression":
        type_desc, value = node.child_by_field_name("type"), node.child_by_field_name("value")
        if type_desc is not None and value is not None:
            half = "low" if _LOW_CASTS.match("(" + _text(type_desc).strip() + ")") else ""
            return [(n, half or p) for n, p in _parts(value)]
    return [(node, "")]


def _function_name(node: Any) -> str | None:
    decl = node.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    name = decl.child_by_field_name("declarator") if decl is not None else None
    return _text(name) if name is not None and name.type == "identifier" else None


def _last_name(node: Any) -> str | None:
    while node.type in ("parenthesized_expression", "pointer_expression", "cast_expression") and node.named_children:
        node = node.child_by_field_name("argument") or node.child_by_field_name("value") or node.named_children[0]
    if node.type == "subscript_expression":  # &regs[0]
        inner = node.child_by_field_name("argument")
        return _last_name(inner) if inner is not None else None
    if node.type == "identifier":
        return _text(node)
    if node.type == "field_expression":
        fld = node.child_by_field_name("field")
        return _text(fld) if fld is not None else None
    return None


def extract(path: str, src: bytes, args_structs: Iterable[str], relevant: re.Pattern[str]) -> CFacts:
    """The facts of one C file; ``args_structs`` and ``relevant`` (the tokens worth reporting inside a
    construct tree-sitter could not parse) come from the lint configuration."""
    return _Extractor(path, src, args_structs, relevant).run()
