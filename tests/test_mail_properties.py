"""Property tests: the mbox reader, the trailer reader and header folding never fail but as patchkit errors."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from patchkit.errors import PatchkitError  # noqa: E402
from patchkit.mail.headers import fold  # noqa: E402
from patchkit.mail.mbox import read_mbox  # noqa: E402

PATCH = (
    "From 0 Mon Sep 17 00:00:00 2001\nFrom: A <a@example.org>\nDate: Tue, 3 Feb 2026 04:05:06 +0100\n"
    "Subject: [PATCH {k}/2] demo: thing\n\nWhy.\n\nSigned-off-by: A <a@example.org>\n---\n"
    "diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1,2 @@\n tiny tree\n+line\n\n"
)
pieces = st.sampled_from([
    PATCH.format(k=1), PATCH.format(k=2), PATCH.format(k=3), "From x\n", "Subject: =?utf-8?q?=FF=FE?=\n",
    "Content-Transfer-Encoding: base64\n", "Content-Type: multipart/mixed; boundary=x\n", "\n", "--x\n",
    "Subject: Re: [PATCH 1/2] demo\nIn-Reply-To: <a@b>\n\nReviewed-by: R <r@example.org>\n",
    "Subject: [PATCH v9 1/1] x\n", "diff --git a/b b/b\n", "@@ -1 +1 @@\n", "\r", "\x00", "é",
])  # fmt: skip
mboxes = st.lists(st.one_of(pieces, st.text(max_size=40)), max_size=12).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mboxes)
def test_read_mbox_raises_nothing_but_patchkit_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.mbox"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    try:
        series = read_mbox(path)
    except PatchkitError as exc:
        assert str(path) in exc.message  # the error names the mailbox
        return
    indexes = [p.index for p in series.patches]
    assert indexes == sorted(set(indexes))  # complete and without repeats, or refused


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=120), name=st.sampled_from(["Subject", "From", "To", "Cc", "X-Change-ID"]))
def test_fold_never_lets_a_value_start_a_new_header(value: str, name: str) -> None:
    try:
        folded = fold(name, value)
    except PatchkitError:
        assert any(c in value for c in "\r\n\x00") or any(ord(c) < 32 or ord(c) == 127 for c in value) \
            or len(value) > 2000 or name in ("To", "Cc", "From")  # fmt: skip
        return
    except (ValueError, IndexError, TypeError):
        pytest.fail(f"{name}: {value!r} escaped as a non-patchkit error")
    assert "\r" not in folded and folded.endswith("\n")
    lines = folded.rstrip("\n").split("\n")
    assert lines[0].startswith(f"{name}: ") or lines[0] == f"{name}:"
    assert all(line[:1] in (" ", "\t") for line in lines[1:])
    message = email.message_from_string(folded + "\nbody\n", policy=email.policy.default)
    assert list(message.keys()) == [name]  # one header, never two


@pytest.fixture(scope="module")
def demo_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers import DIFF_NEW_FILE, DIFF_README, write_series

    directory = tmp_path_factory.mktemp("props") / "series" / "demo"
    data = {
        "name": "demo", "revision": 1, "subject_prefix": "PATCH",
        "base": {"package": "linux-source-6.1", "version": "6.1.99", "tree": "0" * 40},
        "cover": {"subject": "demo: things", "body": "Why."},
        "patches": [
            {"subject": "README: Add a line", "author": {"name": "A", "email": "a@example.org"},
             "date": "2026-02-03T04:05:06+01:00", "diff": "0001.diff"},
            {"subject": "x86/virt: Add a Makefile", "author": {"name": "A", "email": "a@example.org"},
             "date": "2026-02-03T04:05:06+01:00", "diff": "0002.diff"},
        ],
    }  # fmt: skip
    return write_series(directory, data, {"0001.diff": DIFF_README, "0002.diff": DIFF_NEW_FILE})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mboxes)
def test_trailer_collection_raises_nothing_but_patchkit_errors(demo_series: Path, tmp_path: Path, text: str) -> None:
    from patchkit.mail.trailers import collect
    from patchkit.series.load import load_series

    series = load_series(demo_series)
    path = tmp_path / "replies.mbox"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    try:
        outcome = collect(series, path)
    except PatchkitError as exc:
        assert str(path) in exc.message
        return
    for patch in outcome.series.patches:
        assert len(patch.trailers) == len(set(patch.trailers))  # nothing twice
        assert all("\n" not in t and "\r" not in t for t in patch.trailers)
