"""Fault-test helpers: traffic with a unique marker per message, and an audit read from the servers.

Every message carries a marker (``flt-<run>-e-0042`` for a mail, ``-c-`` for a chat message) in its
body. The audit counts markers where people read them: the bot's events in Synapse's room (paged with
``/messages``) and each member's IMAP INBOX, never the bridge's store. A marker seen twice is doubled,
a marker missing is lost; both name the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aioimaplib
import aiosmtplib
from nio import AsyncClient, AsyncClientConfig, RoomSendResponse

from bridge.devstack.community import prepare_community
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack
from tests.e2e.conftest import FIRST_SYNC, RunningBridge, wait_for
from tests.fixtures.servers import Mailbox, mailbox_owner

START_SECONDS = 60.0
MARKER = re.compile(r"flt-[0-9a-f]{6}-[ec]-\d{4}")


async def launch_bridge(stack: Stack, directory: Path, *, outbox: str | None = None) -> RunningBridge:
    """A fresh demo community on ``stack`` and its ``icop run``, started and in the room.

    ``outbox`` replaces the demo's ``[outbox]`` settings (say, more attempts to outlast a long outage).
    """
    suffix = f"-{secrets.token_hex(3)}"
    community = prepare_community(stack, directory, user_suffix=suffix, web_port=free_port())
    if outbox is not None:
        config = community.config_path.read_text()
        start = config.index("[outbox]")
        end = config.index("\n\n", start)
        community.config_path.write_text(config[:start] + "[outbox]\n" + outbox.strip() + config[end:])
    bridge = RunningBridge(stack, community, directory / "icop.log")
    bridge.start()
    await wait_for(lambda: "icop-bridge running" in bridge.log(), START_SECONDS, "icop run to start")
    await wait_for(lambda: _bot_joined(bridge), START_SECONDS, "the bot to join the room")
    # Chat sent before the first sync took its position is the room's history, not relayed.
    await wait_for(lambda: FIRST_SYNC in bridge.log(), START_SECONDS, "the bot's first sync")
    return bridge


def _bot_joined(bridge: RunningBridge) -> bool:
    room = urllib.parse.quote(bridge.community.room_id)
    state: list[dict[str, Any]] = _get(bridge, f"/rooms/{room}/state")  # type: ignore[assignment]
    bot = bridge.community.bot.user_id
    return any(
        e.get("type") == "m.room.member"
        and e.get("state_key") == bot
        and e.get("content", {}).get("membership") == "join"
        for e in state
    )


def _get(bridge: RunningBridge, path: str) -> dict[str, Any] | list[Any]:
    user = bridge.community.member("ana").matrix
    assert user is not None
    request = urllib.request.Request(
        f"{bridge.stack.homeserver_url}/_matrix/client/v3{path}",
        headers={"Authorization": f"Bearer {user.access_token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] | list[Any] = json.loads(response.read())
    return answer


# -- traffic ------------------------------------------------------------------------------------


@dataclass
class Traffic:
    """Mails from the email-only members to the list and chat messages from Kenji, each marked.

    A send that fails (its server is down) is retried, as a person would, with the same Message-ID or
    Matrix transaction id, so a retry that had in fact gone through is recognised downstream.
    """

    bridge: RunningBridge
    run: str = field(default_factory=lambda: secrets.token_hex(3))
    mails: list[str] = field(default_factory=list)
    """Markers of the mails accepted by the SMTP server."""
    chats: list[str] = field(default_factory=list)
    """Markers of the chat messages accepted by Synapse."""
    send_failures: int = 0
    _smtp: aiosmtplib.SMTP | None = None
    _client: AsyncClient | None = None

    def marker(self, kind: str, number: int) -> str:
        return f"flt-{self.run}-{kind}-{number:04d}"

    async def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await self._smtp.quit()
            self._smtp.close()
            self._smtp = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send_mails(self, count: int, *, rate: float, first: int = 0) -> None:
        """``count`` mails at ``rate`` per second, from Siobhán and Priya in turn."""
        for number in range(first, first + count):
            began = time.monotonic()
            await self.send_mail(number)
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - began)))

    async def send_mail(self, number: int) -> None:
        marker = self.marker("e", number)
        author = self.bridge.community.member("siobhan" if number % 2 == 0 else "priya")
        message = EmailMessage()
        message["From"] = f"{author.name} <{author.email}>"
        message["To"] = self.bridge.community.list_address
        message["Subject"] = f"Fault drill {marker}"
        message["Message-ID"] = make_msgid(idstring=marker, domain="example.test")
        message.set_content(f"Message {marker} from {author.name}.\n")
        while True:
            try:
                smtp = await self._smtp_connection()
                errors, _ = await smtp.send_message(message)
                assert not errors, errors
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self.send_failures += 1
                if self._smtp is not None:
                    self._smtp.close()
                self._smtp = None
                await asyncio.sleep(1)
                continue
            self.mails.append(marker)
            return

    async def _smtp_connection(self) -> aiosmtplib.SMTP:
        if self._smtp is None or not self._smtp.is_connected:
            stack = self.bridge.stack
            smtp = aiosmtplib.SMTP(
                hostname=stack.smtp_host, port=stack.smtp_port, start_tls=False, use_tls=False, timeout=10
            )
            await smtp.connect()
            self._smtp = smtp
        return self._smtp

    async def send_chats(self, count: int, *, rate: float, first: int = 0) -> None:
        """``count`` room messages from Kenji at ``rate`` per second."""
        for number in range(first, first + count):
            began = time.monotonic()
            await self.send_chat(number)
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - began)))

    async def send_chat(self, number: int) -> None:
        marker = self.marker("c", number)
        content = {"msgtype": "m.text", "body": f"Chat {marker} from Kenji."}
        while True:
            try:
                response = await self._matrix().room_send(
                    self.bridge.community.room_id, "m.room.message", content, tx_id=marker
                )
            except (OSError, TimeoutError):
                response = None
            if isinstance(response, RoomSendResponse):
                self.chats.append(marker)
                return
            self.send_failures += 1
            await asyncio.sleep(1)

    def _matrix(self) -> AsyncClient:
        if self._client is None:
            kenji = self.bridge.community.member("kenji").matrix
            assert kenji is not None
            config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=1, request_timeout=10)
            client = AsyncClient(
                self.bridge.stack.homeserver_url, kenji.user_id, device_id=kenji.device_id, config=config
            )
            client.restore_login(kenji.user_id, kenji.device_id, kenji.access_token)
            self._client = client
        return self._client

    # -- what each side should see --------------------------------------------------------------
    def expected_mailboxes(self) -> dict[str, list[str]]:
        """Each member's address → the markers they should find in their INBOX (never their own)."""
        members = self.bridge.community.members
        expected: dict[str, list[str]] = {m.email: [] for m in members.values()}
        for marker in self.mails:
            author = "siobhan" if int(marker[-4:]) % 2 == 0 else "priya"
            for key, member in members.items():
                if key != author:
                    expected[member.email].append(marker)
        for marker in self.chats:
            for key, member in members.items():
                if key != "kenji":
                    expected[member.email].append(marker)
        return expected


# -- the audit ----------------------------------------------------------------------------------


def room_markers(bridge: RunningBridge) -> Counter[str]:
    """How often each marker appears in the bot's messages in the room, paging the whole timeline."""
    room = urllib.parse.quote(bridge.community.room_id)
    bot = bridge.community.bot.user_id
    found: Counter[str] = Counter()
    token = ""
    while True:
        page = _get(bridge, f"/rooms/{room}/messages?dir=b&limit=1000{token}")
        assert isinstance(page, dict)
        for event in page.get("chunk", []):
            if event.get("sender") == bot and event.get("type") == "m.room.message":
                found.update(set(MARKER.findall(str(event.get("content", {}).get("body", "")))))
        if not page.get("chunk") or "end" not in page:
            return found
        token = f"&from={urllib.parse.quote(page['end'])}"


async def mailbox_count(stack: Stack, address: str) -> int:
    """Messages in the INBOX of ``address`` right now (0 when it has none yet)."""
    client = aioimaplib.IMAP4(stack.imap_host, stack.imap_port, timeout=10)
    try:
        await client.wait_hello_from_server()
        await client.login(mailbox_owner(address), stack.mail_password)
        status = await client.status("INBOX", "(MESSAGES)")
        with contextlib.suppress(aioimaplib.AioImapException, OSError, TimeoutError):
            await client.logout()
    finally:
        transport = client.protocol.transport if client.protocol is not None else None
        if transport is not None and not transport.is_closing():
            transport.close()
    if status.result != "OK":
        return 0
    match = re.search(rb"MESSAGES (\d+)", b" ".join(line for line in status.lines if isinstance(line, bytes)))
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class MailboxAudit:
    markers: Counter[str]
    """Each marker's copies in the INBOX."""
    message_ids: Counter[str]
    """Each marker's distinct Message-IDs (a copy sent again after a crash keeps its Message-ID)."""


async def mailbox_markers(stack: Stack, address: str) -> MailboxAudit:
    """The markers in every message of the INBOX of ``address``."""
    markers: Counter[str] = Counter()
    ids: dict[str, set[str]] = {}
    async with Mailbox(stack, address, timeout=60) as inbox:
        for message in await inbox.messages():
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            found = set(MARKER.findall(f"{message['Subject']}\n{text}"))
            markers.update(found)
            for marker in found:
                ids.setdefault(marker, set()).add(str(message["Message-ID"]))
    return MailboxAudit(markers, Counter({m: len(v) for m, v in ids.items()}))


@dataclass
class Audit:
    """Lost and doubled messages on each side, by marker."""

    lost: dict[str, list[str]] = field(default_factory=dict)
    doubled: dict[str, list[str]] = field(default_factory=dict)
    redelivered: dict[str, list[str]] = field(default_factory=dict)
    """Copies of one mail (same Message-ID) delivered again: at-least-once, collapsed by mail readers."""

    def add(self, where: str, expected: Iterable[str], seen: Counter[str], ids: Counter[str] | None) -> None:
        expected = list(expected)
        lost = [m for m in expected if seen[m] == 0]
        unexpected = [m for m in seen if m not in set(expected)]
        counted = ids if ids is not None else seen
        doubled = [m for m in expected if counted[m] > 1] + unexpected
        redelivered = [m for m in expected if ids is not None and seen[m] > 1 and ids[m] == 1]
        if lost:
            self.lost[where] = lost
        if doubled:
            self.doubled[where] = doubled
        if redelivered:
            self.redelivered[where] = redelivered

    def summary(self) -> str:
        """Counts and the first few markers of each problem, short enough for an assertion message."""
        parts = []
        for name, problems in (("lost", self.lost), ("doubled", self.doubled)):
            for where, markers in problems.items():
                parts.append(f"{name} {len(markers)} in {where}: {', '.join(markers[:5])}")
        return "; ".join(parts) or "nothing lost or doubled"

    @property
    def lost_count(self) -> int:
        return sum(len(v) for v in self.lost.values())

    @property
    def doubled_count(self) -> int:
        return sum(len(v) for v in self.doubled.values())

    @property
    def redelivered_count(self) -> int:
        return sum(len(v) for v in self.redelivered.values())


async def audit(traffic: Traffic) -> Audit:
    """Compare what each side received with what was sent."""
    bridge = traffic.bridge
    result = Audit()
    result.add("room", traffic.mails, room_markers(bridge), None)
    for address, expected in traffic.expected_mailboxes().items():
        mailbox = await mailbox_markers(bridge.stack, address)
        result.add(address, expected, mailbox.markers, mailbox.message_ids)
    return result


async def wait_for_drain(traffic: Traffic, timeout: float) -> float:
    """Wait until the room and every INBOX hold at least what was sent; return the seconds it took."""
    bridge = traffic.bridge
    began = time.monotonic()
    room_needed = len(traffic.mails)
    mail_needed = {a: len(m) for a, m in traffic.expected_mailboxes().items()}

    async def drained() -> bool:
        for address, needed in mail_needed.items():
            if await mailbox_count(bridge.stack, address) < needed:
                return False
        return sum(room_markers(bridge).values()) >= room_needed  # paging the room costs most: last

    try:
        await wait_for(drained, timeout, "every message to arrive", interval=1.0)
    except AssertionError:
        have = {a: await mailbox_count(bridge.stack, a) for a in mail_needed}
        room = sum(room_markers(bridge).values())
        raise AssertionError(
            f"not drained after {timeout:.0f} s: room {room}/{room_needed}, mailboxes "
            + ", ".join(f"{a} {have[a]}/{n}" for a, n in mail_needed.items())
            + f"; see {bridge.log_path} and {bridge.stack.root}"
        ) from None
    return time.monotonic() - began


def log_lines(bridge: RunningBridge, since: int, level: str = "WARNING") -> list[str]:
    """The log lines of ``level`` (or worse) written after offset ``since`` of the daemon's log."""
    levels = {"WARNING": ("WARNING", "ERROR", "CRITICAL"), "ERROR": ("ERROR", "CRITICAL")}[level]
    text = bridge.log()[since:]
    return [
        line
        for line in text.splitlines()
        if any(f'"{name}"' in line or f" {name} " in line for name in levels)
    ]
