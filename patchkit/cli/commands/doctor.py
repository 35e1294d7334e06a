"""doctor: check every tool and package the commands need; print the one apt command for what is missing."""

from __future__ import annotations

import click

from patchkit.errors import MissingToolError
from patchkit.util import tools


def run() -> int:
    checks = tools.check()
    width = max(len(c.need.what) for c in checks)
    for item in checks:
        if item.found is not None:
            state = "ok     "
        elif item.need.optional:
            state = "absent "
        else:
            state = "MISSING"
        where = item.found or f"install {item.need.package}"
        click.echo(f"  {state} {item.need.what:<{width}}  {where}  (for {item.need.used_by})")
    click.echo(f"  kvm     {tools.kvm_status()}")
    required = tools.apt_command(checks)
    optional = tools.apt_command(checks, include_optional=True)
    note = tools.python_note(checks)
    if required is not None:
        click.echo(f"missing: run\n  {required}")
        if note is not None:
            click.echo(f"note: {note}")
        raise MissingToolError("required tools are missing (the apt-get command above installs them)")
    if optional is not None:
        click.echo(f"everything required is installed; optional: {optional}")
    else:
        click.echo("everything patchkit needs is installed")
    return 0
