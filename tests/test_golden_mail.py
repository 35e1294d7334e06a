"""Golden mails of the bundled series: v1, and a v2 made with `patchkit revise` (slow: the real 6.1 tree).

Regenerate after an intended change with PATCHKIT_UPDATE_GOLDEN=1 and review the diff. Every format run
here also goes through git send-email --dry-run (tests.helpers.run_cli); the tree's own checkpatch.pl
and b4 shazam judge the v1 mails too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT, read_mail, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

GOLDEN = Path(__file__).parent / "golden" / "tdx"
UPDATE = os.environ.get("PATCHKIT_UPDATE_GOLDEN") == "1"


def _compare(made: Path, golden: Path) -> None:
    files = sorted(p.name for p in made.glob("*.patch"))
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for name in files:
            shutil.copyfile(made / name, golden / name)
    assert files == sorted(p.name for p in golden.glob("*.patch"))
    for name in files:
        assert (made / name).read_bytes() == (golden / name).read_bytes(), name


def test_bundled_series_v1_and_v2_mails_are_golden(
    real_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    series = tmp_path / "project" / "series" / "tdx"
    shutil.copytree(REPO_ROOT / "series" / "tdx", series)
    project = series.parent.parent
    tree = str(real_tree)
    assert run_cli("apply", "--tree", tree, cwd=project).code == 0
    result = run_cli("format", "--tree", tree, "--no-checkpatch", "-o", "v1", cwd=project)
    assert result.code == 0, result.err
    _compare(project / "v1", GOLDEN / "v1")
    # b4's view of it: every patch and the base
    b4 = shutil.which("b4") or str(Path(sys.executable).with_name("b4"))
    if Path(b4).exists():
        mbox = tmp_path / "v1.mbox"
        mbox.write_bytes(b"".join(p.read_bytes() for p in sorted((project / "v1").glob("*.patch"))))
        out = subprocess.run([b4, "--offline-mode", "am", "-m", str(mbox), "-o", str(tmp_path / "b4")], cwd=tree,
                             capture_output=True, text=True, check=True)  # fmt: skip
        assert "Total patches: 10" in out.stdout + out.stderr
    # v2: revise, say what changed, change one patch's message
    assert run_cli("revise", cwd=project).code == 0
    data = yaml.safe_load((series / "series.yaml").read_text())
    data["changelog"][-1]["changes"] = "- Patch 1: say which registers the TDX module returns."
    data["patches"][0]["body"] += "\n\nThe TDX module returns them in RCX, RDX and R8 to R11."
    (series / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000))
    assert run_cli("apply", "--tree", tree, cwd=project).code == 0
    subprocess.run(["git", "-C", tree, "branch", "-D", "patchkit/tdx/v1"], check=True, capture_output=True)
    result = run_cli("format", "--tree", tree, "--no-checkpatch", "-o", "v2", cwd=project)
    assert result.code == 0, result.err
    assert "range-diff against v1 (recorded in history/v1)" in result.out
    _compare(project / "v2", GOLDEN / "v2")


def test_the_trees_checkpatch_and_b4_shazam_take_the_bundled_series_mails(real_tree: Path, tmp_path: Path) -> None:
    series = tmp_path / "project" / "series" / "tdx"
    shutil.copytree(REPO_ROOT / "series" / "tdx", series)
    project = series.parent.parent
    tree = str(real_tree)
    assert run_cli("apply", "--tree", tree, cwd=project).code == 0
    assert run_cli("format", "--tree", tree, "--no-checkpatch", "-o", "v1", cwd=project).code == 0
    mails = sorted((project / "v1").glob("*.patch"))
    assert len(mails) == 11
    # checkpatch as a maintainer runs it, from the tree on the mails: no errors (Change-Id is in the basement)
    # (its spdxcheck.py runs on "python3": Debian's, with python3-ply, as on a maintainer's machine)
    env = {**os.environ, "PATH": f"/usr/bin:{os.environ.get('PATH', '')}"}
    result = subprocess.run(["perl", "scripts/checkpatch.pl", *map(str, mails)], cwd=tree, capture_output=True,
                            text=True, check=False, env=env)  # fmt: skip
    totals = re.findall(r"^total: (\d+) errors, (\d+) warnings", result.stdout, re.MULTILINE)
    assert len(totals) == len(mails), result.stdout + result.stderr
    assert all(errors == "0" for errors, _ in totals), result.stdout
    assert "GERRIT_CHANGE_ID" not in result.stdout and "Change-Id" not in result.stdout
    assert "Traceback" not in result.stderr, result.stderr  # spdxcheck ran (setup.sh --test installs python3-ply)
    # b4 shazam -M: the merge message says what the cover letter says, nothing patchkit added below it
    b4 = shutil.which("b4") or str(Path(sys.executable).with_name("b4"))
    mbox = tmp_path / "v1.mbox"
    mbox.write_bytes(b"".join(p.read_bytes() for p in mails))
    subprocess.run(["git", "-C", tree, "checkout", "-q", "-B", "main", "patchkit-base"], check=True)
    out = subprocess.run([b4, "--offline-mode", "shazam", "-M", "-m", str(mbox)], cwd=tree, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    message = subprocess.run(["git", "-C", tree, "log", "-1", "--format=%B"], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    cover = yaml.safe_load((series / "series.yaml").read_text())["cover"]
    assert message.startswith(f'Merge patch series "{cover["subject"]}"')
    assert message.split(" says:\n\n", 1)[1].split("\n\nLink: ", 1)[0] == cover["body"].strip()
    assert read_mail(mails[0])["Message-ID"].strip("<>") in message
