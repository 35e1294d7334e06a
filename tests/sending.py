"""What the send tests share: a real SMTP server (aiosmtpd) on 127.0.0.1 that a test starts and stops, which
can refuse a recipient or drop the connection, and a mailable series with a verify record that opens the gate.

aiosmtpd is imported by the test modules (``pytest.importorskip``) before this module.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from patchkit.apply.record import require_record
from patchkit.series.load import load_series
from patchkit.tree.repo import KernelTree
from patchkit.verify.record import ConfigVerdict, record_verify
from tests.helpers import CliResult, GitTree, Project, run_cli, write_series


@dataclass
class Inbox:
    """An aiosmtpd handler keeping what it accepted: (envelope sender, recipients, the DATA bytes as received)."""

    port: int
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    drop_after: int | None = None  # accept this many mails, then close the connection at the next one's DATA

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_after is not None and len(self.received) >= self.drop_after:
            server.transport.close()  # gone before it answers: the mail was not accepted
            return "421 4.3.0 closing"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"me" and data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, authenticator=_authenticate,
                            auth_require_tls=False, ready_timeout=10, **kwargs)  # fmt: skip
    controller.start()
    return controller


@contextmanager
def serving(**options: Any) -> Iterator[Inbox]:
    """An SMTP server on 127.0.0.1 for the length of the ``with`` (``Inbox`` fields as options)."""
    inbox = Inbox(free_port(), **options)
    controller = start(inbox)
    try:
        yield inbox
    finally:
        controller.stop()


def add_config(series_dir: Path, name: str = "tiny") -> None:
    """Give the series one kconfig fragment: the gate asks for build and boot per config."""
    (series_dir / f"{name}.config").write_text("CONFIG_X86_64=y\n")
    text = (series_dir / "series.yaml").read_text()
    assert "\nconfigs:" not in text
    (series_dir / "series.yaml").write_text(text + f"configs:\n- name: {name}\n  fragment: {name}.config\n")


def write_verify_record(series_dir: Path, tree: GitTree, **verdicts: str) -> Path:
    """The verify record patchkit's own writer makes for the applied series (a small tree cannot build a
    kernel): every config's build and boot ``passed`` unless ``verdicts`` says otherwise (``build``, ``boot``,
    ``lint``, ``passed`` = "yes"/"no")."""
    series = load_series(series_dir)
    kernel = KernelTree(tree.path)
    configs = {c.name: ConfigVerdict(verdicts.get("build", "passed"), verdicts.get("boot", "passed"))
               for c in series.configs}  # fmt: skip
    return record_verify(kernel, series, require_record(kernel, series.name), lint=verdicts.get("lint", "passed"),
                         configs=configs, passed=verdicts.get("passed", "yes") == "yes")  # fmt: skip


def mailable(project: Project) -> Project:
    """The applied demo mail series with a config and a verify record that opens the gate."""
    add_config(project.series)
    write_verify_record(project.series, project.tree)
    return project


def send(project: Path, tree: GitTree, port: int, *extra: str) -> CliResult:
    return run_cli("send", "--tree", str(tree.path), "--smtp-server", "127.0.0.1", "--smtp-port", str(port),
                   "--smtp-encryption", "none", *extra, cwd=project)  # fmt: skip


def wire_form(path: Path) -> bytes:
    """A mail file as it must arrive: without the mbox line, CRLF line endings (the Date is the send's)."""
    raw = path.read_bytes()
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1]
    return raw.replace(b"\n", b"\r\n")


def without_date(data: bytes) -> tuple[bytes, bytes]:
    """The mail with its Date: line taken out, and that line."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    date = next(line for line in lines if line.startswith(b"Date: "))
    return b"\r\n".join(line for line in lines if line is not date) + sep + body, date


def _c_file(number: int) -> str:
    lines = ["// SPDX-License-Identifier: GPL-2.0", f"/* Part {number} of the demo driver; Zoë's counters. */", ""]
    for fn in range(14):
        lines += [
            f"static int demo_part{number}_step{fn}(int value)",
            "{",
            f"\tint scaled = value * {fn + 2} + {number};",
            "",
            "\tif (scaled > 4096)",
            "\t\treturn -1;",
            "\treturn scaled;",
            "}",
            "",
        ]
    return "\n".join(lines) + "\n"


def real_size_series(project: Path, tree: GitTree, count: int = 10) -> Path:
    """A mailable series of ``count`` patches whose mails are the size of a real series' (a few KB each, a
    cover of several KB): each adds a C file of ~75 lines; non-ASCII in a name and a file; a cover line that
    is a lone dot and one that starts with two (SMTP's end-of-data mark and its dot-stuffing)."""
    patches: list[dict[str, object]] = []
    diffs: dict[str, str] = {}
    for number in range(1, count + 1):
        text = _c_file(number)
        body_lines = text.count("\n")
        name = f"{number:04d}-demo-part{number}.diff"
        diffs[name] = (
            f"diff --git a/drivers/demo/part{number}.c b/drivers/demo/part{number}.c\nnew file mode 100644\n"
            f"index 000000000000..{number:012x}\n--- /dev/null\n+++ b/drivers/demo/part{number}.c\n"
            f"@@ -0,0 +1,{body_lines} @@\n" + "".join(f"+{line}\n" for line in text.splitlines())
        )
        author = {"name": "Zoë Ærø", "email": "zoe@example.org"} if number == 1 else {
            "name": "Test Author", "email": "author@example.org"}  # fmt: skip
        patches.append({
            "subject": f"demo: Add the part {number} helpers",
            "author": author,
            "date": f"2026-02-{number:02d}T10:00:00+00:00",
            "body": "\n".join([
                f"Part {number} of the demo driver needs its own scaling helpers: the",
                "callers pass raw register values and expect them scaled by the",
                "step number, with anything above the hardware limit refused.",
                "",
                "Keep each helper static; nothing outside this file calls them yet,",
                "and the next patches wire them up one by one.",
            ]),
            "trailers": [f"Signed-off-by: {author['name']} <{author['email']}>"],
            "diff": name,
        })  # fmt: skip
    cover = "\n".join(
        ["The demo driver grows in ten steps, one file each, so that every step",
         "builds and can be reviewed on its own.", "", "What the parts do:", ""]
        + [f" - part {n}: scaling helpers for the step-{n} registers, refusing" for n in range(1, count + 1)]
        + ["", ".", "..and the lines above and here start with dots on purpose.", "",
           "Every patch was built and booted on its own."]
    )  # fmt: skip
    data = {
        "name": "demo", "revision": 1, "subject_prefix": "PATCH",
        "base": {"package": "linux-source-6.1", "version": "6.1.99", "tree": tree.tree_hash("patchkit-base")},
        "to": ["x86@kernel.org"], "cc": ["linux-kernel@vger.kernel.org"],
        "cover": {"subject": "demo: Grow the demo driver in ten steps", "body": cover},
        "changelog": [{"revision": 1, "changes": "First posting."}],
        "patches": patches,
    }  # fmt: skip
    return write_series(project / "series" / "demo", data, diffs)
