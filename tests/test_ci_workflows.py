"""The GitHub workflows and the composite action: actionlint and zizmor clean (offline), and the promises.

actionlint (with shellcheck for the run: scripts), zizmor and shellcheck come from the test extras as
wheels that carry their binaries; nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from patchkit.cli.main import cli
from tests.helpers import REPO_ROOT, Project, process_env

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTION = REPO_ROOT / "action.yml"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed: ./setup.sh --test installs it (pyproject.toml's test extras)"
    return found


def _load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _workflows() -> dict[str, dict[Any, Any]]:
    return {p.name: _load(p) for p in sorted(WORKFLOWS.glob("*.yml"))}


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]  # YAML 1.1 reads the key `on` as True
    return on


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_actionlint_is_clean_with_shellcheck() -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    assert _tool("shellcheck")
    result = subprocess.run([_tool("actionlint"), "-no-color"], cwd=REPO_ROOT, capture_output=True, text=True,
                            env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_is_clean() -> None:
    result = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", "action.yml", ".github/workflows"],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout


def test_zizmor_would_catch_an_unpinned_action(tmp_path: Path) -> None:
    """The linters really look: the old workflow's faults are reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\npermissions:\n  security-events: write\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - uses: actions/checkout@v4\n")  # fmt: skip
    result = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", str(bad)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode != 0 and "unpinned-uses" in result.stdout and "artipacked" in result.stdout


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    uses = []
    for path in [*WORKFLOWS.glob("*.yml"), ACTION]:
        for line in path.read_text().splitlines():
            m = re.match(r"^\s*(?:- )?uses: (.+)$", line)
            if m:
                uses.append(m.group(1).split(" # zizmor")[0].strip())
    remote = [u for u in uses if not u.startswith("./")]
    assert remote and all(PINNED.match(u) for u in remote), [u for u in remote if not PINNED.match(u)]
    versions: dict[str, set[str]] = {}
    for u in remote:
        versions.setdefault(u.split("@")[0].split("/")[1], set()).add(u.split("@")[1])
    assert all(len(v) == 1 for v in versions.values()), versions  # one pin per action across all files


def test_least_privilege_per_job_and_only_pull_requests_cancel_superseded_runs() -> None:
    for name, workflow in _workflows().items():
        assert workflow["permissions"] == {}, name
        cancel = workflow["concurrency"]["cancel-in-progress"]
        if "pull_request" in _triggers(workflow):  # a newer push to the pull request; never a push to main
            assert cancel == "${{ github.event_name == 'pull_request' }}", name
        else:
            assert cancel is False, name
        for job_name, job in workflow["jobs"].items():
            permissions = job["permissions"]
            assert permissions.get("contents") == "read", (name, job_name)
            writes = {k for k, v in permissions.items() if v == "write"}
            assert writes <= {"security-events"}, (name, job_name)
            if "security-events" in writes:
                assert (name, job_name) == ("patchkit.yml", "verify")


def test_no_device_that_can_fail_and_kvm_left_to_patchkit() -> None:
    for name, workflow in _workflows().items():
        for job in workflow["jobs"].values():
            container = job.get("container")
            options = container.get("options", "") if isinstance(container, dict) else ""
            assert "--device " not in options and "--device=" not in options and "--privileged" not in options, name
    assert "--accel" not in (WORKFLOWS / "patchkit.yml").read_text()  # auto: patchkit probes KVM itself


def test_docs_only_changes_skip_the_kernel_jobs_but_not_the_quick_tests() -> None:
    kernel = _triggers(_workflows()["patchkit.yml"])
    for event in ("push", "pull_request"):
        paths = kernel[event]["paths"]
        assert "series/**" in paths and "patchkit/**" in paths
        assert not any(p in ("README.md", "**.md", "**") for p in paths)
    assert kernel["push"]["branches"] == ["main"]  # a pull request's branch does not run twice
    quick = _triggers(_workflows()["tests.yml"])
    assert "paths" not in (quick["pull_request"] or {}) and "paths" not in quick["push"]
    run = " ".join(s.get("run", "") for s in _steps(_workflows()["tests.yml"]))
    assert '-m "not slow"' in run
    slow = _workflows()["patchkit.yml"]["jobs"]["slow-tests"]
    assert "-m slow" in slow["steps"][-1]["run"]


def test_one_job_per_series_and_fragment_from_the_matrix_and_a_merge_that_expects_them_all() -> None:
    workflow = _workflows()["patchkit.yml"]
    plan, verify = workflow["jobs"]["plan"], workflow["jobs"]["verify"]
    assert any(s.get("run", "").endswith('$(.venv/bin/patchkit ci matrix)" >> "$GITHUB_OUTPUT"') for s in plan["steps"])
    assert verify["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert verify["strategy"]["fail-fast"] is False
    assert verify["env"]["SERIES"] == "${{ matrix.series }}"  # every command names the series: several may exist
    runs = [s["run"] for s in verify["steps"] if ".venv/bin/patchkit" in s.get("run", "")]
    assert runs and all('patchkit tree prepare "$SERIES"' in r or 'patchkit apply "$SERIES"' in r
                        or 'patchkit verify "$SERIES" $VERIFY_ARGS' in r for r in runs)  # fmt: skip
    upload = next(s for s in verify["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "patchkit-${{ matrix.name }}"  # names are unique across series
    merge = next(s for s in workflow["jobs"]["report"]["steps"] if "patchkit ci merge" in s.get("run", ""))
    assert "--expect matrix.json" in merge["run"] and merge["env"]["MATRIX"] == "${{ needs.plan.outputs.matrix }}"


def _cache_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in steps if s.get("uses", "").startswith("actions/cache")]


def test_caches_are_restored_and_saved_apart_and_survive_a_failing_run() -> None:
    verify = _workflows()["patchkit.yml"]["jobs"]["verify"]
    action = _load(ACTION)["runs"]["steps"]
    for steps in (verify["steps"], action):
        caches = _cache_steps(steps)
        assert {s["uses"].split("@")[0] for s in caches} == {"actions/cache/restore", "actions/cache/save"}
        for step in caches:
            key = step["with"]["key"]
            assert "run_id" not in key and "run_number" not in key and "run_attempt" not in key, key
        builds = [s for s in caches if "patchkit/ccache" in s["with"]["path"]]
        assert "patchkit/verdicts" in builds[0]["with"]["path"]  # content-keyed verdicts, safe to share
        restore, save = builds
        assert restore["uses"].startswith("actions/cache/restore") and save["uses"].startswith("actions/cache/save")
        assert save["with"]["path"] == restore["with"]["path"]
        assert save["with"]["key"] == "${{ steps.build-cache.outputs.cache-primary-key }}"
        assert save["if"].startswith("always() && "), save["if"]  # saved when verify failed, too
        assert steps.index(save) > next(i for i, s in enumerate(steps) if s.get("id") == "verify" or
                                        "patchkit verify" in s.get("name", ""))  # fmt: skip
        bases = [s for s in caches if "patchkit/trees" in s["with"]["path"]]
        assert [s["uses"].split("@")[0] for s in bases] == ["actions/cache/restore", "actions/cache/save"]
        assert bases[0]["with"] == bases[1]["with"]
    assert verify["env"]["CCACHE_MAXSIZE"]  # ccache bounds itself; patchkit bounds the verdict cache
    base_save = next(s for s in _cache_steps(verify["steps"]) if s["uses"].startswith("actions/cache/save"))
    assert "matrix.save_base" in base_save["if"]  # one job per base saves it: no race for the key


def test_every_container_is_debian_bookworm_pinned_by_digest() -> None:
    images = set()
    for workflow in _workflows().values():
        for job in workflow["jobs"].values():
            if "container" in job:
                container = job["container"]
                images.add(container["image"] if isinstance(container, dict) else container)
    action_example = re.findall(r"container: (\S+)", ACTION.read_text())
    assert len(images) == 1 and action_example == list(images), (images, action_example)
    assert re.fullmatch(r"debian:bookworm@sha256:[0-9a-f]{64}", images.pop())
    text = (WORKFLOWS / "patchkit.yml").read_text()
    assert "debian:bookworm-20260918" in text and "docker-library/repo-info" in text  # which image, and from where


def test_sarif_is_not_uploaded_from_forks() -> None:
    verify = _workflows()["patchkit.yml"]["jobs"]["verify"]
    upload = next(s for s in verify["steps"] if "upload-sarif" in s.get("uses", ""))
    assert "github.event.pull_request.head.repo.full_name == github.repository" in upload["if"]


def test_drift_watch_runs_weekly() -> None:
    drift = _workflows()["drift.yml"]
    cron = _triggers(drift)["schedule"][0]["cron"].split()
    assert cron[2:4] == ["*", "*"] and cron[4].isdigit()  # one day a week
    assert any("patchkit drift" in s.get("run", "") for s in _steps(drift))


def _documented_commands() -> set[str]:
    """Commands README names in code spans (the Commands table, the GitHub Actions section)."""
    readme = (REPO_ROOT / "README.md").read_text()
    return set(re.findall(r"`patchkit ((?:ci |tree )?[a-z]+)", readme))


def test_workflows_run_only_commands_readme_documents() -> None:
    documented = _documented_commands()
    assert {"verify", "apply", "ci matrix", "ci merge", "drift", "tree prepare"} <= documented
    readme = (REPO_ROOT / "README.md").read_text()
    for name in _workflows():
        text = (WORKFLOWS / name).read_text()
        for command in re.findall(r"\.venv/bin/patchkit ((?:ci |tree )?[a-z]+)", text):
            assert command in documented, (name, command)
        for script in re.findall(r"(\./setup\.sh(?: --test)?|-m \"not slow\"|-m slow)", text):
            assert script.split()[-1].strip('"') in readme, (name, script)


def test_action_inputs_are_verify_options() -> None:
    action = _load(ACTION)
    inputs = set(action["inputs"])
    # input -> the verify option it sets (booleans that default to true set the --no-... option)
    options = {p.opts[0] for p in cli.commands["verify"].params if p.opts and p.opts[0].startswith("-")}
    own = inputs - {"apply", "args", "series", "cache"}
    mapped = {f"--no-{name}" if f"--no-{name}" in options else f"--{name}" for name in own}
    mapped = {"-j" if m == "--jobs" else m for m in mapped}
    # --format: the action's output is its results directory (report.json there), not verify's stdout
    wanted = options - {"--help", "--format"}
    assert mapped == wanted, mapped ^ wanted
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", "")  # inputs reach the shell through env only


def test_action_steps_run_patchkit_as_the_inputs_say(project: Project, tmp_path: Path) -> None:
    """The composite action's apply and verify scripts, run as the runner runs them (bash -e, env inputs)."""
    patchkit = REPO_ROOT / ".venv" / "bin" / "patchkit"
    assert patchkit.is_file(), "./setup.sh makes .venv"
    tree, series_dir = project.tree, project.series
    steps = {s["name"]: s for s in _load(ACTION)["runs"]["steps"]}
    outputs = tmp_path / "github-output"
    inputs = {name: str(spec.get("default", "")) for name, spec in _load(ACTION)["inputs"].items()}
    inputs.update({"series": str(series_dir), "tree": str(tree.path), "checkpatch": "false", "build": "false",
                   "results": str(tmp_path / "results"), "args": "--timeout 30"})  # fmt: skip

    def run(step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        # .venv's patchkit script, importing this checkout's patchkit (PYTHONPATH)
        env = process_env(GITHUB_ACTION_PATH=str(REPO_ROOT), GITHUB_OUTPUT=str(outputs))
        for key, value in step.get("env", {}).items():
            m = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)
            assert m, value
            env[key] = inputs[m.group(1)]
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=tmp_path / "project", env=env, capture_output=True, text=True,
                              check=False)  # fmt: skip

    keys = run(steps["the cache keys (patchkit ci matrix names the series' base)"])
    assert keys.returncode == 0, keys.stdout + keys.stderr
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert json.loads(written["matrix"])["include"][0]["base"] == "linux-source-6.1_6.1.99_" + tree.tree_hash()[:12]
    assert written["part"] == "all-"  # every config and state: one word for the cache key
    outputs.write_text("")
    applied = run(steps["patchkit apply"])
    assert applied.returncode == 0, applied.stdout + applied.stderr
    verified = run(steps["patchkit verify"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verify: passed" in verified.stdout
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written == {"results": str(tmp_path / "results"), "exit-code": "0"}
    assert json.loads((tmp_path / "results" / "report.json").read_text())["scope"]["build"] is False
    inputs["states"] = "9..1"
    bad = run(steps["patchkit verify"])
    assert bad.returncode == 2 and outputs.read_text().endswith("exit-code=2\n")
