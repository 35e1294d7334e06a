"""SIGKILL and SIGINT at every step of ``revise``, ``trailers`` and ``format -o`` (see killing.py).

After a SIGKILL (a power cut) the data is as it was or as the finished command leaves it, and running
the command again finishes the work: the result is the one an uninterrupted run gives, nothing of the
stopped run left behind. After a SIGINT (Ctrl-C) the command ends 130 with its one line, and what it
said is true: nothing is half done (the data as it was, or the command's whole work).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import GitTree, posted_v1, read_mail, run_cli
from tests.robustness.corpus import directory_snapshot
from tests.robustness.killing import fresh_copy, leftovers, require_strace, steps, stopped_at

INTERRUPTED = "patchkit: interrupted; nothing was left half done"
SIGNALS = [signal.SIGKILL, signal.SIGINT]


@pytest.fixture(autouse=True)
def _strace() -> None:
    require_strace()


def _series(project: Path) -> dict[str, Any]:
    """series.yaml as data, the dates of history records (the time of the run) left out."""
    data: dict[str, Any] = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    for record in data.get("history", []):
        record.pop("date", None)
    return data


def _state(project: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The series data and every file of the series directory but series.yaml (the snapshot, the diffs)."""
    files = directory_snapshot(project / "series/demo")
    files.pop("series.yaml")
    return _series(project), files


def _check_stopped(
    args: tuple[str, ...],
    template: Path,
    work: Path,
    before: object,
    after: object,
    state: Any,
    writes_from: str | None = None,
) -> None:
    """Stop ``patchkit ARGS`` at each of its steps with each signal; check the promise; rerun.

    ``writes_from``: a path whose first mention marks where the command starts writing; before it (format's
    lint and git reads, which write nothing of the user's) every eighth step is taken, from it on every one.
    """
    taken = steps(args, fresh_copy(template, work), work.parent / "trace")
    assert len(taken) >= 3
    first_write = next((i for i, step in enumerate(taken) if writes_from and writes_from in step.line), 0)
    for number, step in enumerate(taken, start=1):
        if number - 1 < first_write - 1 and number % 8:
            continue
        for signum in SIGNALS:
            project = fresh_copy(template, work)
            outcome = stopped_at(args, project, step, signum)
            where = f"{args[0]} stopped by {signal.Signals(signum).name} at step {number} of {len(taken)}: {step.line}"
            now = state(project)
            if signum == signal.SIGINT:
                assert outcome.code == 130, (where, outcome)
                assert outcome.err.splitlines()[-1:] == [INTERRUPTED], (where, outcome.err)
                assert now in (before, after), where  # nothing half done
                assert leftovers(project) == [], where
                continue
            assert outcome.code == -signal.SIGKILL, (where, outcome)
            if now == after:
                continue  # killed after its last write: done
            if isinstance(now, tuple):
                assert now[0] == before[0], where  # type: ignore[index]  # series.yaml is never half written
            rerun = run_cli(*args, cwd=project)
            assert rerun.code == 0, (where, rerun.err)
            assert state(project) == after, where
            assert leftovers(project) == [], where


def test_revise_stopped_at_every_step(tmp_path: Path, small_tree: GitTree) -> None:
    template, _ = posted_v1(tmp_path / "template", small_tree)
    before = _state(template)
    finished = fresh_copy(template, tmp_path / "finished")
    assert run_cli("revise", cwd=finished).code == 0
    after = _state(finished)
    assert after[0]["revision"] == 2 and before[0]["revision"] == 1
    _check_stopped(("revise",), template, tmp_path / "work" / "project", before, after, _state)


def test_a_killed_revise_is_finished_by_the_next_and_says_so(tmp_path: Path, small_tree: GitTree) -> None:
    """Killed after its snapshot, before series.yaml: the old code refused every later revise."""
    template, _ = posted_v1(tmp_path / "template", small_tree)
    work = tmp_path / "work" / "project"
    trace = steps(("revise",), fresh_copy(template, work), tmp_path / "trace")
    last = max(i for i, step in enumerate(trace) if "series/demo/.series.yaml." in step.line)
    project = fresh_copy(template, work)
    killed = stopped_at(("revise",), project, trace[last - 1], signal.SIGKILL)  # its fsync: the snapshot is whole
    assert killed.code == -signal.SIGKILL
    assert (project / "series/demo/history/v1/series.yaml").is_file() and _series(project)["revision"] == 1
    rerun = run_cli("revise", cwd=project)
    assert rerun.code == 0, rerun.err
    assert rerun.err == (
        "patchkit: history/v1 was written by a 'patchkit revise' that did not finish; finishing it now\n"
    )
    assert _series(project)["revision"] == 2 and leftovers(project) == []


def _reply_mbox(project: Path, v1: list[Path]) -> Path:
    first = read_mail(v1[1])
    mbox = project / "replies.mbox"
    mbox.write_text(
        "From reviewer Mon Sep 17 00:00:00 2001\nFrom: Rev One <rev1@example.org>\n"
        f"Subject: Re: {first['Subject']}\nDate: Thu, 05 Feb 2026 10:00:00 +0000\nMessage-ID: <r1@example.org>\n"
        f"In-Reply-To: {first['Message-ID']}\nReferences: {first['Message-ID']}\n\n"
        "Looks right.\n\nReviewed-by: Rev One <rev1@example.org>\n\n"
    )
    return mbox


def test_trailers_stopped_at_every_step(tmp_path: Path, small_tree: GitTree) -> None:
    template, v1 = posted_v1(tmp_path / "template", small_tree)
    _reply_mbox(template, v1)
    args = ("trailers", "--mbox", "replies.mbox")
    before = _state(template)
    finished = fresh_copy(template, tmp_path / "finished")
    assert run_cli(*args, cwd=finished).code == 0
    after = _state(finished)
    assert "Reviewed-by: Rev One <rev1@example.org>" in after[0]["patches"][0]["trailers"]
    _check_stopped(args, template, tmp_path / "work" / "project", before, after, _state)


def test_format_into_a_new_directory_stopped_at_every_step(tmp_path: Path, small_tree: GitTree) -> None:
    template, _ = posted_v1(tmp_path / "template", small_tree)
    args = ("format", "--tree", str(small_tree.path), "-o", "out")
    finished = fresh_copy(template, tmp_path / "finished")
    assert run_cli(*args, cwd=finished).code == 0  # also fills the lint cache: every run below takes the same steps
    after = directory_snapshot(finished / "out")
    assert sorted(after) == [".patchkit-format.json", "0000-cover-letter.patch", "0001-README-Add-a-second-line.patch",
                             "0002-x86-virt-Add-a-Makefile.patch"]  # fmt: skip

    def state(project: Path) -> dict[str, str]:
        return directory_snapshot(project / "out")

    work = tmp_path / "work" / "project"
    _check_stopped(args, template, work, {}, after, state, writes_from=str(work / "out"))


def test_format_over_an_earlier_output_stopped_at_every_step(tmp_path: Path, small_tree: GitTree) -> None:
    """Into v1/, which an earlier format wrote: stopped anywhere, the rerun recognises every file as its own."""
    template, _ = posted_v1(tmp_path / "template", small_tree)
    data = yaml.safe_load((template / "series/demo/series.yaml").read_text())
    data["cover"]["body"] = "A new cover text."
    (template / "series/demo/series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    args = ("format", "--tree", str(small_tree.path), "-o", "v1")
    before = directory_snapshot(template / "v1")
    finished = fresh_copy(template, tmp_path / "finished")
    assert run_cli(*args, cwd=finished).code == 0
    after = directory_snapshot(finished / "v1")
    assert after != before

    def state(project: Path) -> dict[str, str]:
        return directory_snapshot(project / "v1")

    work = tmp_path / "work" / "project"
    _check_stopped(args, template, work, before, after, state, writes_from=str(work / "v1"))
