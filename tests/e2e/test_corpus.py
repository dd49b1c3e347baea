"""A selection of the hostile-mail corpus (``tests/fixtures/mail/corpus/``) through Postfix into the real
Dovecot mailbox the running daemon reads, then a normal member's mail: the list keeps flowing, and each
hostile mail gets its outcome without blocking the loop or stopping the daemon.

| corpus mail (From as sent)                                 | outcome                                    |
|------------------------------------------------------------|--------------------------------------------|
| spamassassin/badmime2.eml (a stranger's spam, boundary="")  | held: the room gets a notice with its       |
|                                                            | number only, never its subject             |
| cpython/msg_19.txt (no header at all)                      | held (no author): the same short notice     |
| flanker/bounce-gmail-invalid-address.eml (member's From)   | bounce: not relayed                        |
| cpython/msg_16.txt (DSN, member's From)                    | bounce: not relayed                        |
| flanker/complaint-yahoo-arf.eml (member's From)            | automatic (ARF report): not relayed        |
| flanker/disposition-notification.eml (member's From)       | automatic (read receipt): not relayed      |
| spamassassin/badctype1.eml (member's From)                 | relayed: "Content-Type: text plain" read   |
| cpython/msg_17.txt (member's From)                         | relayed: multipart without boundaries      |
| cpython/msg_11.txt (member's From)                         | relayed: message/rfc822 as the whole mail, |
|                                                            | the room gets it as an .eml file           |
| a normal member's mail, sent last                          | relayed, the last post in the room         |

Nothing is parked, nothing is dead in the outbox, the daemon is alive.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest

from bridge.devstack.stack import Stack
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_hostile import BridgeFactory, alive, outbox_dead, raw_mail, send_raw
from tests.fixtures.mail_corpus import CORPUS, as_member

pytestmark = pytest.mark.servers

HELD = ["spamassassin/badmime2.eml", "cpython/msg_19.txt"]
NOT_RELAYED = [
    "flanker/bounce-gmail-invalid-address.eml",
    "cpython/msg_16.txt",
    "flanker/complaint-yahoo-arf.eml",
    "flanker/disposition-notification.eml",
]
RELAYED = {  # file: a text the room's event shows
    "spamassassin/badctype1.eml": "totally <br> natural",
    "cpython/msg_17.txt": "This is the dingus fish.",
    "cpython/msg_11.txt": "An enclosed message.eml",
}


def _icop_json(bridge: RunningBridge, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(bridge.community.config_path), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_hostile_corpus_mail_never_blocks_the_list(bridge_factory: BridgeFactory, stack: Stack) -> None:
    bridge = await bridge_factory()
    member = bridge.community.member("siobhan")
    member_from = f"From: Siobhan Murphy <{member.email}>".encode()
    stranger = "someone@elsewhere.example"
    for name in HELD:
        await send_raw(stack, bridge, (CORPUS / name).read_bytes(), sender=stranger)
    for name in [*NOT_RELAYED, *RELAYED]:
        await send_raw(stack, bridge, as_member((CORPUS / name).read_bytes(), member_from))
    await send_raw(
        stack, bridge, raw_mail(bridge, "siobhan", "After the corpus", b"The list still flows.\r\n")
    )

    # 2 held notices, 3 posts and the .eml file, and the normal mail.
    await wait_for(
        lambda: any("The list still flows." in e["content"].get("body", "") for e in bridge.bot_events()),
        90,
        "the normal mail sent after the corpus",
    )
    events = await bridge.wait_for_bot_events(len(HELD) + len(RELAYED) + 1 + 1)
    await asyncio.sleep(2)  # long enough for a hostile mail relayed by mistake to show up too
    events = bridge.bot_events()
    assert len(events) == len(HELD) + len(RELAYED) + 1 + 1, [e["content"].get("body") for e in events]
    bodies = [e["content"].get("body", "") for e in events]
    notices = [b for e, b in zip(events, bodies, strict=True) if e["content"]["msgtype"] == "m.notice"]
    assert len(notices) == len(HELD)
    assert all(b.startswith("Held for a convener: post ") and "(by email)" in b for b in notices)
    assert not any("Cheap Soft" in b or "isomedia" in b or "ppp" in b.lower() for b in notices)
    for name, text in RELAYED.items():
        assert any(text in b for b in bodies), (name, bodies)
    assert not any("Delivery Status" in b or "Disposition" in b or "abuse report" in b for b in bodies)

    held = _icop_json(bridge, "held", "list")
    assert len(held) == len(HELD)
    assert _icop_json(bridge, "parked", "list") == []
    assert outbox_dead(bridge) == ""
    assert alive(bridge)
    log = bridge.log()
    assert log.count("mail not relayed (auto_reply)") == 2  # the ARF report and the read receipt
    assert "every later message waits" not in log
