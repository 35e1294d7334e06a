"""Mail-ready patches from the applied branch: `git format-patch` plus what the data knows.

git does the formatting; patchkit fills in what git cannot know: the cover
letter's subject and body, the changelog, the recipients, the range-diff
against the previous revision's branch, and (when asked) the Cc lines the
tree's own ``scripts/get_maintainer.pl`` suggests. Overlay patches are not on
the branch, so they can never be mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchkit import proc
from patchkit.applied import require_record
from patchkit.errors import DataError, GitError, TreeError
from patchkit.gitrepo import KernelTree
from patchkit.mail import outdir
from patchkit.matching import compare_branch
from patchkit.series.model import Series

_SUBJECT_PLACEHOLDER = "*** SUBJECT HERE ***"
_BLURB_PLACEHOLDER = "*** BLURB HERE ***"


@dataclass(frozen=True)
class Formatted:
    directory: Path
    files: list[Path]  # cover letter first
    range_diff_against: str | None  # the previous revision's branch, when there was one


def subject_prefix(series: Series) -> str:
    """``PATCH`` for v1, ``PATCH v2`` after: the list's convention."""
    return series.subject_prefix if series.revision == 1 else f"{series.subject_prefix} v{series.revision}"


def cover_blurb(series: Series) -> str:
    if series.cover is None:
        raise DataError(f"{series.directory}/series.yaml: cover: a series to mail needs a cover letter (subject, body)")
    parts = [series.cover.body.rstrip()]
    for entry in sorted(series.changelog, key=lambda e: e.revision, reverse=True):
        parts.append(f"Changes in v{entry.revision}:\n{entry.changes.rstrip()}")
    parts.append(f"Based on Debian's {series.base.package} ({series.base.version}).")
    return "\n\n".join(parts)


def fill_cover(text: str, subject: str, blurb: str) -> str:
    if _SUBJECT_PLACEHOLDER not in text or _BLURB_PLACEHOLDER not in text:
        raise GitError("git format-patch wrote a cover letter without its placeholders; cannot fill it in")
    return text.replace(_SUBJECT_PLACEHOLDER, subject, 1).replace(_BLURB_PLACEHOLDER, blurb, 1)


def maintainers_for(tree: KernelTree, patch_file: Path) -> list[str]:
    """Addresses the tree's get_maintainer.pl lists for one patch (no git history, no roles)."""
    script = tree.path / "scripts" / "get_maintainer.pl"
    if not script.is_file():
        raise TreeError(f"{tree.path}: no scripts/get_maintainer.pl in the checked-out tree")
    argv = ["perl", str(script), "--no-rolestats", "--no-git", "--no-git-fallback", "--no-tree", str(patch_file)]
    result = proc.run(argv, cwd=tree.path)
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise TreeError(f"{patch_file.name}: get_maintainer.pl failed: {detail[0]}")
    return [line.strip() for line in result.stdout.decode("utf-8", "replace").splitlines() if "@" in line]


def _add_cc(text: str, addresses: list[str]) -> str:
    """Add ``addresses`` to the one Cc: header of a mail (made when missing), skipping those already named."""
    head, sep, body = text.partition("\n\n")
    new = [a for a in addresses if a.lower() not in head.lower()]
    if not new:
        return text
    lines = head.split("\n")
    cc_at = next((i for i, line in enumerate(lines) if line.lower().startswith("cc:")), None)
    if cc_at is None:
        return head + "\nCc: " + ",\n    ".join(new) + sep + body
    end = cc_at + 1
    while end < len(lines) and lines[end][:1] in (" ", "\t"):  # folded continuation lines
        end += 1
    lines[end - 1] += "," + "".join(f"\n    {a}," for a in new).rstrip(",")
    return "\n".join(lines) + sep + body


def format_series(tree: KernelTree, series: Series, output: Path, *, cc_maintainers: bool = False) -> Formatted:
    """Write the cover letter and one mail per patch into ``output``, replacing only patchkit's own files."""
    state = compare_branch(tree, series)
    if not state.matches:
        raise TreeError(f"{tree.path}: {state.branch} {state.detail}; run 'patchkit apply --force' before formatting")
    record = require_record(tree, series.name)
    blurb = cover_blurb(series)  # a missing cover fails here, before git runs
    cover_subject = series.cover.subject if series.cover is not None else ""
    previous = f"patchkit/{series.name}/v{series.revision - 1}"
    range_diff = previous if series.revision > 1 and tree.rev_parse(f"refs/heads/{previous}") else None
    output = output.absolute()  # git runs in the tree, not here
    previous_files = outdir.prepare(output)
    with outdir.staging(output) as staging:
        argv = [
            "format-patch", "--cover-letter", "--thread=shallow", f"--subject-prefix={subject_prefix(series)}",
            "--no-signature", "-o", str(staging),
            *(f"--to={address}" for address in series.to), *(f"--cc={address}" for address in series.cc),
        ]  # fmt: skip
        if range_diff is not None:
            argv.append(f"--range-diff={record.base}..{previous}")
        names = tree.git(*argv, f"{record.base}..{record.tip}").split()
        files = [Path(name) for name in names]
        cover = files[0]
        cover.write_text(fill_cover(cover.read_text(encoding="utf-8"), cover_subject, blurb), encoding="utf-8")
        if cc_maintainers:
            everyone: list[str] = []
            for patch_file in files[1:]:
                addresses = maintainers_for(tree, patch_file)
                patch_file.write_text(_add_cc(patch_file.read_text(encoding="utf-8"), addresses), encoding="utf-8")
                everyone += [a for a in addresses if a not in everyone]
            cover.write_text(_add_cc(cover.read_text(encoding="utf-8"), everyone), encoding="utf-8")
        written = outdir.publish(output, files, previous_files)
    return Formatted(output, written, range_diff)

