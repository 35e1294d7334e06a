"""The TDX pack as the engine sees it: which files a state needs, how one is read, what could not be read.

A file is read when its text names an args struct or a ``TDX_<KIND>_`` offset, defines a constant of the
spec table (``tdx/spec-constants``), or uses a member whose type is an args struct (``->vp_enter_args``),
wherever that member is declared: the state's headers say which members those are (:meth:`TdxPack.followed`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from patchkit.lint.lang import asm
from patchkit.lint.options import Settings
from patchkit.lint.pack import FileSelection, Followed, TreePack, Unparsed
from patchkit.lint.rules.tdx import kvm
from patchkit.lint.rules.tdx.clear_before_return import walked_family
from patchkit.lint.rules.tdx.facts import (
    ARGS_STRUCTS,
    ASM_OFFSETS,
    KVM_HEADERS,
    OFFSET_SYMBOL,
    PACK_OPTIONS,
    SEARCH_PATHS,
    VCPU_ACCESSORS_HEADER,
    VCPU_REGS_HEADER,
    TdxState,
    variants,
)
from patchkit.lint.rules.tdx.spec_constants import spec_names

Facts = kvm.KvmFacts | asm.AsmFacts
_STRUCT_TYPE = re.compile(r"^(?:const\s+)?struct\s+(\w+)")


class TdxPack(TreePack[Facts, TdxState]):
    name = "tdx"
    options = PACK_OPTIONS

    def selection(self, settings: Settings) -> FileSelection:
        def make() -> FileSelection:
            structs = settings[ARGS_STRUCTS]
            kinds = sorted(set(structs.values()))
            names = "|".join(re.escape(n) for n in sorted(structs))
            constants = spec_names(settings)
            defined = "|".join(re.escape(n) for n in constants)
            return FileSelection(
                words=(*sorted(structs), *(f"TDX_{k}_" for k in kinds), *constants),
                pattern=re.compile(f"{names}|TDX_({'|'.join(kinds)})_|#\\s*define\\s+({defined})\\b"),
                always=frozenset(
                    (*ASM_OFFSETS, settings[VCPU_REGS_HEADER], settings[VCPU_ACCESSORS_HEADER], *settings[KVM_HEADERS])
                ),
                search_paths=settings[SEARCH_PATHS],
                extensions=("c", "h", "S"),
            )

        return settings.derived("tdx selection", make)

    def followed(self, files: Sequence[tuple[str, Facts]], settings: Settings) -> Followed | None:
        """The files that use a member whose type is an args struct (``tdx->vp_enter_args.r12``), the member
        declared in any file read (a KVM header's vCPU struct)."""
        structs = settings[ARGS_STRUCTS]
        members: set[str] = set()
        for _path, facts in files:
            if isinstance(facts, kvm.KvmFacts):
                for sdef in facts.structs.values():
                    for f in sdef.fields:
                        m = _STRUCT_TYPE.match(f.type)
                        if m and m.group(1) in structs:
                            members.add(f.name)
        if not members:
            return None
        names = "|".join(re.escape(n) for n in sorted(members))
        words = tuple(w for n in sorted(members) for w in (f"->{n}", f".{n}"))
        return Followed(words, re.compile(rf"(?:->|\.)\s*(?:{names})\b"))

    def _unparsed_pattern(self, settings: Settings) -> re.Pattern[str]:
        """Tokens that make a construct tree-sitter could not parse worth reporting."""

        def make() -> re.Pattern[str]:
            structs = settings[ARGS_STRUCTS]
            names = "|".join(re.escape(n) for n in sorted(structs))
            kinds = "|".join(sorted(set(structs.values())))
            return re.compile(rf"{names}|\bTDX_({kinds})_\w+|NR_VCPU_REGS|VCPU_REGS_")

        return settings.derived("tdx unparsed pattern", make)

    def extract(self, path: str, content: bytes, settings: Settings) -> Facts:
        if path.endswith(".S"):
            return asm.extract(path, content)
        walk = path not in settings[KVM_HEADERS]  # read for their structs only: large, and nothing else is needed
        return kvm.extract(path, content, settings[ARGS_STRUCTS], self._unparsed_pattern(settings), walk=walk)

    def state(self, label: str, files: Sequence[tuple[str, Facts]], settings: Settings) -> TdxState:
        state = TdxState(label=label, args_structs=settings[ARGS_STRUCTS])
        for path, facts in files:
            if isinstance(facts, asm.AsmFacts):
                state.asm[path] = facts
            else:
                state.c[path] = facts
        return state

    def unparsed(self, state: TdxState, settings: Settings) -> list[Unparsed]:
        out: list[Unparsed] = []
        for path, facts in sorted(state.c.items()):
            for u in facts.unparsed:
                out.append(Unparsed(path, u.line, f"'{u.token}' is inside a construct tree-sitter could not parse; "
                                    "the TDX rules cannot check it"))  # fmt: skip
        conditions = {
            (p, line, " ".join(text.split()), why) for v in variants(state) for p, line, text, why in v.unreadable
        }
        for path, line, text, why in sorted(conditions):
            shown = text if len(text) <= 60 else text[:57] + "..."
            out.append(Unparsed(path, line, f"'{shown}' cannot be evaluated ({why}); the TDX rules read its block "
                                "as taken"))  # fmt: skip
        kinds = state.kinds()
        for path, afacts in sorted(state.asm.items()):
            for item in afacts.items:
                if item.kind != "insn" or not item.name.startswith("mov"):
                    continue
                syms = [m for m in OFFSET_SYMBOL.finditer(" ".join(item.operands)) if m.group(1) in kinds]
                if not syms:
                    continue
                good = len(item.operands) == 2 and any(
                    (mem := asm.parse_mem(op)) is not None and OFFSET_SYMBOL.fullmatch(mem[0]) for op in item.operands
                )
                if not good:
                    out.append(Unparsed(path, item.line, f"cannot read the operands of '{item.text}'; the TDX rules "
                                        "cannot check it"))  # fmt: skip
        for w in walked_family(state, settings, "gave-up"):
            out.append(Unparsed(w.path, w.line, w.message, w.identity, w.evidence))
        return out


PACK = TdxPack()
