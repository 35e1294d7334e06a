"""Patch hygiene rules on the series data: subject, sign-off, trailers, body, added whitespace."""

from __future__ import annotations

import re

from patchkit.lint.model import Hit
from patchkit.lint.registry import emits
from patchkit.series.model import Patch


def _hit(rule: str, message: str, path: str | None = None, line: int = 0) -> Hit:
    """A hit on the patch: on its entry in series.yaml (``path`` None), or on a line its diff adds."""
    return Hit(rule, path, line, message)


_SUBJECT = re.compile(r"^(?P<area>[\w.+/,\- ]*[\w.+]): (?P<summary>\S.*)$")
_PERSON_TRAILERS = {
    "signed-off-by", "co-developed-by", "reviewed-by", "acked-by", "tested-by", "reported-by",
    "suggested-by", "originally-by", "reviewed-and-tested-by", "cc",
}  # fmt: skip
_PERSON = re.compile(r"^[^<>]+ <[^<>@\s]+@[^<>\s]+>(\s*#.*)?$|^<[^<>@\s]+@[^<>\s]+>$")
_FIXES = re.compile(r'^[0-9a-f]{12,40} \(".+"\)$')
_TRAILER = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9-]*): (?P<value>.+)$")
_BEFORE_SOB = ("fixes", "reported-by", "closes", "suggested-by", "originally-by")
MAX_SUBJECT = 75
MAX_BODY = 75


def check_patch(patch: Patch, diff_text: str) -> list[Hit]:
    hits: list[Hit] = []
    hits.extend(_subject(patch.subject))
    hits.extend(_trailers(patch))
    hits.extend(_body(patch.body))
    hits.extend(added_whitespace(diff_text))
    return hits


@emits("hygiene/subject-form", "hygiene/subject-length")
def _subject(subject: str) -> list[Hit]:
    hits = []
    m = _SUBJECT.match(subject)
    if m is None:
        hits.append(_hit("hygiene/subject-form", f"subject '{subject}' is not of the form 'area: Summary'"))
    else:
        summary = m.group("summary")
        if not summary[0].isupper() and not summary[0].isdigit() and not summary.startswith("__"):
            hits.append(_hit("hygiene/subject-form", f"summary '{summary}' should start with a capital letter"))
        if summary.endswith("."):
            hits.append(_hit("hygiene/subject-form", f"summary '{summary}' should not end with a period"))
    if len(subject) > MAX_SUBJECT:
        hits.append(_hit("hygiene/subject-length", f"subject is {len(subject)} characters (at most {MAX_SUBJECT})"))
    return hits


@emits("hygiene/trailer-format", "hygiene/signed-off-by", "hygiene/trailer-order")
def _trailers(patch: Patch) -> list[Hit]:
    hits: list[Hit] = []
    parsed: list[tuple[str, str]] = []
    for trailer in patch.trailers:
        m = _TRAILER.match(trailer)
        if m is None:
            hits.append(_hit("hygiene/trailer-format", f"trailer '{trailer}' is not 'Key: value'"))
            continue
        key, value = m.group("key").lower(), m.group("value").strip()
        parsed.append((key, value))
        if key in _PERSON_TRAILERS and not _PERSON.match(value):
            hits.append(_hit("hygiene/trailer-format", f"trailer '{trailer}' should name 'Full Name <email>'"))
        elif key == "fixes" and not _FIXES.match(value):
            hits.append(_hit("hygiene/trailer-format", f"trailer '{trailer}' should be "
                                 "'Fixes: <12+ hex digits> (\"subject\")'"))  # fmt: skip
        elif key in ("link", "closes") and not value.startswith(("http://", "https://")):
            hits.append(_hit("hygiene/trailer-format", f"trailer '{trailer}' should carry a URL"))
    sobs = [v for k, v in parsed if k == "signed-off-by"]
    author = patch.author.ident()
    if not sobs:
        hits.append(_hit("hygiene/signed-off-by", "no Signed-off-by trailer"))
    elif not any(_same_person(s, author) for s in sobs):
        hits.append(_hit("hygiene/signed-off-by", f"no Signed-off-by matches the author {author}"))
    first_sob = next((i for i, (k, _v) in enumerate(parsed) if k == "signed-off-by"), None)
    for i, (key, value) in enumerate(parsed):
        if key in _BEFORE_SOB and first_sob is not None and i > first_sob:
            hits.append(_hit("hygiene/trailer-order", f"'{key}' trailer should come before the first "
                                 "Signed-off-by"))  # fmt: skip
        if key == "fixes" and any(k != "fixes" for k, _v in parsed[:i]):
            hits.append(_hit("hygiene/trailer-order", "Fixes: should be the first trailer"))
        if key == "co-developed-by":
            nxt = parsed[i + 1] if i + 1 < len(parsed) else None
            if nxt is None or nxt[0] != "signed-off-by" or not _same_person(nxt[1], value):
                hits.append(_hit("hygiene/trailer-order", f"Co-developed-by: {value} must be followed at once by "
                                     "that person's Signed-off-by"))  # fmt: skip
    return hits


def _same_person(a: str, b: str) -> bool:
    def email(text: str) -> str:
        m = re.search(r"<([^>]+)>", text)
        return (m.group(1) if m else text).strip().lower()

    def name(text: str) -> str:
        return text.split("<", 1)[0].strip().lower()

    return email(a) == email(b) and name(a) == name(b)


@emits("hygiene/body-missing", "hygiene/body-wrap")
def _body(body: str) -> list[Hit]:
    if not body.strip():
        return [_hit("hygiene/body-missing", "the commit message has no body explaining why")]
    hits = []
    for number, line in enumerate(body.splitlines(), start=1):
        if len(line) <= MAX_BODY or line.startswith((" ", "\t")) or re.search(r"https?://\S{40,}", line):
            continue  # quoted output, logs and long URLs are left as they are
        hits.append(_hit("hygiene/body-wrap", f"body line {number} is {len(line)} characters (wrap at "
                             f"{MAX_BODY}): '{line[:40]}...'"))  # fmt: skip
    return hits


@emits("hygiene/whitespace")
def added_whitespace(diff_text: str) -> list[Hit]:
    """Trailing whitespace, space before tab, and spaces instead of a tab indent, on added lines."""
    hits: list[Hit] = []
    path = ""
    new_line = 0
    for raw in diff_text.splitlines():
        if raw.startswith("+++ "):
            path = raw[6:] if raw.startswith("+++ b/") else ""
            continue
        if raw.startswith("@@"):
            m = re.match(r"^@@ -\d+(?:,\d+)? \+(\d+)", raw)
            new_line = int(m.group(1)) if m else 0
            continue
        if not path or raw.startswith(("diff ", "index ", "--- ", "new file", "deleted file", "similarity")):
            continue
        if raw.startswith("+"):
            text = raw[1:]
            if text != text.rstrip():
                hits.append(_hit("hygiene/whitespace", "trailing whitespace on an added line", path, new_line))
            elif " \t" in text[: len(text) - len(text.lstrip())]:
                hits.append(_hit("hygiene/whitespace", "space before tab in the indent of an added line", path,
                                     new_line))  # fmt: skip
            elif path.endswith((".c", ".h", ".S")) and text.startswith(" " * 8) and not text.lstrip().startswith("*"):
                hits.append(_hit("hygiene/whitespace", "added line indented with spaces instead of tabs", path,
                                     new_line))  # fmt: skip
            new_line += 1
        elif raw.startswith(" ") or raw == "":
            new_line += 1
    return hits
