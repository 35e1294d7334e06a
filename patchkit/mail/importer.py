"""Turn a branch or a mailbox into series data (the inverse of apply).

Into an existing series directory only the patches are replaced; everything a
branch cannot say (name, revision, base package, recipients, cover letter,
changelog, configs, history and its snapshots, overlays, and each patch's own
data: suppressions, trailer provenance) is kept, each old patch's data going to
the new patch that is the same change, else has its subject, else its place
(:func:`carry_over`). That is the edit step of the list loop: edit the patches
on the branch with git, import the branch back. Diff files are named and
produced canonically, so apply → import gives byte-identical data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from patchkit.errors import DataError, GitError, UsageError
from patchkit.mail.format import BASED_ON, SEPARATOR, SIGNED_OFF_BY
from patchkit.mail.mbox import read_mbox
from patchkit.series import patchids
from patchkit.series.diffcheck import check_diff
from patchkit.series.dump import diff_file_name, write_series
from patchkit.series.load import SERIES_FILE, load_series
from patchkit.series.message import parse_message
from patchkit.series.model import Base, ChangelogEntry, Cover, KconfigSpec, Patch, Person, Series
from patchkit.tree.basetree import kernel_version_of_makefile
from patchkit.tree.repo import KernelTree
from patchkit.util.signals import deferred_interrupts

_FORMAT = "%an%x00%ae%x00%aI%x00%B"


def import_range(
    tree: KernelTree,
    rev_range: str,
    directory: Path,
    *,
    name: str | None,
    package: str,
    overlay_tip: str | None,
    package_version: str = "",
) -> RangeImport:
    """The commits ``BASE..TIP`` (and ``TIP..overlay_tip`` as overlays) as the series in ``directory``.

    Into an existing series (the edit step of the list loop: edit on the branch, import it back)
    everything but the patches is kept, and each patch keeps what the data adds to its commit
    (suppressions, trailer provenance; see :func:`carry_over`).
    """
    base_rev, sep, tip_rev = rev_range.partition("..")
    if not sep or not base_rev or not tip_rev or tip_rev.startswith("."):
        raise UsageError(f"--range {rev_range}: expected BASE..TIP")
    base = _commit(tree, base_rev)
    tip = _commit(tree, tip_rev)
    commits = _linear_commits(tree, base, tip)
    if not commits:
        raise UsageError(f"--range {rev_range}: no commits between {base_rev} and {tip_rev}")
    overlays = _linear_commits(tree, tip, _commit(tree, overlay_tip)) if overlay_tip else []
    existing = _existing(directory)
    patches: list[Patch] = []
    diffs: dict[str, bytes] = {}
    for number, commit in enumerate(commits + overlays, start=1):
        patch, diff = _patch_from_commit(tree, commit, number, overlay=number > len(commits))
        patches.append(patch)
        diffs[patch.diff] = diff
    carried = carry_over(existing, patches, diffs)
    configs, moved_notes = follow_since(existing, carried)
    patches, notes = carried.patches, carried.notes + moved_notes
    base_tree = tree.tree_of(base)
    assert base_tree is not None  # base is a commit
    makefile = tree.git("show", f"{base}:Makefile", check=False)
    version = kernel_version_of_makefile(makefile)
    series = _assemble(existing, directory, name, Base(package, version, base_tree, package_version), patches, configs)
    if not overlay_tip and existing is not None and existing.overlay_patches:
        # Overlays are never on the branch: keep the ones the series already has.
        kept = _renumber(existing.overlay_patches, len(patches) + 1)
        for patch in existing.overlay_patches:
            diffs[patch.diff] = existing.diff_bytes(patch)
        series = replace(series, patches=series.patches + kept)
    _write(existing, series, diffs)
    return RangeImport(series, tuple(notes))


_CHANGES = re.compile(r"^Changes in v(?P<rev>\d+):\s*$")
_LINK = re.compile(r"^- Link to v\d+: \S+\s*$")


def split_cover(body: str) -> tuple[str, list[ChangelogEntry]]:
    """The cover's own words, and the changelog ``format`` generated into it (recognised, taken out).

    ``format`` writes the body and the sender's sign-off, then a ``---`` line (b4's layout),
    then "Changes in vN:" sections (newest first, each perhaps ending in "- Link to vN-1:
    URL"), then "Based on Debian's ...". Importing that text back into the body would
    repeat it on the next format, so it becomes changelog entries (without the links,
    which format makes again) instead; the sign-off and the separator are dropped.
    """
    lines = body.split("\n")
    start = next((i for i, line in enumerate(lines) if _CHANGES.match(line) or line.startswith(BASED_ON)), None)
    if start is None:
        return body, []
    own_lines = "\n".join(lines[:start]).strip("\n").split("\n")
    if own_lines[-1] == SEPARATOR:
        own_lines.pop()
    own = "\n".join(own_lines).strip("\n")
    paragraphs = own.split("\n\n")
    if len(paragraphs) > 1 and "\n" not in paragraphs[-1] and paragraphs[-1].startswith(SIGNED_OFF_BY):
        own = "\n\n".join(paragraphs[:-1])  # the sign-off format ends the cover with (format adds it again)
    entries: list[ChangelogEntry] = []
    current: int | None = None
    text: list[str] = []
    for line in [*lines[start:], BASED_ON]:
        match = _CHANGES.match(line)
        if match or line.startswith(BASED_ON):
            if current is not None:
                entries.append(ChangelogEntry(current, "\n".join(text).strip("\n")))
            if not match:
                break
            current, text = int(match["rev"]), []
        elif not _LINK.match(line):
            text.append(line)
    return own, sorted(entries, key=lambda e: e.revision)


@dataclass(frozen=True)
class RangeImport:
    series: Series
    notes: tuple[str, ...]  # how the existing patches' own data was carried over (see carry_over)


@dataclass(frozen=True)
class MboxImport:
    series: Series
    other_revisions: tuple[int, ...]
    replies: int
    notes: tuple[str, ...] = ()


def import_mbox(mbox: Path, directory: Path, *, name: str | None, base: Base | None) -> MboxImport:
    mail = read_mbox(mbox)
    existing = _existing(directory)
    if base is None and existing is None:
        raise UsageError("--mbox: say which base: an existing --series directory, or --tree PATH [--base REV]")
    patches: list[Patch] = []
    diffs: dict[str, bytes] = {}
    for number, mail_patch in enumerate(mail.patches, start=1):
        check_diff(Path(f"{mbox}: patch {mail_patch.index} ({mail_patch.subject})"), mail_patch.diff)
        patch = Patch(
            number=number,
            subject=mail_patch.subject,
            author=mail_patch.author,
            date=mail_patch.date,
            body=mail_patch.body,
            trailers=mail_patch.trailers,
            diff=diff_file_name(number, mail_patch.subject),
        )
        patches.append(patch)
        diffs[patch.diff] = mail_patch.diff
    carried = carry_over(existing, patches, diffs)
    configs, moved_notes = follow_since(existing, carried)
    patches, notes = carried.patches, carried.notes + moved_notes
    chosen_base = base or (existing.base if existing else None)
    assert chosen_base is not None
    series = _assemble(existing, directory, name, chosen_base, patches, configs)
    if existing is not None and existing.overlay_patches:
        # Overlays are never mailed: keep the ones the series already has, after the mailed patches.
        kept = _renumber(existing.overlay_patches, len(patches) + 1)
        for old in existing.overlay_patches:
            diffs.setdefault(old.diff, existing.diff_bytes(old))
        series = replace(series, patches=series.patches + kept)
    if mail.revision:
        series = replace(series, revision=mail.revision)
    if mail.subject_prefix:
        series = replace(series, subject_prefix=mail.subject_prefix)
    if mail.change_id and series.change_id is None:
        series = replace(series, change_id=mail.change_id)  # the posted series' identity, as b4 reads it
    if mail.cover_subject is not None:
        own, changes = split_cover(mail.cover_body or "")
        known = {entry.revision for entry in series.changelog}
        changelog = sorted([*series.changelog, *(c for c in changes if c.revision not in known)],
                           key=lambda e: e.revision)  # fmt: skip
        series = replace(series, cover=Cover(mail.cover_subject, own), changelog=tuple(changelog))
    _write(existing, series, diffs)
    return MboxImport(series, mail.other_revisions, mail.replies, tuple(notes))


def _commit(tree: KernelTree, rev: str) -> str:
    commit = tree.rev_parse(f"{rev}^{{commit}}")
    if commit is None:
        raise UsageError(f"{tree.path}: no commit '{rev}'")
    return commit


def _linear_commits(tree: KernelTree, base: str, tip: str) -> list[str]:
    # One rev-list gives each commit with its parents: the merges and the first commit's parent come with it.
    lines = [
        line.split()
        for line in tree.git("rev-list", "--reverse", "--topo-order", "--parents", f"{base}..{tip}").splitlines()
    ]
    merges = [commit for commit, *parents in lines if len(parents) > 1]
    if merges:
        raise DataError(
            f"{tree.path}: {base[:12]}..{tip[:12]} contains merge commit {merges[-1][:12]}; a series is linear"
        )
    if lines and lines[0][1:] != [base]:
        raise DataError(f"{tree.path}: {base[:12]} is not an ancestor of {tip[:12]}")
    return [commit for commit, *_ in lines]


def _patch_from_commit(tree: KernelTree, commit: str, number: int, *, overlay: bool) -> tuple[Patch, bytes]:
    raw = tree.git_bytes("log", "-1", "--encoding=UTF-8", f"--format={_FORMAT}", commit)
    try:
        name, email, date, message = raw.decode("utf-8").split("\0", 3)
    except UnicodeDecodeError as exc:
        raise DataError(f"{tree.path}: commit {commit[:12]}: author or message is not valid UTF-8") from exc
    message = message.removesuffix("\n")  # --format adds one newline after %B
    parsed = parse_message(message)
    diff = tree.git_bytes("diff-tree", "-p", "--no-renames", "--no-ext-diff", "--no-textconv", f"{commit}^", commit)
    patch = Patch(
        number=number,
        subject=parsed.subject,
        author=Person(name, email),
        date=date,
        body=parsed.body,
        trailers=parsed.trailers,
        diff=diff_file_name(number, parsed.subject),
        overlay=overlay,
    )
    if patch.message() != message:
        raise DataError(
            f"{tree.path}: commit {commit[:12]} ({parsed.subject}): message is not in subject/body/trailers form "
            "(a subject over several lines, or stray blank lines or spaces); reword it and import again"
        )
    check_diff(Path(f"{tree.path}: commit {commit[:12]}"), diff)
    return patch, diff


def _existing(directory: Path) -> Series | None:
    if not (directory / SERIES_FILE).is_file():
        return None
    return load_series(directory, check_files=False)


# What a commit (or a mail) says about a patch; everything else in a patch's data is patchkit's own.
_FROM_COMMIT = ("number", "subject", "author", "date", "body", "trailers", "diff", "overlay")


@dataclass(frozen=True)
class Carried:
    """The new patches with the old ones' own data, what was said about it, and where each old mailed patch went."""

    patches: list[Patch]
    notes: list[str]
    moved: dict[int, int]  # old mailed patch number -> the new one's (absent: no new patch is that patch)


def carry_over(existing: Series | None, patches: list[Patch], diffs: dict[str, bytes]) -> Carried:
    """``patches`` (fresh from commits or mails) with what the existing data kept beside each old patch.

    A new patch takes over an old one's own data (suppressions, trailer provenance, and any other key a
    commit cannot hold) when it is the same change (``git patch-id --stable``: reordered or reworded), else
    when it has the same subject (its diff was edited), else when it sits at the same place in a series of
    the same length (both edited). Provenance stays only for trailers the commit still has. Returns the
    patches, a note for each patch whose own data was carried over or left behind, and the old mailed
    patches' new numbers (what a config's ``since`` follows, see :func:`follow_since`).
    """
    if existing is None:
        return Carried(patches, [], {})
    out = list(patches)
    notes: list[str] = []
    moved: dict[int, int] = {}
    # Overlays are never on a branch or in a mail: unless overlays were imported too, they are kept as they are.
    for overlay in (False, True) if any(p.overlay for p in patches) else (False,):
        old = [p for p in existing.patches if p.overlay == overlay]
        where = [i for i, p in enumerate(patches) if p.overlay == overlay]
        old_ids = [_patch_id_of_file(existing, p) for p in old]
        new_ids = [patchids.patch_id(diffs[patches[i].diff]) for i in where]
        pairs = _match([patches[i] for i in where], new_ids, old, old_ids)
        for position, (old_patch, how) in pairs.items():
            out[where[position]], note = _take_over(patches[where[position]], old_patch, how)
            notes += [note] if note else []
            if not overlay:
                moved[old_patch.number] = patches[where[position]].number
        taken = {id(old_patch) for old_patch, _ in pairs.values()}
        for gone in (p for p in old if id(p) not in taken and (p.suppress or p.provenance)):
            notes.append(f"{gone.label()} is no longer in the series: its suppressions and provenance went with it")
    return Carried(out, notes, moved)


def follow_since(existing: Series | None, carried: Carried) -> tuple[tuple[KconfigSpec, ...], list[str]]:
    """The existing configs with each ``since`` (a patch number) following the patch it named to its new place.

    A config whose ``since`` names a patch no new patch is (dropped, or changed beyond matching) is refused
    (:class:`DataError`, nothing written): which patch introduces its options now is the user's call.
    """
    if existing is None:
        return (), []
    configs: list[KconfigSpec] = []
    notes: list[str] = []
    for index, config in enumerate(existing.configs):
        if not config.since:
            configs.append(config)
            continue
        named = existing.mailed_patches[config.since - 1]
        new = carried.moved.get(config.since)
        if new is None:
            where = f"{existing.directory / SERIES_FILE}:{existing.line('configs', index, 'since')}"
            raise DataError(
                f"{where}: configs[{index}].since: {config.since} names {named.label()}, which the imported "
                "patches no longer have (dropped, or not the same change, subject or place); nothing was "
                f"written: set since to the patch that now introduces what config {config.name} needs "
                "(0: the base) and import again"
            )
        if new != config.since:
            notes.append(f"config {config.name}: since {config.since} -> {new} (follows {named.subject})")
        configs.append(replace(config, since=new))
    return tuple(configs), notes


def _patch_id_of_file(series: Series, patch: Patch) -> str | None:
    try:
        return patchids.patch_id(series.diff_bytes(patch))
    except OSError:
        return None  # a diff file gone from the old data: match that patch by subject or place


def _match(
    new: list[Patch], new_ids: list[str], old: list[Patch], old_ids: list[str | None]
) -> dict[int, tuple[Patch, str]]:
    """new position -> (old patch, how they were matched), each old patch taken at most once."""
    pairs: dict[int, tuple[Patch, str]] = {}
    free = list(range(len(old)))
    rules: list[tuple[str, Callable[[int, int], bool]]] = [
        ("same change", lambda n, o: old_ids[o] == new_ids[n]),
        ("same subject", lambda n, o: old[o].subject == new[n].subject),
        ("same place", lambda n, o: n == o and len(new) == len(old)),
    ]
    for how, same in rules:
        for position in range(len(new)):
            if position not in pairs:
                found = next((o for o in free if same(position, o)), None)
                if found is not None:
                    pairs[position] = (old[found], how)
                    free.remove(found)
    return pairs


def _take_over(new: Patch, old: Patch, how: str) -> tuple[Patch, str]:
    """``new`` with ``old``'s own data; a note saying so when there was any."""
    merged = replace(old, **{name: getattr(new, name) for name in _FROM_COMMIT})
    kept = tuple(source for source in old.provenance if source.trailer in new.trailers)
    merged = replace(merged, provenance=kept)
    if not old.suppress and not old.provenance:
        return merged, ""
    carried = [f"{len(old.suppress)} suppression(s)"] if old.suppress else []
    carried += [f"the provenance of {len(kept)} trailer(s)"] if kept else []
    was = f" (was {old.label()})" if old.subject != new.subject else ""
    was = was or (f" (was patch {old.number})" if old.number != new.number else "")
    note = f"{new.label()}{was}: kept {' and '.join(carried) or 'nothing'}, matched by {how}"
    if len(old.provenance) > len(kept):
        note += f"; dropped the provenance of {len(old.provenance) - len(kept)} trailer(s) the commit no longer has"
    if how != "same change" and kept:
        note += "; its diff changed: remove any review trailer the change invalidates (reword, import again)"
    return merged, note


def _renumber(patches: tuple[Patch, ...], start: int) -> tuple[Patch, ...]:
    return tuple(replace(p, number=n) for n, p in enumerate(patches, start=start))


def _assemble(
    existing: Series | None,
    directory: Path,
    name: str | None,
    base: Base,
    patches: list[Patch],
    configs: tuple[KconfigSpec, ...],
) -> Series:
    if existing is not None:
        # The exact package version stays only while the base content does, unless the tree names its own.
        same = base.tree == existing.base.tree
        known = base.package_version or (existing.base.package_version if same else "")
        kept_base = Base(existing.base.package, base.version, base.tree, known)
        return replace(existing, base=kept_base, patches=tuple(patches), configs=configs)
    return Series(
        directory=directory,
        name=name or directory.resolve().name,
        revision=1,
        subject_prefix="PATCH",
        base=base,
        patches=tuple(patches),
    )


def _write(existing: Series | None, series: Series, diffs: dict[str, bytes]) -> None:
    try:
        series.directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GitError(f"{series.directory}: cannot create: {exc.strerror}") from exc
    with deferred_interrupts():  # the new data whole, and only then the old diff files gone
        write_series(series, diffs)
        if existing is not None:
            # Diff files the old data named and the new data does not are ours to remove.
            for patch in existing.patches:
                if patch.diff not in diffs:
                    (existing.directory / patch.diff).unlink(missing_ok=True)
