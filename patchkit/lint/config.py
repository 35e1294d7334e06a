"""lint.yaml beside series.yaml: a project's values for the options its rules declare (every key optional).

One shape, generated from the declarations (:mod:`patchkit.lint.options`; each rule declares the
options it reads, a pack those all its rules read)::

    disable: [tdx/grouping-comment-class]        # rules not run
    packs:
      tdx: {search_paths: [arch/x86/, drivers/virt/, virt/, include/linux/]}
    rules:
      tdx/vcpu-regs-copy:
        abi_translations: [{name: my ABI, pairs: {r10: rax}, scope: {functions: [my_*]}}]
      tdx/clear-before-return: {mode: cleared}

The JSON schema lint.yaml is checked against (:func:`schema`) is made from the options, so a mistake
is one line naming the file, line and key; the documented list of options in ``rules/README.md`` is made
from them too (``python -m tests.lint.test_rule_meta``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from patchkit.errors import DataError
from patchkit.lint import definitions
from patchkit.lint.options import Settings
from patchkit.lint.registry import declared_options
from patchkit.util import inputfile
from patchkit.util.yamldata import MAX_FILE_BYTES, check_text, format_key_path, line_of, parse_yaml, validate

FILE = "lint.yaml"
_DISABLE = "rule ids not run (their findings are not reported)"


def schema() -> dict[str, Any]:
    """lint.yaml's JSON schema, from every declared option."""
    sections: dict[str, dict[str, dict[str, Any]]] = {"packs": {}, "rules": {}}
    for d in declared_options():
        sections[d.section].setdefault(d.owner, {})[d.option.name] = {
            **d.option.schema,
            "description": d.option.description,
        }

    def section(owners: dict[str, dict[str, Any]], what: str) -> dict[str, Any]:
        properties = {
            owner: {"type": "object", "additionalProperties": False, "properties": options}
            for owner, options in sorted(owners.items())
        }
        return {"type": "object", "description": what, "additionalProperties": False, "properties": properties}

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "patchkit lint configuration (lint.yaml beside series.yaml; every key optional)",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "disable": {"type": "array", "items": {"type": "string"}, "description": _DISABLE},
            "packs": section(sections["packs"], "options a rule pack's rules share, by pack"),
            "rules": section(sections["rules"], "options of one rule, by rule id"),
        },
    }


@functools.lru_cache(maxsize=1)
def defaults() -> Settings:
    """Every option at its default (no lint.yaml)."""
    return Settings({d.option: d.option.read(d.option.written({})) for d in declared_options()})


def load_config(series_dir: Path | None) -> Settings:
    """The defaults with ``<series_dir>/lint.yaml`` over them, when it exists."""
    path = series_dir / FILE if series_dir is not None else None
    if path is None or not os.path.lexists(path):  # anything there (a FIFO, a dangling link) is read, and refused
        return defaults()
    raw = inputfile.read_limited(path, MAX_FILE_BYTES)
    data, lines = parse_yaml(path, raw, what="lint configuration")
    data = {} if data is None else data
    check_text(path, data, lines, multiline_keys=())
    if isinstance(data, dict):
        _refuse_moved_keys(path, data, lines)
    validate(path, data, lines, schema())
    values: dict[Any, Any] = {}
    for d in declared_options():
        given = data.get(d.section, {}).get(d.owner, {})
        option = d.option
        try:
            values[option] = option.read(option.written(given))
        except (ValueError, TypeError) as exc:
            where = (d.section, d.owner, option.name)
            raise DataError(f"{path}:{line_of(where, lines)}: {format_key_path(where)}: {exc}") from None
    disabled = [str(r) for r in data.get("disable", [])]
    for index, rule_id in enumerate(disabled):
        if definitions.find(rule_id) is None:
            raise DataError(f"{path}:{line_of(('disable', index), lines)}: disable[{index}]: {rule_id} names no rule")
    return Settings(values, frozenset(disabled))


def _refuse_moved_keys(path: Path, data: dict[str, Any], lines: dict[Any, int]) -> None:
    """A top-level key that is the name of a declared option (lint.yaml before options were declared per rule)
    says where it goes now."""
    for key in data:
        if key in ("disable", "packs", "rules"):
            continue
        owners = [d for d in declared_options() if d.option.name == key]
        if owners:
            d = owners[0]
            raise DataError(
                f"{path}:{line_of((key,), lines)}: {key}: an option of {d.section[:-1]} {d.owner}; "
                f"write it under '{d.section}: {{{d.owner}: {{{key}: ...}}}}'"
            )


def reference() -> str:
    """lint.yaml with every option at its default, each under what it means (the documented reference)."""
    import textwrap

    import yaml

    out = [f"disable: []  # {_DISABLE}"]
    current = ("", "")
    for d in declared_options():
        if d.section != current[0]:
            out.append(f"{d.section}:")
        if (d.section, d.owner) != current:
            out.append(f"  {d.owner}:")
            current = (d.section, d.owner)
        container = isinstance(d.option.default, list | dict)
        merge = (
            "; a project's is added to these" if d.option.merge == "add" else "; replaces these" if container else ""
        )
        comment = f"{d.option.description} ({d.option.kind}{merge})"
        out += textwrap.wrap(comment, 100, initial_indent="    # ", subsequent_indent="    # ", break_on_hyphens=False)
        dumped = yaml.safe_dump({d.option.name: d.option.default}, sort_keys=False, width=100, allow_unicode=True)
        out += ["    " + line for line in dumped.rstrip("\n").split("\n")]
    return "\n".join(out) + "\n"
