"""b4 (from PyPI) accepts what patchkit mails: `b4 am -m` finds every patch, the base, the trailers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import GitTree, Project, run_cli
from tests.test_trailers import _replies

B4 = shutil.which("b4") or str(Path(sys.executable).with_name("b4"))
pytestmark = pytest.mark.skipif(not Path(B4).exists(), reason="b4 is not installed (pip install -e .[test])")


def _b4_am(tree: GitTree, mbox: Path, out: Path) -> str:
    result = subprocess.run([B4, "--offline-mode", "am", "-m", str(mbox), "-o", str(out)], cwd=tree.path,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _am_log(tree: GitTree, clone: Path, mbx: Path) -> str:
    subprocess.run(["git", "clone", "-q", str(tree.path), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-b", "b4", "patchkit-base"], check=True)
    subprocess.run(["git", "-C", str(clone), "am", "-q", str(mbx)], check=True)
    return subprocess.run(["git", "-C", str(clone), "log", "--format=%an <%ae> %T%n%B", "patchkit-base..b4"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def _mbox(directory: Path, target: Path) -> Path:
    target.write_bytes(b"".join(p.read_bytes() for p in sorted(directory.glob("*.patch"))))
    return target


def test_b4_takes_v1_and_v2_and_finds_the_base(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "v1", cwd=project).code == 0
    base = small_tree.git("rev-parse", "patchkit-base").strip()
    out = _b4_am(small_tree, _mbox(project / "v1", tmp_path / "v1.mbox"), tmp_path / "b4-v1")
    assert "Total patches: 2" in out and "git checkout -b" in out and base in out
    (mbx,) = (tmp_path / "b4-v1").glob("*.mbx")
    want = small_tree.git("log", "--format=%an <%ae> %T%n%B", "patchkit-base..patchkit/demo/v1")
    assert _am_log(small_tree, tmp_path / "clone-v1", mbx) == want
    # v2, made with revise
    assert run_cli("revise", cwd=project).code == 0
    data_path = project / "series/demo/series.yaml"
    data = yaml.safe_load(data_path.read_text())
    data["changelog"][-1]["changes"] = "- Reworded patch 1."
    data["patches"][0]["body"] = "Explain why, in other words."
    data_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project).code == 0
    out = _b4_am(small_tree, _mbox(project / "v2", tmp_path / "v2.mbox"), tmp_path / "b4-v2")
    assert "[PATCH v2 1/2] README: Add a second line" in out and base in out
    (mbx,) = (tmp_path / "b4-v2").glob("*.mbx")
    want = small_tree.git("log", "--format=%an <%ae> %T%n%B", "patchkit-base..patchkit/demo/v2")
    assert _am_log(small_tree, tmp_path / "clone-v2", mbx) == want


def test_b4_and_patchkit_take_the_same_trailers_from_replies(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "v1", cwd=project).code == 0
    v1 = sorted((project / "v1").glob("*.patch"))
    replies = _replies(tmp_path, v1)
    thread = tmp_path / "thread.mbox"
    thread.write_bytes(b"".join(p.read_bytes() for p in v1) + replies.read_bytes())
    _b4_am(small_tree, thread, tmp_path / "b4")
    (mbx,) = (tmp_path / "b4").glob("*.mbx")
    b4_text = mbx.read_text()
    assert run_cli("trailers", "--mbox", str(thread), cwd=project).code == 0
    patches = yaml.safe_load((project / "series/demo/series.yaml").read_text())["patches"]
    for trailer in ("Reviewed-by: Rev One <rev1@example.org>", "Acked-by: Ack Two <ack2@example.org>",
                    "Tested-by: Tess Three <t3@example.org>"):  # fmt: skip
        assert trailer in b4_text and trailer in patches[0]["trailers"]


def test_b4_shazam_merges_with_the_cover_letters_own_words_only(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree
) -> None:
    own = "Why it matters.\n\nA second paragraph, and a list:\n - one\n - two"
    applied_mail_project.mutate(lambda d: d["cover"].update(body=own))
    project = applied_mail_project.root
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "v1", cwd=project).code == 0
    mbox = _mbox(project / "v1", tmp_path / "v1.mbox")
    clone = tmp_path / "maintainer"
    subprocess.run(["git", "clone", "-q", str(small_tree.path), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-B", "main", "patchkit-base"], check=True)
    result = subprocess.run([B4, "--offline-mode", "shazam", "-M", "-m", str(mbox)], cwd=clone, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    message = subprocess.run(["git", "-C", str(clone), "log", "-1", "--format=%B"], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    # b4's merge template: title, "<sender> says:", the cover's message (what is above its first ---), Link
    assert message.startswith('Merge patch series "demo: Two small changes"\n'), message
    said = message.split(" says:\n\n", 1)[1].split("\n\nLink: ", 1)[0]
    assert said == own  # no changelog, no "Based on", no shortlog or diffstat, no base-commit/change-id
    merged = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD^2^{tree}"], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    assert merged == small_tree.tree_hash("patchkit/demo/v1")
