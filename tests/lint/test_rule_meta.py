"""The shape of the rule packs: one rule per file, every option declared by the rule (or pack) that reads it
and documented, lint.yaml's schema made from the options, and an engine that knows no pack.

``python -m tests.lint.test_rule_meta`` regenerates the options reference in rules/README.md.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from patchkit.lint import config, definitions, registry
from patchkit.lint.options import Option
from patchkit.lint.pack import TreePack
from patchkit.lint.rule import Rule
from tests import readme_block

RULES = definitions.rules_dir()
LINT = RULES.parent
README = RULES / "README.md"
_BEGIN, _END = "<!-- options: made by python -m tests.lint.test_rule_meta -->", "<!-- /options -->"


def _modules(pack: str) -> list[Path]:
    return sorted(p for p in (RULES / pack).glob("*.py") if p.name != "__init__.py")


def test_each_pack_folder_holds_one_rule_per_file() -> None:
    """<name>.yaml, <name>.cases.yaml and <name>.py with RULE of that id; every other module is a helper of the
    pack (no RULE); the name is the id's, with '_' for '-'."""
    packs = registry.pack_names()
    assert {"core", "hygiene", "checkpatch", "tdx"} <= set(packs)
    for definition in definitions.all_rules():
        folder = RULES / definition.pack
        name = definition.id.split("/", 1)[1]
        assert definition.stem == (definition.pack if name == "*" else name.replace("-", "_")), definition.file
        assert (folder / f"{definition.stem}.py").is_file(), f"{definition.file} has no code beside it"
        assert (folder / f"{definition.stem}.cases.yaml").is_file(), f"{definition.file} has no cases beside it"
        module = importlib.import_module(f"patchkit.lint.rules.{definition.pack}.{definition.stem}")
        assert isinstance(module.RULE, Rule) and module.RULE.id == definition.id
    stems = {(d.pack, d.stem) for d in definitions.all_rules()}
    for pack in packs:
        for path in _modules(pack):
            module = importlib.import_module(f"patchkit.lint.rules.{pack}.{path.stem}")
            if (pack, path.stem) not in stems:
                assert not hasattr(module, "RULE"), f"{path} declares a RULE without a YAML beside it"
        for yaml_file in (RULES / pack).glob("*.yaml"):
            stem = yaml_file.name.split(".", 1)[0]
            assert (pack, stem) in stems, f"{yaml_file} belongs to no rule"


def _declared() -> dict[Option[Any], str]:
    return {d.option: f"{d.section}: {d.owner}" for d in registry.declared_options()}


def test_every_option_is_declared_once_by_the_rule_or_pack_that_reads_it() -> None:
    """An option object in a pack's modules belongs to its pack's PACK or to a RULE of that pack."""
    declared = _declared()
    assert len(declared) == len(registry.declared_options()), "an option is declared twice"
    for d in registry.declared_options():
        same = [o for o in registry.declared_options() if o.owner == d.owner and o.option.name == d.option.name]
        assert len(same) == 1, f"{d.owner} declares {d.option.name} twice"
    for pack in registry.pack_names():
        owners = {f"packs: {pack}", *(f"rules: {d.id}" for d in definitions.all_rules() if d.pack == pack)}
        for path in _modules(pack):
            module = importlib.import_module(f"patchkit.lint.rules.{pack}.{path.stem}")
            for name, value in vars(module).items():
                if isinstance(value, Option):
                    owner = declared.get(value)
                    assert owner is not None, (
                        f"{path.name}: option {name} ({value.name}) is declared by no rule or pack"
                    )
                    assert owner in owners, f"{path.name}: option {name} belongs to {owner}, not to pack {pack}"


def test_every_option_says_what_it_is_and_its_default_is_valid() -> None:
    for d in registry.declared_options():
        option = d.option
        assert option.name.isidentifier() and option.description.strip() and option.kind.strip(), option.name
        jsonschema.Draft202012Validator(dict(option.schema)).validate(option.default)
        option.read(option.written({}))  # the default reads without error


def test_lint_yaml_schema_is_made_from_the_options() -> None:
    schema = config.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for d in registry.declared_options():
        assert d.option.name in schema["properties"][d.section]["properties"][d.owner]["properties"]
    # the reference (every option at its default) is itself a valid lint.yaml that reads as the defaults
    reference = yaml.safe_load(config.reference())
    jsonschema.Draft202012Validator(schema).validate(reference)


def test_the_reference_reads_as_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "lint.yaml").write_text(config.reference(), encoding="utf-8")
    loaded, defaults = config.load_config(tmp_path), config.defaults()
    for d in registry.declared_options():
        if d.option.merge == "replace":
            assert loaded[d.option] == defaults[d.option], d.option.name


def options_block() -> str:
    return "\n".join([_BEGIN, "```yaml", config.reference().rstrip("\n"), "```", _END])


def test_every_option_is_documented_in_the_rules_readme() -> None:
    assert readme_block.current(README, _BEGIN, _END) == options_block(), (
        "rules/README.md's options are stale: run python -m tests.lint.test_rule_meta"
    )


# the engine side: everything under patchkit/lint except the pack folders that are not the engine's own
_ENGINE_PACKS = ("core", "hygiene", "checkpatch")


def _engine_side(path: Path) -> bool:
    parts = path.relative_to(LINT).parts
    return parts[0] != "rules" or len(parts) == 2 or parts[1] in _ENGINE_PACKS


_ENGINE = [p for p in sorted(LINT.rglob("*.py")) if _engine_side(p)]
_PACK_WORDS = ("tdx", "kvm", "vcpu", "seamcall", "tdcall", "vmcall", "hypercall")


def _code_strings(tree: ast.AST) -> list[str]:
    """String constants that are not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", _ENGINE, ids=lambda p: p.relative_to(LINT).as_posix())
def test_the_engine_knows_no_pack(path: Path) -> None:
    """No import from a tree pack, no TDX or KVM word in code (file selection, rule ids, options: the pack's)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith("patchkit.lint.rules.tdx"), f"{path.name} imports {node.module}"
    for text in _code_strings(tree):
        assert not any(word in text.lower() for word in _PACK_WORDS), f"{path.name}: {text!r}"


def test_the_tree_packs_are_found_by_their_folders() -> None:
    packs = registry.tree_packs()
    assert [p.name for p in packs] == ["tdx"] and all(isinstance(p, TreePack) for p in packs)
    assert {r.id for r in registry.state_rules("tdx")} >= {"tdx/offset-per-field", "tdx/vcpu-regs-copy"}
    assert [r.id for r in registry.history_rules("tdx")] == ["tdx/removed-symbol-users"]


if __name__ == "__main__":
    readme_block.rewrite(README, _BEGIN, _END, options_block())
