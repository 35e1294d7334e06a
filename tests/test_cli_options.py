"""Every option is declared once (patchkit.cli.options), and the command line is built from those declarations."""

from __future__ import annotations

import dataclasses
import inspect
from collections import defaultdict

import click

from patchkit.cli import options
from patchkit.cli.main import cli

# The same spelling, a different option: each command's own --force, --output, ... (their help differs).
SAME_SPELLING_OTHER_MEANING = {"--force", "-o", "--output", "--dry-run", "--base", "--format", "--no-lint",
                               "--package", "--onto", "--mbox"}  # fmt: skip


def _option_classes() -> list[type]:
    return [c for _, c in inspect.getmembers(options, inspect.isclass) if dataclasses.is_dataclass(c)
            and c.__module__ == options.__name__ and not c.__name__.startswith("_")]  # fmt: skip


def test_each_option_is_declared_in_one_place() -> None:
    declared_in: dict[str, set[str]] = defaultdict(set)
    for cls in _option_classes():
        own = inspect.get_annotations(cls)
        for spec in dataclasses.fields(cls):
            if spec.name in own:
                for decl in spec.metadata["click"].decls:
                    declared_in[decl].add(f"{cls.__name__}.{spec.name}")
    repeated = {d: sorted(w) for d, w in declared_in.items() if len(w) > 1 and d not in SAME_SPELLING_OTHER_MEANING}
    assert repeated == {}
    assert {"--tree", "--config", "--fresh", "--fail-on", "--timeout", "--in-reply-to"} <= set(declared_in)


def test_every_command_takes_exactly_its_options_fields() -> None:
    def commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
        found: dict[str, click.Command] = {}
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found.update(commands(command, f"{prefix}{name} "))
            else:
                found[prefix + name] = command
        return found

    every = commands(cli)
    assert {"apply", "verify", "send", "ci merge", "tree prepare", "cache clear", "import", "format"} <= set(every)
    for command in every.values():
        names = [p.name for p in command.params if p.name != "help"]
        assert len(names) == len(set(names)), command.name


def test_a_default_is_the_library_constant() -> None:
    from patchkit.apply.states import State
    from patchkit.boot import ACCELERATORS, BOOT_TIMEOUT
    from patchkit.lint.severity import FAIL_ON_DEFAULT
    from patchkit.verify.plan import BootPlan, LintPlan, plan

    assert options.VerifyOptions().timeout == BOOT_TIMEOUT == BootPlan(frozenset(), 0).timeout
    assert options.VerifyOptions().accel == ACCELERATORS[0] == BootPlan(frozenset(), 0).accel
    planned = plan([State(0, "base", "c" * 40, "")], []).boot
    assert planned is not None and (planned.timeout, planned.accel) == (BOOT_TIMEOUT, ACCELERATORS[0])
    assert options.VerifyOptions().fail_on == FAIL_ON_DEFAULT == LintPlan().fail_on
    verify = cli.commands["verify"]
    timeout = next(p for p in verify.params if p.name == "timeout")
    assert timeout.default == BOOT_TIMEOUT
