"""The series as typed data: what ``series.yaml`` and its diff files describe.

Field order in :meth:`Series.to_data` is the order written to ``series.yaml``;
keep it stable, since round trips compare files byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.series.diffcheck import MAX_DIFF_BYTES
from patchkit.util import inputfile

MAX_FRAGMENT_BYTES = 1024 * 1024  # a kconfig fragment; the bundled ones are a few hundred bytes


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    def ident(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Base:
    package: str  # Debian source package the default tree comes from
    version: str  # what `make kernelversion` reports for that tree
    tree: str  # git tree hash of the base content
    package_version: str = ""  # the exact Debian version (e.g. 6.1.192-2); "" in files written before it existed

    def describe(self) -> str:
        """``linux-source-6.1 6.1.192-2`` (or the kernel version when the package version is unknown)."""
        return f"{self.package} {self.package_version or self.version}"

    def to_data(self) -> dict[str, str]:
        data = {"package": self.package}
        if self.package_version:
            data["package_version"] = self.package_version
        data.update(version=self.version, tree=self.tree)
        return data


@dataclass(frozen=True)
class Cover:
    subject: str
    body: str


@dataclass(frozen=True)
class ChangelogEntry:
    revision: int
    changes: str


@dataclass(frozen=True)
class PostedPatch:
    """One patch as a revision was posted: its content identity and its Message-Id."""

    subject: str
    patch_id: str  # git patch-id --stable
    message_id: str


@dataclass(frozen=True)
class Revision:
    """What was posted for one revision (written by ``format``/``send``/``revise``, read by the next)."""

    revision: int
    date: str  # ISO 8601 with offset: when it was formatted or sent
    cover_message_id: str
    patches: tuple[PostedPatch, ...]
    sent: bool = False  # True once ``patchkit send`` delivered it
    snapshot: str = ""  # directory (relative to the series) holding that revision's series.yaml and diffs
    # While a send is incomplete (``sent`` false): the Message-Ids the server accepted so far, in order;
    # the next ``send`` mails only the others.
    sent_message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dependency:
    """A series this one must be applied on top of (b4's prerequisites): its change-id, or its patches.

    ``format`` writes it into the cover letter's basement as b4 does: ``prerequisite-change-id: ID:vN``
    and one ``prerequisite-patch-id:`` per patch, so b4 (and a reader) can fetch it first; ``verify`` checks it
    is below the base (:mod:`patchkit.verify.prerequisites`).
    """

    change_id: str = ""  # the b4 change-id of the series depended on ("" when known only by its patches)
    revision: int = 0  # the revision of it needed (0: not said)
    patch_ids: tuple[str, ...] = ()  # git patch-id --stable of each of its patches, in order

    def label(self) -> str:
        if self.change_id:
            return self.change_id + (f" v{self.revision}" if self.revision else "")
        return f"{len(self.patch_ids)} patch(es) from {self.patch_ids[0][:12]}"


@dataclass(frozen=True)
class BootSpec:
    enabled: bool = True
    cmdline: str = ""
    expect: tuple[str, ...] = ()  # regexes the console must match (series end only)


@dataclass(frozen=True)
class KconfigSpec:
    name: str
    fragment: str  # path relative to the series directory
    since: int = 0  # fragment options are required to exist from this patch on
    boot: BootSpec = field(default_factory=BootSpec)


@dataclass(frozen=True)
class Suppression:
    rule: str
    reason: str


@dataclass(frozen=True)
class TrailerSource:
    """Where a review trailer came from: who gave it, in which reply, to which posted revision."""

    trailer: str
    given_by: str
    message_id: str
    revision: int


@dataclass(frozen=True)
class Patch:
    number: int  # 1-based position in the series (overlays continue the count)
    subject: str
    author: Person
    date: str  # ISO 8601 with offset, as `git log --date=iso-strict` prints it
    body: str
    trailers: tuple[str, ...]
    diff: str  # diff file name relative to the series directory
    overlay: bool = False  # test-only: applied for build/boot, never on the branch, never mailed
    suppress: tuple[Suppression, ...] = ()
    provenance: tuple[TrailerSource, ...] = ()  # trailers taken from replies by 'patchkit trailers'

    def message(self) -> str:
        """The commit message exactly as it is committed."""
        paragraphs = [self.subject]
        if self.body:
            paragraphs.append(self.body)
        if self.trailers:
            paragraphs.append("\n".join(self.trailers))
        return "\n\n".join(paragraphs) + "\n"

    def label(self) -> str:
        return f"patch {self.number} ({self.subject})"


def branch_name(series_name: str, revision: int) -> str:
    """The branch apply makes for a revision: ``patchkit/<name>/v<N>``."""
    return f"patchkit/{series_name}/v{revision}"


@dataclass(frozen=True)
class Series:
    directory: Path
    name: str
    revision: int
    subject_prefix: str
    base: Base
    patches: tuple[Patch, ...]
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    cover: Cover | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
    configs: tuple[KconfigSpec, ...] = ()
    change_id: str | None = None  # b4-compatible series identity (YYYYMMDD-slug-hex)
    archive: str | None = None  # list archive URL for "Link to vN" (%s = Message-Id); lore's when unset
    trailer_order: tuple[str, ...] = ()  # globs on trailer keys for 'trailers' (b4's trailer-order); () = b4's "*"
    depends: tuple[Dependency, ...] = ()  # series to apply first (prerequisite-* lines in the cover)
    history: tuple[Revision, ...] = ()  # earlier (and the current, once posted) revisions
    # series.yaml's key path -> 1-based line, as loaded (empty for a series made in memory)
    lines: Mapping[tuple[str | int, ...], int] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def line(self, *key_path: str | int) -> int:
        """The line of ``key_path`` in series.yaml, or of its nearest ancestor there; 0 when unknown."""
        while key_path and key_path not in self.lines:
            key_path = key_path[:-1]
        return self.lines.get(key_path, 0)

    def revision_record(self, revision: int) -> Revision | None:
        return next((r for r in self.history if r.revision == revision), None)

    @property
    def mailed_patches(self) -> tuple[Patch, ...]:
        """The patches that make up the series proper (no overlays)."""
        return tuple(p for p in self.patches if not p.overlay)

    @property
    def overlay_patches(self) -> tuple[Patch, ...]:
        return tuple(p for p in self.patches if p.overlay)

    @property
    def branch(self) -> str:
        return branch_name(self.name, self.revision)

    def diff_path(self, patch: Patch) -> Path:
        return self.directory / patch.diff

    def fragment_bytes(self, config: KconfigSpec) -> bytes:
        """The text of ``config``'s kconfig fragment, read as every input is (a bounded regular file)."""
        return inputfile.read_limited(self.directory / config.fragment, MAX_FRAGMENT_BYTES)

    def diff_bytes(self, patch: Patch) -> bytes:
        """The text of ``patch``'s diff file, read as every input is (a bounded regular file)."""
        return inputfile.read_limited(self.diff_path(patch), MAX_DIFF_BYTES)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "revision": self.revision,
            "subject_prefix": self.subject_prefix,
            "base": self.base.to_data(),
        }
        if self.to:
            data["to"] = list(self.to)
        if self.cc:
            data["cc"] = list(self.cc)
        if self.cover is not None:
            data["cover"] = {"subject": self.cover.subject, "body": self.cover.body}
        if self.changelog:
            data["changelog"] = [{"revision": c.revision, "changes": c.changes} for c in self.changelog]
        if self.change_id is not None:
            data["change_id"] = self.change_id
        if self.archive is not None:
            data["archive"] = self.archive
        if self.trailer_order:
            data["trailer_order"] = list(self.trailer_order)
        if self.depends:
            data["depends"] = [_dependency_data(d) for d in self.depends]
        if self.history:
            data["history"] = [_revision_data(r) for r in self.history]
        if self.configs:
            data["configs"] = [_config_data(c) for c in self.configs]
        data["patches"] = [_patch_data(p) for p in self.patches]
        return data


def _config_data(config: KconfigSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"name": config.name, "fragment": config.fragment}
    if config.since:
        data["since"] = config.since
    boot: dict[str, Any] = {}
    if not config.boot.enabled:
        boot["enabled"] = False
    if config.boot.cmdline:
        boot["cmdline"] = config.boot.cmdline
    if config.boot.expect:
        boot["expect"] = list(config.boot.expect)
    if boot:
        data["boot"] = boot
    return data


def _dependency_data(dependency: Dependency) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if dependency.change_id:
        data["change_id"] = dependency.change_id
    if dependency.revision:
        data["revision"] = dependency.revision
    if dependency.patch_ids:
        data["patch_ids"] = list(dependency.patch_ids)
    return data


def _revision_data(revision: Revision) -> dict[str, Any]:
    data: dict[str, Any] = {
        "revision": revision.revision,
        "date": revision.date,
        "cover_message_id": revision.cover_message_id,
    }
    if revision.sent:
        data["sent"] = True
    if revision.sent_message_ids:
        data["sent_message_ids"] = list(revision.sent_message_ids)
    if revision.snapshot:
        data["snapshot"] = revision.snapshot
    data["patches"] = [
        {"subject": p.subject, "patch_id": p.patch_id, "message_id": p.message_id} for p in revision.patches
    ]
    return data


def _revision_from_data(r: dict[str, Any]) -> Revision:
    return Revision(
        revision=r["revision"],
        date=r["date"],
        cover_message_id=r["cover_message_id"],
        patches=tuple(PostedPatch(p["subject"], p["patch_id"], p["message_id"]) for p in r.get("patches", ())),
        sent=r.get("sent", False),
        snapshot=r.get("snapshot", ""),
        sent_message_ids=tuple(r.get("sent_message_ids", ())),
    )


def _patch_data(patch: Patch) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": patch.subject,
        "author": {"name": patch.author.name, "email": patch.author.email},
        "date": patch.date,
    }
    if patch.body:
        data["body"] = patch.body
    if patch.trailers:
        data["trailers"] = list(patch.trailers)
    data["diff"] = patch.diff
    if patch.overlay:
        data["overlay"] = True
    if patch.suppress:
        data["suppress"] = [{"rule": s.rule, "reason": s.reason} for s in patch.suppress]
    if patch.provenance:
        data["provenance"] = [
            {"trailer": t.trailer, "from": t.given_by, "message_id": t.message_id, "revision": t.revision}
            for t in patch.provenance
        ]
    return data


def series_from_data(directory: Path, data: dict[str, Any]) -> Series:
    """Build a :class:`Series` from schema-valid data (validation happens in :mod:`.load`)."""
    patches = tuple(
        Patch(
            number=index,
            subject=p["subject"],
            author=Person(p["author"]["name"], p["author"]["email"]),
            date=p["date"],
            body=p.get("body", ""),
            trailers=tuple(p.get("trailers", ())),
            diff=p["diff"],
            overlay=p.get("overlay", False),
            suppress=tuple(Suppression(s["rule"], s["reason"]) for s in p.get("suppress", ())),
            provenance=tuple(
                TrailerSource(t["trailer"], t["from"], t["message_id"], t["revision"]) for t in p.get("provenance", ())
            ),
        )
        for index, p in enumerate(data["patches"], start=1)
    )
    cover = data.get("cover")
    return Series(
        directory=directory,
        name=data["name"],
        revision=data["revision"],
        subject_prefix=data["subject_prefix"],
        base=Base(**data["base"]),
        patches=patches,
        to=tuple(data.get("to", ())),
        cc=tuple(data.get("cc", ())),
        cover=Cover(cover["subject"], cover["body"]) if cover else None,
        changelog=tuple(ChangelogEntry(c["revision"], c["changes"]) for c in data.get("changelog", ())),
        change_id=data.get("change_id"),
        archive=data.get("archive"),
        trailer_order=tuple(data.get("trailer_order", ())),
        depends=tuple(
            Dependency(d.get("change_id", ""), d.get("revision", 0), tuple(d.get("patch_ids", ())))
            for d in data.get("depends", ())
        ),
        history=tuple(_revision_from_data(r) for r in data.get("history", ())),
        configs=tuple(
            KconfigSpec(
                name=c["name"],
                fragment=c["fragment"],
                since=c.get("since", 0),
                boot=BootSpec(
                    enabled=c.get("boot", {}).get("enabled", True),
                    cmdline=c.get("boot", {}).get("cmdline", ""),
                    expect=tuple(c.get("boot", {}).get("expect", ())),
                ),
            )
            for c in data.get("configs", ())
        ),
    )
