"""The package layout: imports only go down the layers, README's layout is the tree on disk."""

from __future__ import annotations

import ast
from pathlib import Path

from tests import readme_block
from tests.helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "patchkit"
# Lowest first: a module may import from its own package or from one listed before it.
LAYERS = ("errors", "util", "series", "tree", "apply", "github", "lint", "kbuild", "boot", "verify", "mail", "cli")
# Upward imports allowed (none: the move's leftovers went as their packages were reworked).
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "patchkit" or len(parts) == 1:
        return None  # patchkit itself (__version__) is below everything
    return parts[1] if parts[1] in LAYERS else None


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "patchkit":
                found += [f"patchkit.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("patchkit")]


def upward_imports() -> set[tuple[str, str]]:
    upward: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        source_layer = _layer_of(source)
        if source_layer is None:
            continue
        for target in _imports(path):
            target_layer = _layer_of(target)
            if target_layer is not None and LAYERS.index(target_layer) > LAYERS.index(source_layer):
                upward.add((source, target))
    return upward


def test_every_package_is_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert packages | modules == set(LAYERS)


def test_every_module_says_what_it_is() -> None:
    undocumented = [str(p.relative_to(REPO_ROOT)) for p in PACKAGE.rglob("*.py") if not _summary(p)]
    assert undocumented == []


def test_imports_only_go_down_the_layers() -> None:
    found = upward_imports()
    assert found <= ALLOWED_UPWARD, sorted(found - ALLOWED_UPWARD)
    assert not ALLOWED_UPWARD - found, f"no longer needed: {sorted(ALLOWED_UPWARD - found)}"


README = REPO_ROOT / "README.md"
_BEGIN, _END = "<!-- layout: made by python -m tests.test_layout -->", "<!-- /layout -->"


def _summary(path: Path) -> str:
    """The first line of a module's docstring (a package's: its __init__.py's)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().split("\n", 1)[0]


def _package_lines(directory: Path, depth: int) -> list[str]:
    lines: list[str] = []
    entries = sorted(directory.iterdir(), key=lambda p: (p.is_dir(), p.name))
    for entry in entries:
        indent = "  " * depth
        if entry.is_dir() and (entry / "__init__.py").exists():
            lines.append(f"{indent}{entry.name + '/':<{28 - len(indent)}} {_summary(entry / '__init__.py')}".rstrip())
            lines += _package_lines(entry, depth + 1)
        elif entry.suffix == ".py" and entry.name not in ("__init__.py",):
            lines.append(f"{indent}{entry.name:<{28 - len(indent)}} {_summary(entry)}".rstrip())
    return lines


def layout_block() -> str:
    """README's layout section: every package and module under patchkit/ with its docstring's first line."""
    return "\n".join([_BEGIN, "```text", "patchkit/", *_package_lines(PACKAGE, 1), "```", _END])


def test_readme_layout_is_the_tree_on_disk() -> None:
    assert readme_block.current(README, _BEGIN, _END) == layout_block(), (
        "README's layout is stale: run python -m tests.test_layout"
    )


if __name__ == "__main__":
    readme_block.rewrite(README, _BEGIN, _END, layout_block())
