"""Make the commits of a series without a full-size index: apply to a small one, graft onto the base tree.

A kernel tree has ~78k paths and a series touches a few dozen. Rewriting a
78k-entry index after every patch is what made apply slower than ``git am``.
Here the private index holds only the paths the series touches (read from the
base tree), ``git apply --cached`` works on that, and each resulting tree is
rebuilt from the base tree by replacing just the directories on those paths
(``git mktree``). The trees, and so the commit ids, are exactly the ones a
full index would give: the same blobs at the same paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from patchkit.errors import ApplyError, GitError
from patchkit.tree.repo import KernelTree
from patchkit.util import proc

Entry = tuple[str, str, str]  # (mode, type, object id)


def touched_paths(tree: KernelTree, diffs: list[Path]) -> set[str]:
    """Every path (old and new names) the diffs name, as git itself parses them."""
    out = tree.git_bytes("apply", "--numstat", "-z", *(str(d) for d in diffs), check=False)
    paths: set[str] = set()
    fields = out.split(b"\0")
    index = 0
    while index < len(fields):
        record = fields[index]
        if not record:
            index += 1
            continue
        parts = record.split(b"\t", 2)
        if len(parts) == 3 and parts[2]:
            paths.add(parts[2].decode("utf-8", "surrogateescape"))
            index += 1
        else:  # a rename or copy: "added\tdeleted\t" then the old and the new path as separate fields
            paths.update(f.decode("utf-8", "surrogateescape") for f in fields[index + 1 : index + 3] if f)
            index += 3
    return paths


@dataclass
class TreeGrafter:
    """Builds full trees from the base tree plus the touched paths' entries in a small index."""

    tree: KernelTree
    base_tree: str
    touched: set[str]
    env: Mapping[str, str]

    def __post_init__(self) -> None:
        self._listings: dict[str, dict[str, Entry]] = {}
        # Every directory on the way to a touched path, deepest first when sorted by depth.
        dirs = {str(parent) for path in self.touched for parent in PurePosixPath(path).parents}
        self._dirs = sorted((d if d != "." else "" for d in dirs), key=lambda d: (-d.count("/") - (d != ""), d))
        self._mktree = proc.start(
            # Not -z: git 2.39's mktree mangles the record after a tree's end in -z batch mode.
            ["git", "-C", str(self.tree.path), "mktree", "--missing", "--batch"],
            stdin=proc.PIPE,
            stdout=proc.PIPE,
            env={"LC_ALL": "C", **self.env},
        )

    def close(self) -> None:
        if self._mktree.stdin is not None:
            self._mktree.stdin.close()
        self._mktree.wait()

    def graft(self, small_tree: str) -> str:
        """The full tree: the base with every touched path as ``small_tree`` has it (or absent)."""
        present = self._entries_of(small_tree)
        built: dict[str, Entry | None] = {}
        for directory in self._dirs:
            entries = dict(self._base_listing(directory))
            prefix = f"{directory}/" if directory else ""
            for path in self.touched:
                parent = str(PurePosixPath(path).parent)
                if (parent if parent != "." else "") == directory:
                    name = path[len(prefix) :]
                    self._place(entries, name, present.get(path), path)
            for sub, made in built.items():
                parent = str(PurePosixPath(sub).parent)
                if sub and (parent if parent != "." else "") == directory:
                    self._place(entries, sub[len(prefix) :], made, sub)
            built[directory] = self._make(entries) if entries else None
        root = built.get("")
        if root is None:
            raise ApplyError("the series would leave the tree empty")
        return root[2]

    def _place(self, entries: dict[str, Entry], name: str, entry: Entry | None, path: str) -> None:
        old = entries.get(name)
        if entry is None:
            entries.pop(name, None)
            return
        if old is not None and (old[1] == "tree") != (entry[1] == "tree"):
            raise ApplyError(f"{path}: a file and a directory of the same name; the series cannot place it")
        entries[name] = entry

    def _entries_of(self, small_tree: str) -> dict[str, Entry]:
        out = self.tree.git_bytes("ls-tree", "-r", "-z", "--full-tree", small_tree, env=self.env)
        return _parse_ls_tree(out)

    def _base_listing(self, directory: str) -> dict[str, Entry]:
        if directory not in self._listings:
            spec = f"{self.base_tree}:{directory}" if directory else self.base_tree
            result = self.tree.run_git(["ls-tree", "-z", spec], env=self.env)
            # A directory the series creates does not exist in the base: start it empty.
            self._listings[directory] = _parse_ls_tree(result.stdout) if result.returncode == 0 else {}
        return self._listings[directory]

    def _make(self, entries: dict[str, Entry]) -> Entry:
        assert self._mktree.stdin is not None and self._mktree.stdout is not None
        body = b"".join(
            f"{mode} {kind} {oid}\t".encode() + _quoted(name) + b"\n" for name, (mode, kind, oid) in entries.items()
        )
        self._mktree.stdin.write(body + b"\n")  # a blank line ends one tree in --batch
        self._mktree.stdin.flush()
        oid = self._mktree.stdout.readline().strip().decode()
        if not oid:
            raise GitError(f"{self.tree.path}: git mktree stopped (exit {self._mktree.poll()})")
        return ("040000", "tree", oid)


def _quoted(name: str) -> bytes:
    """A name as mktree reads it: C-style quoted when it would otherwise be misread."""
    raw = name.encode("utf-8", "surrogateescape")
    if b"\n" not in raw and not raw.startswith(b'"'):
        return raw
    escaped = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return b'"' + escaped + b'"'


def _parse_ls_tree(out: bytes) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, oid = meta.decode().split(" ")
        entries[name.decode("utf-8", "surrogateescape")] = (mode, kind, oid)
    return entries
