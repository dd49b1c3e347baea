"""Pieces the mail transport tests share: configs pointing at the stack, an in-memory cursor store, a
recording ``handle``, and a way to run an inbox in the test's loop and always stop it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio

from bridge.config.schema import ImapConfig, SmtpConfig
from bridge.devstack.stack import Stack
from bridge.email.imap_responses import mailbox_name
from bridge.email.imap_session import close_quietly, open_imap
from bridge.email.inbox import Backoff, FetchedMail, ImapInbox, InboxCursor
from tests.fixtures.servers import mailbox_owner

from .tcp_link import TcpLink

FAST = Backoff(first=0.05, longest=0.4)
SendMail = Callable[..., Awaitable[None]]


class MemoryCursor:
    """An ``InboxCursorStore`` that remembers every save."""

    def __init__(self, cursor: InboxCursor | None = None) -> None:
        self.cursor = cursor
        self.saves: list[InboxCursor] = []

    async def load(self) -> InboxCursor | None:
        return self.cursor

    async def save(self, cursor: InboxCursor) -> None:
        self.cursor = cursor
        self.saves.append(cursor)


class Recorder:
    """A ``handle`` that records every message; ``fail_on`` makes it raise for chosen subjects."""

    def __init__(self) -> None:
        self.mails: list[FetchedMail] = []
        self.failures: list[int] = []
        self.fail_on: dict[str, int] = {}  # subject -> how many more times to raise
        self._arrived = asyncio.Condition()

    async def __call__(self, mail: FetchedMail) -> None:
        subject = subject_of(mail)
        if self.fail_on.get(subject, 0) > 0:
            self.fail_on[subject] -= 1
            self.failures.append(mail.uid)
            raise RuntimeError(f"store unavailable for {subject}")
        async with self._arrived:
            self.mails.append(mail)
            self._arrived.notify_all()

    @property
    def subjects(self) -> list[str]:
        return [subject_of(mail) for mail in self.mails]

    @property
    def uids(self) -> list[int]:
        return [mail.uid for mail in self.mails]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[FetchedMail]:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.mails) >= count)
        return self.mails


def subject_of(mail: FetchedMail) -> str:
    for line in mail.raw.split(b"\r\n"):
        if line.lower().startswith(b"subject:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


def message(to: str, subject: str, sender: str = "ana@example.org") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(f"{subject}\n")
    return mail


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)


@pytest.fixture
def imap_config(stack: Stack) -> Callable[..., ImapConfig]:
    """``imap_config(address, **keys)``: the stack's Dovecot, logged in as the mailbox of ``address``."""

    def build(address: str, **keys: Any) -> ImapConfig:
        values: dict[str, Any] = {
            "host": stack.imap_host,
            "port": stack.imap_port,
            "security": "none",
            "user": mailbox_owner(address),
            "password_env": "ICOP_IMAP_PASSWORD",
            **keys,
        }
        return ImapConfig(**values)

    return build


@pytest.fixture
def smtp_config(stack: Stack) -> Callable[..., SmtpConfig]:
    def build(**keys: Any) -> SmtpConfig:
        values: dict[str, Any] = {
            "host": stack.smtp_host,
            "port": stack.smtp_port,
            "security": "none",
            **keys,
        }
        return SmtpConfig(**values)

    return build


RunInbox = Callable[..., contextlib.AbstractAsyncContextManager[ImapInbox]]


@pytest.fixture
def run_inbox(stack: Stack) -> RunInbox:
    """``async with run_inbox(config, cursor=…, handle=…, **options) as inbox:`` runs it in a task;
    leaving the block stops it and checks that ``run`` returned by itself."""

    @contextlib.asynccontextmanager
    async def running(config: ImapConfig, **options: Any) -> AsyncIterator[ImapInbox]:
        options.setdefault("reconnect", FAST)
        options.setdefault("retry", FAST)
        inbox = ImapInbox(config, stack.mail_password, **options)
        task = asyncio.create_task(inbox.run(), name="inbox under test")
        try:
            yield inbox
        finally:
            inbox.stop()
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            finally:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        task.result()  # run() must end cleanly after stop()

    return running


async def flags_in(config: ImapConfig, password: str, folder: str | None = None) -> dict[int, set[str]]:
    """UID → flags of every message in ``folder`` (default: the configured mailbox), read on the side."""
    client = await open_imap(config, password)
    try:
        # Selected again with a quoted name: open_imap sends the configured name as it is.
        selected = await client.select(mailbox_name(folder or config.mailbox))
        assert selected.result == "OK", selected
        response = await client.uid("fetch", "1:*", "(UID FLAGS)")
        assert response.result == "OK", response
        found = {}
        for line in response.lines[:-1]:
            uid, flags = re.search(rb"UID (\d+)", line), re.search(rb"FLAGS \(([^)]*)\)", line)
            if uid and flags:
                found[int(uid[1])] = set(flags[1].decode().split())
        await client.logout()
        return found
    finally:
        close_quietly(client)


@pytest_asyncio.fixture
async def imap_link(stack: Stack) -> AsyncIterator[TcpLink]:
    """A cuttable link to the stack's Dovecot, up at the start."""
    link = TcpLink(stack.imap_host, stack.imap_port)
    await link.up()
    try:
        yield link
    finally:
        await link.down()


Deliver = Callable[..., Awaitable[None]]


@pytest.fixture
def deliver(stack: Stack, imap_config: Callable[..., ImapConfig], send_mail: SendMail) -> Deliver:
    """``await deliver(address, *subjects)``: one mail per subject, each sent once the one before has
    arrived (Postfix delivers in parallel, and the tests rely on UID order = subject order)."""

    async def send_in_order(address: str, *subjects: str) -> None:
        client = await open_imap(imap_config(address), stack.mail_password)
        try:
            count = _exists((await client.select("INBOX")).lines) or 0
            for subject in subjects:
                await send_mail(message(address, subject))
                async with asyncio.timeout(10):
                    # NOOP polling sees a delivery within milliseconds; IDLE would take ~0.5 s.
                    while (_exists((await client.noop()).lines) or 0) <= count:  # noqa: ASYNC110
                        await asyncio.sleep(0.005)
                count += 1
            await client.logout()
        finally:
            close_quietly(client)

    return send_in_order


def _exists(lines: list[Any]) -> int | None:
    counts = [
        int(m[1]) for line in lines if isinstance(line, bytes) and (m := re.match(rb"(\d+) EXISTS", line))
    ]
    return counts[-1] if counts else None
