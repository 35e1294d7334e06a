"""What rules need to know about one C file, extracted once per blob with tree-sitter-c.

Generic kernel C: struct definitions (fields, grouping comments), ``#define`` values and
function-like macros, the ``OFFSET()``/``DEFINE()`` lines of asm-offsets files (``DEFINE(sym,
offsetof(struct S, f))`` read as ``OFFSET(sym, S, f)``), member accesses and designated initializers
with the struct they start from, and which function parameters point to a struct of interest. A rule
pack names the structs it follows and the tokens worth reporting when tree-sitter cannot parse the
construct around them; a pack that needs more (a subsystem's accessors) subclasses :class:`Extractor`
and fills its own facts from the hooks (:meth:`Extractor.on_call`, :meth:`Extractor.on_assignment`,
:meth:`Extractor.on_cast`, :meth:`Extractor.on_declarator`, :meth:`Extractor.on_function`,
:meth:`Extractor.on_field`, :meth:`Extractor.on_initializer_pair`, :meth:`Extractor.on_case`), in the
same single walk.

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
class Unparsed:
    line: int
    token: str


@dataclass
class CFacts:
    path: str
    structs: dict[str, StructDef] = field(default_factory=dict)
    offsets: list[OffsetCall] = field(default_factory=list)
    defines: dict[str, tuple[str, int]] = field(default_factory=dict)
    # function-like macros: name -> (parameters, body text)
    macros: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    uses: list[FieldUse] = field(default_factory=list)
    # function -> per parameter, the struct of interest it points to (None for other parameters)
    prototypes: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    unparsed: list[Unparsed] = field(default_factory=list)


# Declarations the rules read, as tree-sitter queries; expressions need scopes, so they are walked.
_QUERY = """
(call_expression function: (identifier) @fn (#eq? @fn "OFFSET")
  arguments: (argument_list . (_) @sym . (_) @struct . (_) @field .)) @offset
(call_expression function: (identifier) @dfn (#eq? @dfn "DEFINE")
  arguments: (argument_list . (_) @dsym . (_)? @dvalue)) @define_call
(preproc_def name: (identifier) @name value: (preproc_arg)? @value) @define
(preproc_function_def name: (identifier) @mname parameters: (preproc_params) @mparams
  value: (preproc_arg)? @mvalue) @fmacro
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


def text(node: Any) -> str:
    raw: bytes = node.text
    return raw.decode("utf-8", "replace")


def line(node: Any) -> int:
    row: int = node.start_point[0]
    return row + 1


def struct_name_of_type(node: Any | None) -> str | None:
    if node is not None and node.type == "struct_specifier":
        name = node.child_by_field_name("name")
        if name is not None:
            return text(name)
    return None


def declarator_names(node: Any | None) -> list[tuple[str, str | None, bool]]:
    """(name, array size, is pointer) for a declarator tree."""
    out: list[tuple[str, str | None, bool]] = []

    def walk(n: Any | None, array: str | None, pointer: bool) -> None:
        if n is None:
            return
        t = n.type
        if t in ("identifier", "field_identifier"):
            out.append((text(n), array, pointer))
        elif t == "array_declarator":
            size = n.child_by_field_name("size")
            walk(n.child_by_field_name("declarator"), text(size) if size is not None else "", pointer)
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


class Extractor:
    """One walk over one file's syntax tree, tracking scopes: which variables hold a struct of interest,
    which pointers alias what, which function a node is in."""

    def __init__(self, path: str, src: bytes, structs: Iterable[str], relevant: re.Pattern[str]) -> None:
        self.relevant = relevant
        self.facts = self.new_facts(path)
        self.src = src
        self.structs_of_interest = frozenset(structs)
        # scope (function node id or 0) -> variable name -> struct of interest
        self.vars: dict[int, dict[str, str]] = {}
        # scope -> pointer variable -> the name of what it was set to (``gprs = vcpu->arch.regs``: "regs")
        self.aliases: dict[int, dict[str, str]] = {}
        self.functions: dict[int, str] = {}  # scope -> function name
        self.seen_unparsed: set[tuple[int, str]] = set()

    def new_facts(self, path: str) -> CFacts:
        """The facts object this extractor fills (a subclass returns its own kind)."""
        return CFacts(path=path)

    def run(self, *, walk: bool = True) -> CFacts:
        """The file's facts; without ``walk`` only its declarations (structs, defines, macros, asm-offsets):
        what a large header read for its structs needs, at a fraction of the cost."""
        from tree_sitter import QueryCursor

        tree = _parser().parse(self.src)
        root = tree.root_node
        asm_offsets = self.facts.path.rsplit("/", 1)[-1].startswith("asm-offsets")
        for _index, caps in QueryCursor(_query()).matches(root):
            if "offset" in caps and asm_offsets:
                sym, struct, fld = (text(caps[k][0]).strip() for k in ("sym", "struct", "field"))
                self.facts.offsets.append(OffsetCall(sym, struct, fld, line(caps["offset"][0])))
            elif "define_call" in caps and asm_offsets:
                struct, fld = offsetof_of(caps["dvalue"][0]) if "dvalue" in caps else ("", "")
                self.facts.offsets.append(
                    OffsetCall(text(caps["dsym"][0]).strip(), struct, fld, line(caps["define_call"][0]))
                )
            elif "define" in caps:
                value = caps.get("value")
                value_text = text(value[0]).strip() if value else ""
                self.facts.defines.setdefault(text(caps["name"][0]), (value_text, line(caps["define"][0])))
            elif "struct_def" in caps:
                self._struct(caps["struct_def"][0])
            elif "fmacro" in caps:
                params = tuple(text(p) for p in caps["mparams"][0].named_children)
                body = text(caps["mvalue"][0]).strip() if "mvalue" in caps else ""
                self.facts.macros.setdefault(text(caps["mname"][0]), (params, body))
        if walk:
            self._walk(root)
        return self.facts

    # ---- hooks a subclass fills its own facts from (each called for every such node) --------------
    def on_declarator(self, name: str, array: str | None) -> None:
        """A declared name (``array``: the size text when declared as an array)."""

    def on_assignment(self, node: Any, left: Any, right: Any, scope: int) -> None:
        """An assignment expression, after the pointer aliases are updated."""

    def on_call(self, node: Any, name: str, argv: list[Any], scope: int) -> None:
        """A call expression."""

    def on_cast(self, node: Any, type_desc: Any, value: Any, scope: int) -> None:
        """A cast expression."""

    def on_function(self, node: Any, name: str, scope: int) -> None:
        """A function definition, before its body is walked (its parameters are declared)."""

    def on_field(self, node: Any, use: FieldUse, scope: int) -> None:
        """A member access (``node`` is the field_expression)."""

    def on_initializer_pair(self, pair: Any, use: FieldUse, var: str | None, value: Any, scope: int) -> None:
        """A designated initializer ``.f = value`` of a struct of interest (``var``: the declared variable, if
        the initializer belongs to a declaration)."""

    def on_case(self, node: Any, scope: int) -> None:
        """A ``case`` of a switch."""

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
                self.functions[scope] = function_name(node) or ""
                self.on_function(node, self.functions[scope], scope)
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
            elif t == "case_statement":
                self.on_case(node, scope)
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
            token = text(child)
            if self.relevant.search(token) and (line(child), token) not in self.seen_unparsed:
                self.seen_unparsed.add((line(child), token))
                self.facts.unparsed.append(Unparsed(line(child), token))

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
        """Which parameters of a declared or defined function point to a struct of interest (the assembly
        rules learn from it what the argument registers hold)."""
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
            struct = struct_name_of_type(p.child_by_field_name("type"))
            names = declarator_names(p.child_by_field_name("declarator"))
            pointer = bool(names and names[0][2]) or "*" in text(p)
            kinds.append(struct if struct in self.structs_of_interest and pointer else None)
        if any(kinds):
            self.facts.prototypes.setdefault(text(name), tuple(kinds))

    def _declaration(self, node: Any, scope: int) -> None:
        if node.type == "declaration":
            self._prototype(node)
        struct = struct_name_of_type(node.child_by_field_name("type"))
        for d in node.children_by_field_name("declarator"):
            value = d.child_by_field_name("value") if d.type == "init_declarator" else None
            if value is not None and scope:
                names = declarator_names(d)
                target = self.target(value, scope)
                if names and names[0][2] and target is not None:
                    self.aliases.setdefault(scope, {})[names[0][0]] = target
            for name, array, _pointer in declarator_names(d):
                self.on_declarator(name, array)
                if struct in self.structs_of_interest and node.type != "field_declaration":
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
                groups.append((line(child), text(child), []))
            elif child.type == "field_declaration":
                type_node = child.child_by_field_name("type")
                type_text = text(type_node) if type_node is not None else ""
                for d in child.children_by_field_name("declarator"):
                    for fname, array, pointer in declarator_names(d):
                        fields.append(Field(fname, type_text + (" *" if pointer else ""), line(child), array))
                        if groups:
                            groups[-1][2].append(fname)
                last_field_row = child.end_point[0]
        name = text(name_node)
        if name in self.facts.structs:
            return
        self.facts.structs[name] = StructDef(
            name=name,
            line=line(node),
            fields=tuple(fields),
            groups=tuple(Group(group_line, comment, tuple(names)) for group_line, comment, names in groups),
        )

    # ---- expressions ----------------------------------------------------------------------------
    def base(self, node: Any, scope: int) -> Base:
        """What a member access starts from."""
        while node.type in ("parenthesized_expression", "pointer_expression"):
            inner = node.child_by_field_name("argument") if node.type == "pointer_expression" else None
            if inner is None:
                named = node.named_children
                if not named:
                    break
                inner = named[0]
            node = inner
        if node.type == "identifier":
            name = text(node)
            struct = self.vars.get(scope, {}).get(name) or self.vars.get(0, {}).get(name)
            return Base("var", name, struct)
        if node.type == "field_expression":
            fld = node.child_by_field_name("field")
            return Base("member", text(fld) if fld is not None else "")
        if node.type == "cast_expression":
            type_desc = node.child_by_field_name("type")
            struct = struct_name_of_type(type_desc.child_by_field_name("type")) if type_desc is not None else None
            return Base("cast", struct or "", struct)
        return Base("other", text(node)[:40])

    def _field_use(self, node: Any, scope: int) -> None:
        fld = node.child_by_field_name("field")
        arg = node.child_by_field_name("argument")
        if fld is None or arg is None:
            return
        use = FieldUse(self.base(arg, scope), text(fld), line(fld), "access")
        self.facts.uses.append(use)
        self.on_field(node, use, scope)

    def _initializer(self, node: Any, scope: int) -> None:
        parent = node.parent
        struct: str | None = None
        var: str | None = None
        if parent is not None and parent.type == "init_declarator":
            decl = parent.parent
            if decl is not None and decl.type == "declaration":
                struct = struct_name_of_type(decl.child_by_field_name("type"))
                names = declarator_names(parent)
                var = names[0][0] if names and not names[0][2] else None
        elif parent is not None and parent.type == "compound_literal_expression":
            type_desc = parent.child_by_field_name("type")
            if type_desc is not None:
                struct = struct_name_of_type(type_desc.child_by_field_name("type"))
        if struct is None:
            return
        for pair in node.named_children:
            if pair.type != "initializer_pair":
                continue
            designators = pair.children_by_field_name("designator")
            if designators and designators[0].type == "field_designator":
                ident = designators[0].named_children
                if ident:
                    use = FieldUse(Base("init", struct, struct), text(ident[0]), line(ident[0]), "init")
                    self.facts.uses.append(use)
                    value = pair.child_by_field_name("value")
                    if value is not None:
                        self.on_initializer_pair(pair, use, var, value, scope)

    def member_use(self, node: Any, scope: int) -> FieldUse | None:
        """``node`` as a member access (through parentheses), else None."""
        while node.type == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        if node.type != "field_expression":
            return None
        fld = node.child_by_field_name("field")
        arg = node.child_by_field_name("argument")
        if fld is None or arg is None:
            return None
        return FieldUse(self.base(arg, scope), text(fld), line(fld), "access")

    def target(self, node: Any, scope: int) -> str | None:
        """The last name of what ``node`` points into, through this function's pointer aliases."""
        name = last_name(node)
        seen: set[str] = set()
        while name is not None and name in self.aliases.get(scope, {}) and name not in seen:
            seen.add(name)
            name = self.aliases[scope][name]
        return name

    def _assignment(self, node: Any, scope: int) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None:
            return
        if left.type == "identifier" and scope:
            target = self.target(right, scope)
            if target is not None and target != text(left):
                self.aliases.setdefault(scope, {})[text(left)] = target
        self.on_assignment(node, left, right, scope)

    def _call(self, node: Any, scope: int) -> None:
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if fn is None or args is None:
            return
        self.on_call(node, text(fn), args.named_children, scope)

    def struct_of_operand(self, node: Any, scope: int) -> str | None:
        """The struct an operand points to: of interest by its declaration or a cast, ``member:<name>`` for a
        member (resolved per state), else None."""
        while node.type in ("pointer_expression", "parenthesized_expression") and node.named_children:
            node = node.child_by_field_name("argument") or node.named_children[0]
        if node.type == "cast_expression":
            type_desc = node.child_by_field_name("type")
            return struct_name_of_type(type_desc.child_by_field_name("type")) if type_desc is not None else None
        base = self.base(node, scope)
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
        self.on_cast(node, type_desc, value, scope)


_LOW_MASKS = re.compile(
    r"^\(?\s*(0x0*ffffffff[uUlL]*|-1[uU][lL]*|U32_MAX|\(u32\)\s*-1|GENMASK(_ULL)?\(31,\s*0\))\s*\)?$"
)
_LOW_CASTS = re.compile(r"^\(\s*(u32|__u32|uint32_t|unsigned int|unsigned)\s*\)$")


def parts(node: Any) -> list[tuple[Any, str]]:
    """The operands an expression is built from, each with the 32-bit half it takes: ``x & 0xffffffff``,
    ``lower_32_bits(x)`` and ``(u32)x`` are the low half, ``x >> 32``, ``x << 32`` and ``upper_32_bits(x)`` the
    high half; ``a | b`` and ``a + b`` are both of their operands (an unmasked one beside a high half is the low
    half: ``(u64)dx << 32 | ax``); anything else is itself, whole."""
    while node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    if node.type == "binary_expression":
        op = node.child_by_field_name("operator")
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        op_text = text(op) if op is not None else ""
        if left is not None and right is not None:
            if op_text in ("|", "+"):
                lo, hi = parts(left), parts(right)
                # EDX:EAX joined as (dx << 32 | ax): the unmasked side next to a high half is the low half
                if any(p == "high" for _n, p in lo) and not any(p == "high" for _n, p in hi):
                    hi = [(n, p or "low") for n, p in hi]
                elif any(p == "high" for _n, p in hi) and not any(p == "high" for _n, p in lo):
                    lo = [(n, p or "low") for n, p in lo]
                return lo + hi
            if op_text == "&":
                if _LOW_MASKS.match(text(right).strip()):
                    return [(n, "low") for n, _p in parts(left)]
                if _LOW_MASKS.match(text(left).strip()):
                    return [(n, "low") for n, _p in parts(right)]
            if op_text in (">>", "<<") and text(right).strip() == "32":
                return [(n, "high") for n, _p in parts(left)]
    if node.type == "call_expression":
        fn, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if (
            fn is not None and args is not None and len(args.named_children) == 1
            and fn.type == "parenthesized_expression" and len(fn.named_children) == 1
            and fn.named_children[0].type == "identifier"
        ):  # fmt: skip
            # ``(u64)(x)``: tree-sitter reads a cast to a typedef'd name followed by parentheses as a call
            half = "low" if _LOW_CASTS.match(text(fn).strip()) else ""
            return [(n, half or p) for n, p in parts(args.named_children[0])]
        if fn is not None and args is not None and len(args.named_children) == 1:
            name = text(fn)
            if name in ("lower_32_bits", "upper_32_bits"):
                half = "low" if name == "lower_32_bits" else "high"
                return [(n, half) for n, _p in parts(args.named_children[0])]
    if node.type == "cast_expression":
        type_desc, value = node.child_by_field_name("type"), node.child_by_field_name("value")
        if type_desc is not None and value is not None:
            half = "low" if _LOW_CASTS.match("(" + text(type_desc).strip() + ")") else ""
            return [(n, half or p) for n, p in parts(value)]
    return [(node, "")]


def offsetof_of(node: Any) -> tuple[str, str]:
    """(struct, field) of ``offsetof(struct S, f)`` (``DEFINE(sym, offsetof(...))`` in asm-offsets), else
    ("", "")."""
    if node.type == "offsetof_expression":
        type_desc, member = node.child_by_field_name("type"), node.child_by_field_name("member")
        struct = struct_name_of_type(type_desc.child_by_field_name("type")) if type_desc is not None else None
        if struct is None and type_desc is not None:
            struct = text(type_desc).strip()
        if struct and member is not None:
            return struct, text(member).strip()
    m = re.match(r"^offsetof\s*\(\s*(?:struct\s+)?(\w+)\s*,\s*(\w+)\s*\)$", text(node).strip())
    return (m.group(1), m.group(2)) if m else ("", "")


def function_name(node: Any) -> str | None:
    decl = node.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    name = decl.child_by_field_name("declarator") if decl is not None else None
    return text(name) if name is not None and name.type == "identifier" else None


def last_name(node: Any) -> str | None:
    while node.type in ("parenthesized_expression", "pointer_expression", "cast_expression") and node.named_children:
        node = node.child_by_field_name("argument") or node.child_by_field_name("value") or node.named_children[0]
    if node.type == "subscript_expression":  # &regs[0]
        inner = node.child_by_field_name("argument")
        return last_name(inner) if inner is not None else None
    if node.type == "identifier":
        return text(node)
    if node.type == "field_expression":
        fld = node.child_by_field_name("field")
        return text(fld) if fld is not None else None
    return None


def extract(path: str, src: bytes, structs: Iterable[str], relevant: re.Pattern[str], *, walk: bool = True) -> CFacts:
    """The generic facts of one C file; ``structs`` are the structs whose variables and pointer parameters
    are followed, ``relevant`` the tokens worth reporting inside a construct tree-sitter could not parse
    (``walk=False``: declarations only, see :meth:`Extractor.run`)."""
    return Extractor(path, src, structs, relevant).run(walk=walk)
