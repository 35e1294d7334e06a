"""import --mbox on real archives: newest revision, complete series, existing data kept, generated text left out."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.helpers import GitTree, run_cli, write_mail_series


def _formatted(project: Path, tree: GitTree, out: str, *extra: str) -> list[Path]:
    assert run_cli("apply", "--tree", str(tree.path), cwd=project).code == 0
    result = run_cli("format", "--tree", str(tree.path), "-o", out, *extra, cwd=project)
    assert result.code == 0, result.err
    return sorted((project / out).glob("*.patch"))


def _mbox(path: Path, mails: list[Path]) -> Path:
    path.write_bytes(b"".join(m.read_bytes() for m in mails))
    return path


def _v1_and_v2(tmp_path: Path, tree: GitTree) -> tuple[Path, list[Path], list[Path]]:
    project = tmp_path / "project"
    write_mail_series(project, tree)
    v1 = _formatted(project, tree, "v1")
    write_mail_series(project, tree, revision=2)
    yaml_path = project / "series/demo/series.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("Explain why.", "Explain why, better."))
    v2 = _formatted(project, tree, "v2")
    return project, v1, v2


def _data(series_dir: Path) -> dict[str, object]:
    loaded = yaml.safe_load((series_dir / "series.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_newest_revision_is_imported_and_the_others_named(tmp_path: Path, small_tree: GitTree) -> None:
    _, v1, v2 = _v1_and_v2(tmp_path, small_tree)
    mbox = _mbox(tmp_path / "both.mbox", v1 + v2)
    result = run_cli("import", "--mbox", str(mbox), "--tree", str(small_tree.path), "--name", "new", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "also holds v1; imported the newest, v2" in result.out
    data = _data(tmp_path / "series/new")
    assert data["revision"] == 2
    patches = data["patches"]
    assert isinstance(patches, list) and len(patches) == 2
    assert patches[0]["body"] == "Explain why, better."


def test_a_missing_patch_is_an_error_naming_it(tmp_path: Path, small_tree: GitTree) -> None:
    _, v1, _ = _v1_and_v2(tmp_path, small_tree)
    mbox = _mbox(tmp_path / "gap.mbox", [v1[0], v1[2]])
    result = run_cli("import", "--mbox", str(mbox), "--tree", str(small_tree.path), "--name", "new", cwd=tmp_path)
    assert result.code == 3
    assert "v1 patch 1/2 missing: the mailbox has 1 of 2" in result.err
    assert not (tmp_path / "series/new").exists()


def test_a_duplicate_patch_is_an_error_naming_it(tmp_path: Path, small_tree: GitTree) -> None:
    _, v1, _ = _v1_and_v2(tmp_path, small_tree)
    twin = tmp_path / "twin.patch"  # patch 1 twice, two different versions of it
    other = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <other@example.org>", v1[1].read_bytes())
    twin.write_bytes(other.replace(b"Explain why.", b"Explain why, differently."))
    mbox = _mbox(tmp_path / "dup.mbox", [*v1, twin])
    result = run_cli("import", "--mbox", str(mbox), "--tree", str(small_tree.path), "--name", "new", cwd=tmp_path)
    assert result.code == 3
    assert "v1 patch 1/2 (README: Add a second line) appears 2 times (messages 2 and 4)" in result.err
    # the very same mail twice (same Message-ID, or resent under another) is just one mail
    resent = tmp_path / "resent.patch"
    resent.write_bytes(re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <again@example.org>", v1[1].read_bytes()))
    mbox = _mbox(tmp_path / "same.mbox", [*v1, v1[1], resent])
    result = run_cli("import", "--mbox", str(mbox), "--tree", str(small_tree.path), "--name", "new", cwd=tmp_path)
    assert result.code == 0, result.err


def test_import_into_an_existing_series_keeps_what_mail_cannot_say(tmp_path: Path, small_tree: GitTree) -> None:
    project, _, v2 = _v1_and_v2(tmp_path, small_tree)
    series_dir = project / "series/demo"
    data = _data(series_dir)
    patches = data["patches"]
    assert isinstance(patches, list)
    patches[0]["suppress"] = [{"rule": "hygiene/body-wrap", "reason": "kept on purpose"}]
    data["configs"] = [{"name": "guest", "fragment": "guest.config"}]
    (series_dir / "guest.config").write_text("CONFIG_X=y\n")
    (series_dir / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    overlay_diff = (series_dir / "0003-overlay.diff").read_bytes()
    result = run_cli("import", "--mbox", str(_mbox(tmp_path / "v2.mbox", v2)), "--series", str(series_dir),
                     cwd=project)  # fmt: skip
    assert result.code == 0, result.err
    after = _data(series_dir)
    kept = after["patches"]
    assert isinstance(kept, list) and len(kept) == 3
    assert kept[2]["overlay"] is True and (series_dir / kept[2]["diff"]).read_bytes() == overlay_diff
    assert kept[0]["suppress"] == [{"rule": "hygiene/body-wrap", "reason": "kept on purpose"}]
    assert after["configs"] == data["configs"] and after["to"] == data["to"] and after["cc"] == data["cc"]
    assert "1 overlay" in result.out


def test_generated_cover_text_is_recognised_and_left_out(tmp_path: Path, small_tree: GitTree) -> None:
    _, _, v2 = _v1_and_v2(tmp_path, small_tree)
    mbox = _mbox(tmp_path / "v2.mbox", v2)
    result = run_cli("import", "--mbox", str(mbox), "--tree", str(small_tree.path), "--name", "demo", cwd=tmp_path)
    assert result.code == 0, result.err
    data = _data(tmp_path / "series/demo")
    assert data["cover"] == {"subject": "demo: Two small changes", "body": "Why it matters."}
    assert data["changelog"] == [{"revision": 1, "changes": "First posting."},
                                 {"revision": 2, "changes": "Reworded the cover."}]  # fmt: skip
    # formatting the imported data does not repeat anything
    assert run_cli("apply", "--tree", str(small_tree.path), "--force", cwd=tmp_path).code == 0
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "again", cwd=tmp_path)
    assert result.code == 0, result.err
    body = (tmp_path / "again/0000-cover-letter.patch").read_text()
    assert body.count("Changes in v1:") == 1 and body.count("Based on Debian's") == 1
    assert body.count("base-commit:") == 1 and body.count("change-id:") == 1


def test_a_name_that_escapes_series_is_refused(tmp_path: Path, small_tree: GitTree) -> None:
    _, v1, _ = _v1_and_v2(tmp_path, small_tree)
    mbox = _mbox(tmp_path / "v1.mbox", v1)
    for name in ("../escaped", "/abs", "Upper", ".hidden"):
        result = run_cli("import", "--mbox", str(mbox), "--tree", str(small_tree.path), "--name", name, cwd=tmp_path)
        assert result.code == 2 and f"--name {name!r}: a series name is" in result.err
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "series").exists()
