"""send: format the verified revision and mail it; record what was sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click

from patchkit import atomic
from patchkit.applied import require_record
from patchkit.errors import UsageError
from patchkit.formatting import format_series, sender_of
from patchkit.mail import headers
from patchkit.mail.send import Outgoing, password_for, prepare, send_git, send_smtp, smtp_config
from patchkit.mail.verified import require_verified
from patchkit.revising import record_revision
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.target import open_target


def run(
    series_arg: str | None,
    tree_arg: Path | None,
    output: Path | None,
    *,
    dry_run: bool,
    to_self: bool,
    reflect: bool,
    force: bool,
    via: str,
    cc_maintainers: bool,
    smtp_server: str | None,
    smtp_port: int | None,
    smtp_encryption: str | None,
    smtp_user: str | None,
    smtp_cafile: str | None,
) -> int:
    if to_self and reflect:
        raise UsageError("--to-self and --reflect both send only to you: choose one")
    target = open_target(series_arg, tree_arg)
    series, tree = target.series, target.tree
    record = require_record(tree, series.name)
    posted = series.revision_record(series.revision)
    if posted is not None and posted.sent and not (force or dry_run or to_self or reflect):
        raise UsageError(
            f"{series.directory / SERIES_FILE}: v{series.revision} was already sent on {posted.date} "
            f"(cover {posted.cover_message_id}); run 'patchkit revise' for v{series.revision + 1}, or --force to "
            "send it again"
        )
    if force:
        click.echo("verify: not checked (--force)")
    else:
        verified = require_verified(tree, series, record)
        ran = ", ".join(k for k, v in verified.stages.items() if v) or "no stage"
        click.echo(f"verify: v{verified.revision} passed on {verified.date} ({ran})")
    directory = output or Path("outgoing") / f"{series.name}-v{series.revision}"
    formatted = format_series(tree, series, directory, cc_maintainers=cc_maintainers, force=force)
    for note in formatted.notes:
        click.echo(note)
    sender = headers.format_person(sender_of(tree, series))
    mails = prepare(formatted.files, sender, to_self=to_self, reflect=reflect)
    config = None
    if via == "smtp" or smtp_server:
        config = smtp_config(tree, host=smtp_server, port=smtp_port, encryption=smtp_encryption, user=smtp_user,
                             cafile=smtp_cafile)  # fmt: skip
    if dry_run:
        for mail in mails:
            click.echo(f"would send {mail.path.name}: {mail.subject}")
            click.echo(f"  {mail.message_id} from {mail.sender} to {', '.join(mail.recipients)}")
        where = f"{config.host}:{config.port} ({config.encryption})" if config else "git send-email"
        click.echo(f"dry run: {len(mails)} mails not sent (would go through {where}); nothing recorded")
        return 0

    def progress(mail: Outgoing) -> None:
        click.echo(f"sent {mail.path.name}: {mail.message_id} to {', '.join(mail.recipients)}")

    if via == "smtp":
        assert config is not None
        send_smtp(config, mails, password_for(config), progress)
    else:
        send_git(tree, config, mails, self_only=to_self or reflect)
        for mail in mails:
            progress(mail)
    if to_self or reflect:
        click.echo(f"{len(mails)} mails sent to {sender} only; nothing recorded (a real send records v"
                   f"{series.revision})")  # fmt: skip
        return 0
    now = datetime.now(UTC).astimezone().replace(microsecond=0)
    sent = replace(formatted.revision, sent=True, date=now.isoformat())
    updated = record_revision(series, sent)
    atomic.write_text(series.directory / SERIES_FILE, series_yaml(updated))
    data_file = series.directory / SERIES_FILE
    click.echo(f"{len(mails)} mails sent; v{series.revision}'s Message-Ids recorded in {data_file}")
    return 0
