"""send: format the verified revision and mail it; record each mail as the server accepts it.

The whole send runs under the series lock, from reading the data to the last
record, so two sends of one series take turns and the second sees what the
first sent: nothing is mailed twice. The gate (:mod:`patchkit.verify.record`)
is checked first; ``--dry-run`` says whether it would open instead of refusing.
"""

from __future__ import annotations

from pathlib import Path

import click

from patchkit.apply.record import require_record
from patchkit.cli.commands import notify
from patchkit.cli.options import SendOptions
from patchkit.cli.target import open_target
from patchkit.errors import DeliveryError, PatchkitError, TreeError, UsageError
from patchkit.mail import headers
from patchkit.mail.format import format_series, sender_of
from patchkit.mail.send import Delivery, password_for, prepare, send_git, send_smtp, smtp_config
from patchkit.mail.sentlog import SendPlan, SentLog, plan_send
from patchkit.series.load import SERIES_FILE, load_series
from patchkit.series.lock import series_lock
from patchkit.series.model import Series
from patchkit.tree.repo import KernelTree
from patchkit.verify.record import gate, passed_stages


def run(options: SendOptions) -> int:
    if options.to_self and options.reflect:
        raise UsageError("--to-self and --reflect both send only to you: choose one")
    if options.reflect and options.via == "git-send-email":
        raise UsageError("--reflect needs --via smtp: git send-email mails whoever the headers name")
    target = open_target(options.series, options.tree)
    directory = target.series.directory
    with series_lock(directory, notify=notify):
        series = load_series(directory)  # again, under the lock: another send may have recorded mails meanwhile
        return _send(options, series, target.tree)


def _send(options: SendOptions, series: Series, tree: KernelTree) -> int:
    record = require_record(tree, series.name)
    checked = gate(tree, series, record)
    if options.force:
        click.echo("verify: not checked (--force)")
    elif checked.open:
        assert checked.verified is not None
        click.echo(f"verify: v{series.revision} {passed_stages(series, checked.verified)} on {checked.verified.date}")
    elif options.dry_run:
        click.echo(f"verify: the gate would stay closed: {'; '.join(checked.missing)}")
    else:
        raise TreeError(f"{tree.path}: not sending series '{series.name}' v{series.revision}: "
                        f"{'; '.join(checked.missing)} (or send --force)")  # fmt: skip
    config = None  # checked before anything is written (a CA file that is a FIFO, a port that is no number)
    if options.via == "smtp" or options.smtp_server:
        config = smtp_config(
            tree, host=options.smtp_server, port=options.smtp_port, encryption=options.smtp_encryption,
            user=options.smtp_user, cafile=options.smtp_cafile,
        )  # fmt: skip
    directory = options.output or Path("outgoing") / f"{series.name}-v{series.revision}"
    formatted = format_series(
        tree, series, directory, cc_maintainers=options.cc_maintainers, cc_trailers=options.cc_trailers,
        in_reply_to=options.in_reply_to, force=options.force,
    )  # fmt: skip
    for note in formatted.notes:
        click.echo(note)
    sender = headers.format_person(sender_of(tree, series))
    mails = prepare(formatted.files, sender, to_self=options.to_self, reflect=options.reflect)
    testing = options.to_self or options.reflect  # a test send to yourself: all of it, nothing recorded
    plan = SendPlan(list(mails), [], formatted.revision) if testing else plan_send(
        series, formatted.revision, mails, force=options.force
    )  # fmt: skip
    if plan.note:
        click.echo(plan.note)
    if options.dry_run:
        for mail in plan.to_send:
            click.echo(f"would send {mail.path.name}: {mail.subject}")
            click.echo(f"  {mail.message_id} from {mail.sender} to {', '.join(mail.recipients)}")
        where = f"{config.host}:{config.port} ({config.encryption})" if config else "git send-email"
        gate_word = "skipped (--force)" if options.force else "open" if checked.open else "closed"
        click.echo(f"dry run: {len(plan.to_send)} mails not sent (would go through {where}; the verify gate is "
                   f"{gate_word}); nothing recorded")  # fmt: skip
        return 0
    if not plan.to_send:
        return 0

    log = None if testing else SentLog(series, plan.record)
    refused: list[tuple[str, str, str]] = []

    def delivered(delivery: Delivery) -> None:
        if log is not None:
            log.accepted(delivery.mail.message_id)  # before the next mail goes out
        refused.extend(_report(delivery))

    try:
        if options.via == "smtp":
            assert config is not None
            send_smtp(config, plan.to_send, password_for(config), delivered)
        else:
            send_git(tree, config, plan.to_send, sender, delivered)
    except PatchkitError as exc:
        if log is not None and exc.hint is None:
            exc.hint = _where_it_stands(series, log, len(mails))
        raise
    if testing:
        click.echo(f"{len(plan.to_send)} mails sent to {sender} only; nothing recorded (a real send records v"
                   f"{series.revision})")  # fmt: skip
    else:
        click.echo(f"{len(plan.to_send)} mails sent; v{series.revision}'s Message-Ids recorded in "
                   f"{series.directory / SERIES_FILE}")  # fmt: skip
    if refused:
        raise DeliveryError(f"the server refused {_refusals(refused, len(plan.to_send))}; the other recipients got "
                            "those mails and they are recorded as sent: send them to the refused ones "
                            "yourself")  # fmt: skip
    return 0


def _report(delivery: Delivery) -> list[tuple[str, str, str]]:
    """Print the server's answers to one mail, per recipient; return the refusals as (recipient, answer, mail)."""
    mail = delivery.mail
    click.echo(f"sent {mail.path.name} {mail.message_id}: the server answered {delivery.reply}")
    for who, reply in delivery.accepted:
        click.echo(f"  {who}: accepted ({reply})")
    for who, reply in delivery.refused:
        click.echo(f"  {who}: refused ({reply})")
    return [(who, str(reply), mail.path.name) for who, reply in delivery.refused]


def _refusals(refused: list[tuple[str, str, str]], sent: int) -> str:
    """``a@b for all 3 mails (550 ...); c@d for 0001-x.patch (550 ...)``: one entry per recipient and answer."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for who, reply, name in refused:
        grouped.setdefault((who, reply), []).append(name)
    parts = []
    for (who, reply), names in grouped.items():
        which = f"all {sent} mails" if len(names) == sent > 1 else ", ".join(names)
        parts.append(f"{who} for {which} ({reply})")
    return "; ".join(parts)


def _where_it_stands(series: Series, log: SentLog, total: int) -> str:
    """After a broken send: how many mails are recorded as sent and what the next ``send`` does."""
    record = log.series.revision_record(series.revision)
    went = 0 if record is None else total if record.sent else len(record.sent_message_ids)
    if went == total:
        return f"all {total} mails of v{series.revision} are recorded as sent"
    where = series.directory / SERIES_FILE
    return (f"{went} of {total} mails of v{series.revision} are recorded as sent in {where}; run 'patchkit send' "
            f"again to send only the other {total - went}")  # fmt: skip
