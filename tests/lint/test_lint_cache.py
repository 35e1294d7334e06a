"""Lint results cached by content: a hit says so, a changed patch or lint.yaml misses, a corrupt entry is
ignored with a warning, and --fresh (a cache that does not answer) lints again."""

from __future__ import annotations

from pathlib import Path

from patchkit.lint.cache import lint_key
from patchkit.lint.engine import lint_series
from patchkit.lint.output import render
from patchkit.util.store import VerdictCache
from tests.lint.synthetic import PATCH1, PATCH2, PATCH3, Built, build


def _cache(tmp_path: Path, warnings: list[str] | None = None, enabled: bool = True) -> VerdictCache:
    sink = warnings if warnings is not None else []
    return VerdictCache(tmp_path / "verdicts", enabled=enabled, warn=sink.append)


def _lint(built: Built, cache: VerdictCache) -> tuple[str | None, list[tuple[str, str, int, str]]]:
    report = lint_series(built.tree, built.series, built.record, checkpatch=False, cache=cache)
    return report.cached, [(f.rule, f.path, f.line, f.status) for f in report.findings]


def _bad_patch3() -> dict[str, str]:
    text = PATCH3["arch/x86/kvm/vmx/tdx.c"]
    return {"arch/x86/kvm/vmx/tdx.c": text.replace("#include <asm/tdx.h>\n", "#include <asm/tdx.h>   \n")}


def test_a_second_run_on_the_same_content_is_a_hit_and_says_so(tmp_path: Path) -> None:
    built = build(tmp_path / "a", [PATCH1, PATCH2, _bad_patch3()])
    cache = _cache(tmp_path)
    first, findings = _lint(built, cache)
    assert first is None and findings  # computed: the trailing whitespace is found
    again, cached_findings = _lint(built, cache)
    assert again is not None and again.startswith("cached, computed ") and " on " in again
    assert cached_findings == findings
    report = lint_series(built.tree, built.series, built.record, checkpatch=False, cache=cache)
    assert report.cached is not None and report.cached in render(report, "text", {})
    fresh, fresh_findings = _lint(built, _cache(tmp_path, enabled=False))  # --fresh
    assert fresh is None and fresh_findings == findings


def test_a_changed_patch_misses(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    assert _lint(build(tmp_path / "a"), cache)[0] is None
    changed, findings = _lint(build(tmp_path / "c", [PATCH1, PATCH2, _bad_patch3()]), cache)
    assert changed is None and any(rule == "hygiene/whitespace" for rule, *_ in findings)


def test_a_changed_lint_yaml_misses(tmp_path: Path) -> None:
    built = build(tmp_path / "a")
    cache = _cache(tmp_path)
    _lint(built, cache)
    assert _lint(built, cache)[0] is not None
    (built.series.directory / "lint.yaml").write_text("disable: [tdx/grouping-comment-class]\n", encoding="utf-8")
    assert _lint(built, cache)[0] is None
    assert _lint(built, cache)[0] is not None


def test_checkpatch_or_not_is_part_of_the_key(tmp_path: Path) -> None:
    built = build(tmp_path / "a")
    keys = {lint_key(built.series, built.record, "series.yaml", checkpatch) for checkpatch in (True, False)}
    assert len(keys) == 2


def test_a_corrupt_entry_is_ignored_with_a_warning(tmp_path: Path) -> None:
    built = build(tmp_path / "a", [PATCH1, PATCH2, _bad_patch3()])
    warnings: list[str] = []
    cache = _cache(tmp_path, warnings)
    _, findings = _lint(built, cache)
    (entry,) = [p for p in (tmp_path / "verdicts").rglob("*.json")]
    entry.write_text(entry.read_text(encoding="utf-8").replace("hygiene/whitespace", "hygiene/whitespacX"))
    again, recomputed = _lint(built, cache)
    assert again is None and recomputed == findings
    assert len(warnings) == 1 and "corrupt or truncated; ignored" in warnings[0]
    assert _lint(built, cache)[0] is not None  # replaced by the fresh result
