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
from patchkit.requests import SendRequest
from patchkit.revising import record_revision
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.target import open_target


def run(request: SendRequest) -> int:
    if request.to_self and request.reflect:
        raise UsageError("--to-self and --reflect both send only to you: choose one")
    target = open_target(request.series, request.tree)
    series, tree = target.series, target.tree
    record = require_record(tree, series.name)
    posted = series.revision_record(series.revision)
    again = request.force or request.dry_run or request.to_self or request.reflect
    if posted is not None and posted.sent and not again:
        raise UsageError(
            f"{series.directory / SERIES_FILE}: v{series.revision} was already sent on {posted.date} "
            f"(cover {posted.cover_message_id}); run 'patchkit revise' for v{series.revision + 1}, or --force to "
            "send it again"
        )
    if request.force:
        click.echo("verify: not checked (--force)")
    else:
        verified = require_verified(tree, series, record)
        ran = ", ".join(k for k, v in verified.stages.items() if v) or "no stage"
        click.echo(f"verify: v{verified.revision} passed on {verified.date} ({ran})")
    directory = request.output or Path("outgoing") / f"{series.name}-v{series.revision}"
    formatted = format_series(
        tree, series, directory, cc_maintainers=request.cc_maintainers, cc_trailers=request.cc_trailers,
        in_reply_to=request.in_reply_to, force=request.force,
    )  # fmt: skip
    for note in formatted.notes:
        click.echo(note)
    sender = headers.format_person(sender_of(tree, series))
    mails = prepare(formatted.files, sender, to_self=request.to_self, reflect=request.reflect)
    config = None
    if request.via == "smtp" or request.smtp_server:
        config = smtp_config(
            tree, host=request.smtp_server, port=request.smtp_port, encryption=request.smtp_encryption,
            user=request.smtp_user, cafile=request.smtp_cafile,
        )  # fmt: skip
    if request.dry_run:
        for mail in mails:
            click.echo(f"would send {mail.path.name}: {mail.subject}")
            click.echo(f"  {mail.message_id} from {mail.sender} to {', '.join(mail.recipients)}")
        where = f"{config.host}:{config.port} ({config.encryption})" if config else "git send-email"
        click.echo(f"dry run: {len(mails)} mails not sent (would go through {where}); nothing recorded")
        return 0

    def progress(mail: Outgoing) -> None:
        click.echo(f"sent {mail.path.name}: {mail.message_id} to {', '.join(mail.recipients)}")

    if request.via == "smtp":
        assert config is not None
        send_smtp(config, mails, password_for(config), progress)
    else:
        send_git(tree, config, mails, self_only=request.to_self or request.reflect)
        for mail in mails:
            progress(mail)
    if request.to_self or request.reflect:
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
