"""A dry run of patchkit.yml's jobs as the runner runs them, on a machine like their debian:bookworm container.

The machine: an empty HOME, no git identity or configuration (git may not guess one), and no usable KVM (a
stand-in QEMU whose KVM boots fail, so patchkit's probe falls back to TCG; its TCG boots print what a kernel and
patchkit's /init print). The repository holds two series on one base, a small tree whose Makefile really runs
under make (no compiler), already in the default tree's place as the base-tree cache would restore it.

Every ``run:`` step of the plan, verify and report jobs runs as written (bash -eo pipefail, the job's and the step's
env, ``${{ matrix.* }}`` from the plan's own output), except what installs software (apt-get, ./setup.sh, pip:
this checkout's .venv stands in). The artifacts move from the verify jobs to the report job as download-artifact
lays them out, and the merge must pass; with one job's artifact missing, it must fail naming that job.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from patchkit.boot.initramfs import MARKER
from tests.helpers import REPO_ROOT, GitTree, bare_machine, fake_kernel_files, valid_report, write_series

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "patchkit.yml"
BUILD_RECIPE = "mkdir -p $(O)/arch/x86/boot && cat *.c > $(O)/arch/x86/boot/bzImage"
INSTALLS = re.compile(r"apt-get|setup\.sh|pip install")
VERSION = "6.1.99-1"


def _qemu_without_kvm(directory: Path) -> None:
    """KVM fails as where /dev/kvm is missing or unusable; TCG boots print a banner and patchkit's marker."""
    directory.mkdir()
    script = directory / "qemu-system-x86_64"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *"-accel kvm"*) echo "qemu-system-x86_64: failed to initialize kvm" >&2; exit 1;; esac\n'
        f"echo 'Linux version 6.1.99'\necho '{MARKER} (6.1.99)'\n"
    )
    script.chmod(0o755)


def _patch(number: int) -> tuple[dict[str, Any], str]:
    entry = {"subject": f"x86/demo: Add part {number}", "author": {"name": "A Developer", "email": "a@example.org"},
             "date": "2026-03-01T00:00:00+00:00", "body": "Needed for the demo.",
             "trailers": ["Signed-off-by: A Developer <a@example.org>"], "diff": f"{number:04d}-part.diff"}  # fmt: skip
    diff = (
        f"diff --git a/s{number}.c b/s{number}.c\nnew file mode 100644\nindex 000000000000..000000000000\n"
        f"--- /dev/null\n+++ b/s{number}.c\n@@ -0,0 +1 @@\n+int s{number} = {number};\n"
    )
    return entry, diff


def _repository(workspace: Path, home: Path) -> None:
    """Two series on one base; the base tree where the restored cache puts it (~/.cache/patchkit/trees/...)."""
    tree = GitTree.create_small(
        home / ".cache" / "patchkit" / "trees" / f"linux-source-6.1_{VERSION}",
        # the tree's checkpatch.pl, which lint runs on every patch: one that finds nothing
        {**fake_kernel_files(BUILD_RECIPE), "state.c": "int state = 0;\n", "scripts/checkpatch.pl": "exit 0;\n"},
    )
    (tree.path / "scripts/kconfig/merge_config.sh").chmod(0o755)
    tree.git("commit", "-q", "-a", "-m", "mode")
    tree.git("tag", "-f", "patchkit-base")
    base = {"package": "linux-source-6.1", "package_version": VERSION, "version": "6.1.99",
            "tree": tree.tree_hash("patchkit-base")}  # fmt: skip
    for name, configs, count in (("alpha", ["guest"], 2), ("beta", ["host", "off"], 1)):
        patches = [_patch(n) for n in range(1, count + 1)]
        boots = {"off": {"boot": {"enabled": False}}}  # a config that does not boot
        data = {"name": name, "revision": 1, "subject_prefix": "PATCH", "base": base,
                "configs": [{"name": c, "fragment": f"{c}.config", **boots.get(c, {})} for c in configs],
                "patches": [entry for entry, _ in patches]}  # fmt: skip
        files = {entry["diff"]: diff for entry, diff in patches}
        files.update({f"{c}.config": "CONFIG_X86_64=y\n" for c in configs})
        write_series(workspace / "series" / name, data, files)
    (workspace / ".venv").symlink_to(REPO_ROOT / ".venv")


def _expand(text: str, values: dict[str, str]) -> str:
    """The workflow expressions these steps use, as the runner fills them in; any other is a failure here."""
    filled = re.sub(r"\$\{\{ (matrix\.[a-z_]+|needs\.plan\.outputs\.matrix) \}\}", lambda m: values[m.group(1)], text)
    assert "${{" not in filled, filled
    return filled


class Runner:
    def __init__(self, home: Path, tmp: Path) -> None:
        self.env = bare_machine(home)
        _qemu_without_kvm(tmp / "bin")
        self.env["PATH"] = f"{tmp / 'bin'}:{self.env['PATH']}"
        self.env.update({key: str(value) for key, value in _load()["env"].items()})  # the workflow's env (CI)
        self.summary = tmp / "summary.md"

    def job(self, name: str, workspace: Path, values: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
        """Every run: step of job ``name`` in order, stopping at the first failure, as the runner does."""
        job = _load()["jobs"][name]
        outputs = workspace / f".github-output-{name}"
        env = {**self.env, "GITHUB_WORKSPACE": str(workspace), "GITHUB_OUTPUT": str(outputs),
               "GITHUB_STEP_SUMMARY": str(self.summary)}  # fmt: skip
        env.update({key: _expand(str(value), values) for key, value in job.get("env", {}).items()})
        done: list[subprocess.CompletedProcess[str]] = []
        for step in job["steps"]:
            if "run" not in step or INSTALLS.search(step["run"]):
                continue
            step_env = {**env, **{k: _expand(str(v), values) for k, v in step.get("env", {}).items()}}
            script = _expand(step["run"], values)
            result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=workspace,
                                    env=step_env, capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
            done.append(result)
            if result.returncode != 0:
                break
        return done


def _load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return data


def _download(results: Path, artifacts: Path, names: list[str]) -> None:
    """download-artifact with ``pattern: patchkit-*``: each artifact in a directory of its name."""
    for name in names:
        shutil.copytree(results / name, artifacts / f"patchkit-{name}")


def test_the_workflow_jobs_pass_on_a_bookworm_like_machine_and_a_missing_job_fails_the_merge(tmp_path: Path) -> None:
    home, workspace = tmp_path / "home", tmp_path / "workspace"
    runner = Runner(home, tmp_path)
    _repository(workspace, home)

    plan = runner.job("plan", workspace, {})
    assert plan[-1].returncode == 0, plan[-1].stderr
    matrix = (workspace / ".github-output-plan").read_text().removeprefix("matrix=").strip()
    include = json.loads(matrix)["include"]
    assert [e["name"] for e in include] == ["alpha-lint", "alpha-guest", "beta-lint", "beta-host", "beta-off"]

    for entry in include:  # each job in its own container: the workspace is the same checkout
        values = {f"matrix.{key}": str(value).lower() if isinstance(value, bool) else str(value)
                  for key, value in entry.items()}  # fmt: skip
        steps = runner.job("verify", workspace, values)
        assert all(s.returncode == 0 for s in steps), (entry["name"], steps[-1].stdout, steps[-1].stderr)
        verify = next(s for s in steps if ".venv/bin/patchkit verify" in s.args[-1])
        assert "verify: passed" in verify.stdout, verify.stdout
        report = valid_report(workspace / "results" / entry["name"] / "report.json")
        assert report["series"] == entry["series"] and report["exit_code"] == 0
        if entry["config"] in ("guest", "host"):  # booted: KVM did not work, so TCG, and the output says why
            assert report["boot"]["accel"] == "tcg" and report["boot"]["boots"][0]["ok"], report["boot"]
            assert report["boot"]["accel_why"].startswith("TCG: "), report["boot"]

    names = [e["name"] for e in include]
    report_ws = tmp_path / "report"
    report_ws.mkdir()
    (report_ws / ".venv").symlink_to(REPO_ROOT / ".venv")
    _download(workspace / "results", report_ws / "results", names)
    merged = runner.job("report", report_ws, {"needs.plan.outputs.matrix": matrix})
    assert merged[-1].returncode == 0, merged[-1].stdout + merged[-1].stderr
    assert merged[-1].stdout.count("verify (merged): passed") == 2
    for series in ("alpha", "beta"):
        data = valid_report(report_ws / "merged" / series / "report.json")
        assert data["coverage"]["missing"] == [] and data["exit_code"] == 0
        for result in data["build"]["results"]:  # the evidence came with the artifacts
            assert (report_ws / result["log"]).is_file(), result["log"]
    assert "### patchkit verify: alpha v1" in runner.summary.read_text()

    lost = tmp_path / "lost"
    lost.mkdir()
    (lost / ".venv").symlink_to(REPO_ROOT / ".venv")
    _download(workspace / "results", lost / "results", [n for n in names if n != "beta-host"])
    failed = runner.job("report", lost, {"needs.plan.outputs.matrix": matrix})
    assert failed[-1].returncode == 1, failed[-1].stdout + failed[-1].stderr
    assert ("not covered by any report: build host at base..patch 1 (job beta-host); "
            "boot host at patch 1 (job beta-host)") in failed[-1].stdout  # fmt: skip
