"""README's exit-code table is the contract: the codes in it are exactly patchkit's, and each is reached by a test."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from patchkit.errors import ExitCode
from tests.robustness.corpus import CASES

README = Path(__file__).resolve().parents[2] / "README.md"

# code -> a test that runs patchkit into it ("module::function"); the corpus adds its own cases below.
REACHED_BY = {
    0: "tests.robustness.test_faults::test_two_applies_at_once_take_turns",
    1: "tests.robustness.test_faults::test_an_apply_killed_after_its_checkout_gets_its_record_written",
    2: "tests.robustness.test_corpus::test_case",
    3: "tests.robustness.test_corpus::test_case",
    4: "tests.robustness.test_corpus::test_case",
    5: "tests.robustness.test_faults::test_a_failing_build_is_exit_5_naming_the_state_and_error",
    6: "tests.robustness.test_faults::test_a_kernel_that_does_not_boot_is_exit_6",
    7: "tests.robustness.test_faults::test_git_missing_from_path_is_exit_7_naming_the_package",
    8: "tests.robustness.test_faults::test_cache_under_a_regular_file_is_exit_8_naming_the_path",
    9: "tests.test_send_breaks::test_a_connection_dropped_after_k_mails_is_exit_9_and_the_rerun_sends_only_the_rest",
    70: "tests.test_boundary::test_an_unexpected_exception_is_one_line_exit_70_and_a_log",
    130: "tests.robustness.test_faults::test_a_signal_during_startup_is_130_and_one_line",
}


def readme_codes() -> set[int]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Exit codes") :].split("\n\n", 2)[1]
    return {int(match) for match in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}


def test_the_readme_table_lists_exactly_patchkits_codes() -> None:
    assert readme_codes() == {int(code) for code in ExitCode}


def test_every_code_is_reached_by_a_test() -> None:
    assert set(REACHED_BY) == readme_codes()
    for target in REACHED_BY.values():
        module, function = target.split("::")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_the_corpus_expects_only_documented_codes() -> None:
    codes = {case.code for case in CASES}
    assert codes <= readme_codes()
    assert {2, 3, 4} <= codes


def test_only_the_command_line_exits_and_commands_return_documented_codes() -> None:
    package = README.parent / "patchkit"
    codes = readme_codes()
    for source in package.rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                called = f"{getattr(node.func.value, 'id', '')}.{node.func.attr}"
                if called in ("sys.exit", "os._exit"):
                    assert source.relative_to(package).as_posix() in ("cli/main.py", "__main__.py"), (
                        f"{source}:{node.lineno} exits"
                    )
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                assert getattr(node.exc.func, "id", "") != "SystemExit", f"{source}:{node.lineno} exits"
            returned = node.value if isinstance(node, ast.Return) else None
            if source.parent.name == "commands" and isinstance(returned, ast.Constant):
                assert returned.value in codes, f"{source}:{getattr(node, 'lineno', '?')} returns {returned.value!r}"
