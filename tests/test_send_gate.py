"""The send gate: the verify record names lint and each config's build and boot verdicts for one revision and
content; send opens only when all passed, names what is missing otherwise, and reads the record's fields with
their exact JSON types. --dry-run says whether it would open, before any verify."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("aiosmtpd")

from patchkit.apply.states import State
from patchkit.errors import PatchkitError
from patchkit.series.load import load_series
from patchkit.util import tools
from patchkit.verify.record import ConfigVerdict, verdicts_of
from patchkit.verify.report import (
    BootCell,
    BootSection,
    BranchCheck,
    BuildCell,
    BuildSection,
    LintSummary,
    Scope,
    SeriesConfig,
    VerifyReport,
)
from tests.helpers import SMALL_FILES, GitTree, Project, fake_kernel_files, write_mail_series
from tests.sending import Inbox, add_config, mailable, send, serving, write_verify_record


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with serving() as box:
        yield box


def _record_path(project: Project) -> Path:
    return project.tree.path / ".git" / "patchkit" / "demo.verify.json"


def test_dry_run_before_any_verify_says_the_gate_would_stay_closed(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox
) -> None:
    add_config(applied_mail_project.series)
    before = applied_mail_project.yaml_path.read_bytes()
    result = send(applied_mail_project.root, small_tree, inbox.port, "--dry-run")
    assert result.code == 0, result.err
    assert "verify: the gate would stay closed: v1 was never verified; run 'patchkit verify' first" in result.out
    assert "would send 0002-x86-virt-Add-a-Makefile.patch" in result.out
    assert "dry run: 3 mails not sent (would go through 127.0.0.1:" in result.out and "the verify gate is closed" \
        in result.out  # fmt: skip
    assert inbox.received == [] and applied_mail_project.yaml_path.read_bytes() == before
    assert not _record_path(applied_mail_project).exists()


def test_a_lint_only_verify_records_build_and_boot_not_run_and_does_not_open_the_gate(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox, tmp_path: Path
) -> None:
    project = applied_mail_project
    add_config(project.series)
    verified = project.cli("verify", "--tree", str(small_tree.path), "--no-build", "--no-boot", "--no-checkpatch",
                           "--results", str(tmp_path / "results"))  # fmt: skip
    assert verified.code == 0, verified.out + verified.err  # lint passed: verify itself is content
    record = json.loads(_record_path(project).read_text())
    assert record["passed"] is True and record["lint"] == "passed" and record["revision"] == 1
    assert record["tree"] == small_tree.tree_hash("patchkit/demo/v1")
    assert {k: v for k, v in record["configs"]["tiny"].items() if k != "digest"} == {"build": "not run",
                                                                                      "boot": "not run"}  # fmt: skip
    missing = "build not run for tiny; boot not run for tiny; run 'patchkit verify' again"
    dry = send(project.root, small_tree, inbox.port, "--dry-run")
    assert dry.code == 0 and f"the gate would stay closed: {missing}" in dry.out
    result = send(project.root, small_tree, inbox.port)
    assert result.code == 4 and f"not sending series 'demo' v1: {missing} (or send --force)" in result.err
    assert inbox.received == []


def test_a_record_verify_writes_after_lint_and_build_passed_opens_the_gate(tmp_path: Path, inbox: Inbox) -> None:
    """A tree whose make 'builds' at once (real make, no compiler), a config that does not boot: verify's own
    record opens the gate; the same verify without lint does not."""
    try:
        tools.require(tools.BUILD)
    except PatchkitError as exc:
        pytest.skip(f"no build tools: {exc}")
    recipe = "mkdir -p $(O)/arch/x86/boot && cat README > $(O)/arch/x86/boot/bzImage"
    tree = GitTree.create_small(tmp_path / "linux", {**SMALL_FILES, **fake_kernel_files(recipe)})
    (tree.path / "scripts/kconfig/merge_config.sh").chmod(0o755)
    tree.git("commit", "-q", "-a", "-m", "mode")
    tree.git("tag", "-f", "patchkit-base")
    project = Project(tmp_path / "project", tree)
    write_mail_series(project.root, tree)
    add_config(project.series)
    project.replace("  fragment: tiny.config\n", "  fragment: tiny.config\n  boot:\n    enabled: false\n")
    project.apply()
    verify = ["verify", "--tree", str(tree.path), "--no-boot", "--no-checkpatch", "--results"]
    assert project.cli(*verify, str(tmp_path / "r1"), "--no-lint").code == 0
    closed = send(project.root, tree, inbox.port)
    assert closed.code == 4 and "not sending series 'demo' v1: lint not run; run 'patchkit verify' again" \
        in closed.err  # fmt: skip
    result = project.cli(*verify, str(tmp_path / "r2"))
    assert result.code == 0, result.out + result.err
    record = json.loads(_record_path(project).read_text())
    assert (record["lint"], record["configs"]["tiny"]["build"], record["configs"]["tiny"]["boot"]) == (
        "passed", "passed", "disabled")  # fmt: skip
    sent = send(project.root, tree, inbox.port)
    assert sent.code == 0, sent.err
    assert "verify: v1 lint, build and boot passed (tiny; boot disabled for tiny) on" in sent.out
    assert len(inbox.received) == 3


def _edit(project: Project, change: Callable[[dict[str, Any]], None]) -> Path:
    path = _record_path(project)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (lambda d: d.update(passed="false"), "passed", 'expected true or false, found the string "false"'),
        (lambda d: d.update(passed=1), "passed", "expected true or false, found 1"),
        (lambda d: d.update(revision="1"), "revision", 'expected a whole number, found the string "1"'),
        (lambda d: d.update(revision=True), "revision", "expected a whole number, found true"),
        (lambda d: d.update(lint=True), "lint", 'one of "passed", "failed", "not run", "disabled", found true'),
        (lambda d: d.update(lint="ok"), "lint", "expected one of"),
        (lambda d: d["configs"]["tiny"].update(build=1), "configs.tiny.build", "expected one of"),
        (lambda d: d["configs"]["tiny"].update(digest=None), "configs.tiny.digest", "expected a string, found null"),
        (lambda d: d.update(configs=[]), "configs", "expected an object, found []"),
        (lambda d: d.pop("tree"), "tree", "is missing"),
    ],
)
def test_a_record_field_of_the_wrong_json_type_is_invalid_data_naming_file_and_key(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox,
    change: Callable[[dict[str, Any]], None], key: str, expected: str,
) -> None:  # fmt: skip
    project = mailable(applied_mail_project)
    path = _edit(project, change)
    for extra in ((), ("--dry-run",)):
        result = send(project.root, small_tree, inbox.port, *extra)
        assert result.code == 3, result.out + result.err
        assert result.err.startswith(f"patchkit: error: {path}: key '{key}'") and expected in result.err
    assert inbox.received == []


def test_an_unreadable_record_and_one_of_an_older_format(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox
) -> None:
    project = mailable(applied_mail_project)
    path = _record_path(project)
    path.write_text("{not json")
    result = send(project.root, small_tree, inbox.port)
    assert result.code == 3 and f"{path}: not a verify record (" in result.err
    path.write_text(json.dumps({"revision": 1, "tree": "x", "passed": True, "stages": {}, "date": "d"}))
    result = send(project.root, small_tree, inbox.port)
    assert result.code == 4 and "written by an older patchkit, without the verdict of each stage and config" \
        in result.err  # fmt: skip
    assert inbox.received == []


@pytest.mark.parametrize(
    ("verdicts", "missing"),
    [
        ({"build": "failed"}, "build failed for tiny"),
        ({"boot": "failed"}, "boot failed for tiny"),
        ({"boot": "not run"}, "boot not run for tiny"),
        ({"boot": "disabled"}, "boot disabled for tiny"),  # the config boots: disabled is not a pass
        ({"lint": "failed"}, "lint failed"),
        ({"lint": "not run", "build": "not run"}, "lint not run; build not run for tiny"),
        ({"passed": "no"}, "verify of v1 failed on"),
    ],
)
def test_the_gate_names_what_did_not_pass(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox, verdicts: dict[str, str], missing: str
) -> None:
    project = mailable(applied_mail_project)
    write_verify_record(project.series, small_tree, **verdicts)
    result = send(project.root, small_tree, inbox.port)
    assert result.code == 4 and f"not sending series 'demo' v1: {missing}" in result.err
    assert inbox.received == []
    forced = send(project.root, small_tree, inbox.port, "--force")
    assert forced.code == 0 and "verify: not checked (--force)" in forced.out and len(inbox.received) == 3


def test_a_config_changed_or_added_since_verify_closes_the_gate(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox
) -> None:
    project = mailable(applied_mail_project)
    (project.series / "tiny.config").write_text("CONFIG_X86_64=y\nCONFIG_SMP=y\n")
    result = send(project.root, small_tree, inbox.port)
    assert result.code == 4 and "config tiny changed since (its fragment or settings)" in result.err
    write_verify_record(project.series, small_tree)
    project.replace("configs:\n", "configs:\n- name: extra\n  fragment: tiny.config\n")
    result = send(project.root, small_tree, inbox.port)
    assert result.code == 4 and "config extra was not verified (added since?)" in result.err
    assert inbox.received == []


def test_a_series_without_configs_never_opens_the_gate(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox
) -> None:
    write_verify_record(applied_mail_project.series, small_tree)
    result = send(applied_mail_project.root, small_tree, inbox.port)
    assert result.code == 4 and "the series names no kconfig fragment, so nothing was built or booted" in result.err


def test_verdicts_follow_the_report_of_the_run(applied_mail_project: Project) -> None:
    add_config(applied_mail_project.series)
    data = yaml.safe_load(applied_mail_project.yaml_path.read_text())
    data["configs"].append({"name": "quiet", "fragment": "tiny.config", "boot": {"enabled": False}})
    applied_mail_project.write_data(data)
    series = load_series(applied_mail_project.series)
    everything = ["base", "patch 1", "patch 2", "overlay"]
    states = tuple(State(i, label, f"c{i}") for i, label in enumerate(everything))

    def build(config: str, labels: list[str], status: str = "ok") -> list[BuildCell]:
        return [BuildCell(config, label, "c", status, 1.0, "x.log") for label in labels]

    def boot(label: str, ok: bool = True) -> BootSection:
        return BootSection((BootCell("tiny", label, ok, "reason", "console.log"),))

    configs = (SeriesConfig("tiny"), SeriesConfig("quiet", False))
    report = VerifyReport(
        "demo", 1, BranchCheck("b", True, "matches"), configs, states=states,
        scope=Scope(True, True, True, ("tiny", "quiet"), (0, 3)), lint_summary=LintSummary(True, False),
        build=BuildSection(("tiny", "quiet"), (*build("tiny", everything), *build("quiet", everything))),
        boot=boot("overlay"),
    )  # fmt: skip
    lint, configs_found = verdicts_of(series, report)
    assert lint == "passed"
    assert {n: (c.build, c.boot) for n, c in configs_found.items()} == {"tiny": ("passed", "passed"),
                                                                         "quiet": ("passed", "disabled")}  # fmt: skip
    stopped = build("tiny", everything[:2]) + build("quiet", ["base"]) + build("quiet", ["patch 1"], "failed")
    report = replace(
        report, build=BuildSection(("tiny", "quiet"), tuple(stopped)),
        boot=boot("patch 2"),  # not the series' end
        lint_summary=LintSummary(True, True),
    )  # fmt: skip
    lint, configs_found = verdicts_of(series, report)
    assert lint == "failed"
    assert configs_found["tiny"] == ConfigVerdict("not run", "not run", configs_found["tiny"].digest)  # stopped early
    assert (configs_found["quiet"].build, configs_found["quiet"].boot) == ("failed", "disabled")
    report = replace(report, boot=boot("overlay", ok=False))
    assert verdicts_of(series, report)[1]["tiny"].boot == "failed"
    no_boot = replace(report, scope=Scope(True, True, False, ("tiny", "quiet"), (0, 3)))
    assert verdicts_of(series, no_boot)[1]["tiny"].boot == "not run"
    assert verdicts_of(series, replace(report, lint_summary=LintSummary(False)))[0] == "not run"
