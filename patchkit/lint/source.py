"""Reading tree states from git objects (never the work tree): names, blobs, contents, grep."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from patchkit.errors import GitError
from patchkit.tree.repo import KernelTree

SOURCE_EXTENSIONS = ("c", "h", "S")


class GitSource:
    def __init__(self, tree: KernelTree) -> None:
        self.tree = tree
        self._contents: dict[str, bytes] = {}
        self._changes: dict[tuple[str, str], list[tuple[str, str, str]]] = {}

    def grep(
        self, commit: str, words: Sequence[str], paths: Sequence[str], extensions: Sequence[str] = SOURCE_EXTENSIONS
    ) -> dict[str, list[tuple[int, str]]]:
        """``git grep -n -F`` for any of ``words`` at a commit, over the source files (``extensions``) under
        ``paths`` (every object is inflated: on a 6.1 tree of loose objects the whole tree takes ~10 s,
        arch/x86 ~0.1 s): path -> [(line, text)]."""
        pathspec = [f"{p.rstrip('/')}/*.{ext}" if p else f"*.{ext}" for p in paths for ext in extensions]
        patterns = [arg for word in words for arg in ("-e", word)]
        result = self.tree.run_git(["grep", "-n", "-I", "-F", *patterns, commit, "--", *pathspec])
        if result.returncode not in (0, 1):
            detail = result.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"{self.tree.path}: git grep failed: {detail}")
        out: dict[str, list[tuple[int, str]]] = {}
        prefix = commit + ":"
        for raw in result.stdout.decode("utf-8", "replace").splitlines():
            if raw.startswith(prefix):
                raw = raw[len(prefix) :]
            path, _, rest = raw.partition(":")
            number, _, text = rest.partition(":")
            if number.isdigit():
                out.setdefault(path, []).append((int(number), text))
        return out

    def changed(self, old: str, new: str) -> list[tuple[str, str, str]]:
        """(status letter, path, blob id in ``new``) for every path that differs; renames are delete + add."""
        key = (old, new)
        if key not in self._changes:
            out = self.tree.git("diff", "--raw", "--no-abbrev", "--no-renames", "-z", old, new)
            parts = out.split("\0")
            changes: list[tuple[str, str, str]] = []
            for i in range(0, len(parts) - 1, 2):
                fields = parts[i].split()
                if len(fields) >= 5:
                    changes.append((fields[4][:1], parts[i + 1], fields[3]))
            self._changes[key] = changes
        return self._changes[key]

    def blame(self, base: str, commit: str, path: str, lines: Iterable[int]) -> dict[int, str | None]:
        """Line of ``path`` at ``commit`` -> the commit in ``base..commit`` that last changed it (None: the
        line is older than that range), with one ``git blame --porcelain``."""
        wanted = sorted(set(lines))
        if not wanted:
            return {}
        ranges: list[str] = []
        first = last = wanted[0]
        for number in [*wanted[1:], -1]:
            if number == last + 1:
                last = number
                continue
            ranges += ["-L", f"{first},{last}"]
            first = last = number
        result = self.tree.run_git(["blame", "--porcelain", *ranges, f"{base}..{commit}", "--", path])
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"{self.tree.path}: git blame {path} failed: {detail}")
        out: dict[int, str | None] = {}
        boundary: set[str] = set()
        current = ""
        for raw in result.stdout.decode("utf-8", "replace").splitlines():
            if raw.startswith("\t"):
                continue
            fields = raw.split()
            if len(fields) >= 3 and len(fields[0]) == 40 and fields[1].isdigit() and fields[2].isdigit():
                current = fields[0]
                out[int(fields[2])] = current
            elif raw == "boundary":
                boundary.add(current)
        return {line: (None if sha in boundary else sha) for line, sha in out.items()}

    def diff(self, old: str, new: str) -> str:
        return self.tree.git("diff", "--no-renames", "--no-color", old, new)

    def blobs(self, commit: str, paths: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(paths))
        if not wanted:
            return {}
        out: dict[str, str] = {}
        # ls-tree takes the paths as pathspecs; chunk to stay under the argument limit
        for start in range(0, len(wanted), 500):
            listing = self.tree.git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *wanted[start : start + 500])
            for entry in listing.split("\0"):
                if not entry:
                    continue
                meta, _, path = entry.partition("\t")
                fields = meta.split()
                if len(fields) == 3 and fields[1] == "blob":
                    out[path] = fields[2]
        return out

    def read(self, blob_ids: Iterable[str]) -> dict[str, bytes]:
        """Contents of blobs (cached), read with one ``git cat-file --batch``."""
        wanted = list(blob_ids)
        missing = sorted({b for b in wanted if b not in self._contents})
        if missing:
            data = self.tree.git_bytes("cat-file", "--batch", input_bytes=("\n".join(missing) + "\n").encode())
            pos = 0
            for blob in missing:
                end = data.index(b"\n", pos)
                header = data[pos:end].decode()
                parts = header.split()
                if len(parts) != 3:
                    raise GitError(f"{self.tree.path}: git cat-file could not read {blob}: {header}")
                size = int(parts[2])
                self._contents[blob] = data[end + 1 : end + 1 + size]
                pos = end + 1 + size + 1
        return {b: self._contents[b] for b in wanted}

    def show(self, commit: str, path: str) -> bytes | None:
        result = self.tree.run_git(["show", f"{commit}:{path}"])
        stdout: bytes = result.stdout
        return stdout if result.returncode == 0 else None
