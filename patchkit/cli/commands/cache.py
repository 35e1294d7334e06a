"""cache: what the verdict cache holds, and clearing it."""

from __future__ import annotations

import click

from patchkit.util.store import VerdictCache


def info() -> int:
    data = VerdictCache().info()
    entries = data["entries"]
    listed = ", ".join(f"{count} {kind}" for kind, count in sorted(entries.items())) or "empty"
    click.echo(f"{data['root']}: {listed}; {data['bytes'] / 1e6:.1f} MB of {data['max_bytes'] / 1e6:.0f} MB")
    return 0


def clear() -> int:
    cache = VerdictCache()
    removed = cache.clear()
    click.echo(f"{cache.root}: {removed} entries removed")
    return 0
