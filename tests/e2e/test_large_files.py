"""Files over a community's ``max_attachment_bytes`` (10 MB here, the default) end to end: never
dropped, never uploaded or mailed as they are; each becomes a link to the daemon's ``/files/`` route,
which serves the exact bytes with safe headers.

Outcomes:
- a 20 MB mail (19 MB attachment) → its text is a post in the room, the file a link message in the
  same thread; email members get the text and a link line; the link serves the 19 MB file; the
  daemon keeps running.
- an 11 MB file sent in the room → email members get a link line; the link serves the file, fetched
  from the homeserver with the bot's token (the store keeps only the mxc:// URI for files over the
  limit).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import urllib.request
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

import pytest
from nio import AsyncClient, RoomSendResponse, UploadResponse

from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_relay import mail_from

pytestmark = pytest.mark.servers
log = logging.getLogger(__name__)

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]
MatrixClient = Callable[[MatrixUser], AsyncClient]

FILE_LINK = re.compile(r"http://127\.0\.0\.1:\d+/files/\d+/\d+/[A-Za-z0-9_.-]+")
BIG_WAIT = 90.0


def _fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, dict(response.headers), response.read()


def _payload(size: int) -> bytes:
    block = hashlib.sha256(b"icop").digest() * 32  # 1 KiB, not compressible by accident of zeros
    return (block * (size // len(block) + 1))[:size]


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


async def test_a_20_mb_mail_relays_its_text_and_links_its_file(
    bridge_factory: BridgeFactory, send_mail: SendMail, read_mailbox: ReadMailbox
) -> None:
    """20 MB mail → text relayed; the 19 MB file a link in the thread and in mail; daemon alive."""
    bridge = await bridge_factory()
    data = _payload(19_000_000)
    mail = mail_from(bridge, "siobhan", "The full survey", "The raw survey data is attached.")
    mail.add_attachment(data, maintype="application", subtype="octet-stream", filename="survey data.bin")
    started = time.monotonic()
    await send_mail(mail)

    root, link_event = await bridge.wait_for_bot_events(2, timeout=BIG_WAIT)
    in_room = time.monotonic() - started
    assert "The raw survey data is attached." in root["content"]["body"]
    assert link_event["content"]["msgtype"] == "m.text"  # a link message, not an upload
    assert "url" not in link_event["content"]
    assert link_event["content"]["m.relates_to"]["event_id"] == root["event_id"]
    body = link_event["content"]["body"]
    assert "survey data.bin (19 MB, too large to attach)" in body
    match = FILE_LINK.search(body)
    assert match, body

    status, headers, served = await asyncio.to_thread(_fetch, match.group(0))
    assert status == 200
    assert hashlib.sha256(served).digest() == hashlib.sha256(data).digest()
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"] == 'attachment; filename="survey data.bin"'

    [copy] = await read_mailbox(bridge.community.member("priya").email, timeout=BIG_WAIT)
    assert len(copy.as_bytes()) < 100_000  # the link, not the file
    assert not list(copy.iter_attachments())
    text = _text_of(copy)
    assert "The raw survey data is attached." in text
    assert "[file: survey data.bin, 19 MB]" in text
    mailed = FILE_LINK.search(text)
    assert mailed, text
    status, _, again = await asyncio.to_thread(_fetch, mailed.group(0))
    assert (status, len(again)) == (200, len(data))

    assert bridge.process is not None
    assert bridge.process.poll() is None
    print(f"20 MB mail: in the room after {in_room:.1f} s")


async def test_a_chat_file_over_the_limit_is_mailed_as_a_link_fetched_from_the_homeserver(
    bridge_factory: BridgeFactory, read_mailbox: ReadMailbox, matrix_client: MatrixClient
) -> None:
    """11 MB file in the room → email members get a link line; the link serves it from Synapse."""
    bridge = await bridge_factory()
    kenji = bridge.community.member("kenji").matrix
    assert kenji is not None
    client = matrix_client(kenji)
    data = _payload(11_000_000)
    upload, _ = await client.upload(
        lambda *_: data, content_type="application/zip", filename="site photos.zip", filesize=len(data)
    )
    assert isinstance(upload, UploadResponse), upload
    content = {
        "msgtype": "m.file",
        "body": "site photos.zip",
        "filename": "site photos.zip",
        "url": upload.content_uri,
        "info": {"mimetype": "application/zip", "size": len(data)},
    }
    sent = await client.room_send(bridge.community.room_id, "m.room.message", content)
    assert isinstance(sent, RoomSendResponse), sent

    [copy] = await read_mailbox(bridge.community.member("priya").email, timeout=BIG_WAIT)
    assert not list(copy.iter_attachments())
    text = _text_of(copy)
    assert "[file: site photos.zip, 11 MB]" in text
    match = FILE_LINK.search(text)
    assert match, text
    assert "mxc://" not in text
    status, headers, served = await asyncio.to_thread(_fetch, match.group(0))
    assert status == 200
    assert served == data
    assert headers["Content-Type"] == "application/zip"
    assert headers["Content-Disposition"] == 'attachment; filename="site photos.zip"'
    await wait_for(lambda: bridge.process is not None and bridge.process.poll() is None, 1, "daemon alive")
