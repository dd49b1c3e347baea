"""kill -9 while messages flow: after a restart and a drain, every message is there exactly once.

500 mails from the email-only members and 500 chat messages from Kenji stream in while ``icop run`` is
killed with SIGKILL at seeded random moments and started again. What counts is what people see: the
bot's messages in Synapse's room and every member's IMAP INBOX. Each case gets: a lost marker fails the
test, a marker under two Message-IDs (or posted twice in the room) fails the test; the same mail
delivered again under its own Message-ID (a kill between the SMTP server's 250 and the commit) is
at-least-once as DESIGN §3 allows, collapsed by mail readers, and is reported.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path

import pytest

from bridge.devstack.stack import Stack
from tests.e2e.conftest import wait_for
from tests.faults.conftest import Traffic, audit, launch_bridge, wait_for_drain

pytestmark = pytest.mark.servers

MESSAGES = 500
RATE = 40.0
"""Per second each way: the stream lasts ~12 s, long enough for several kills to interrupt it."""
KILLS = 4
SEED = 20261125
DRAIN_TIMEOUT = 240.0


async def test_kill_9_while_streaming_loses_and_doubles_nothing(stack: Stack, tmp_path: Path) -> None:
    bridge = await launch_bridge(stack, tmp_path / "bridge")
    traffic = Traffic(bridge)
    rng = random.Random(SEED)
    # Kill at random points of the stream (counted in mails sent), each time down for a random moment.
    kill_after = sorted(rng.sample(range(25, MESSAGES - 25), KILLS))
    downtimes = [rng.uniform(0.0, 1.5) for _ in range(KILLS)]
    last_start = 0.0

    async def killer() -> None:
        nonlocal last_start
        for after, down in zip(kill_after, downtimes, strict=True):
            await wait_for(lambda: len(traffic.mails) >= after, 300, f"mail {after}", interval=0.02)  # noqa: B023
            assert bridge.stop(signal.SIGKILL) == -signal.SIGKILL
            await asyncio.sleep(down)
            bridge.start()
            last_start = time.monotonic()

    try:
        began = time.monotonic()
        sent_seconds = await traffic.stream(MESSAGES, rate=RATE, alongside=killer())
        drain = await wait_for_drain(traffic, DRAIN_TIMEOUT)
        total = time.monotonic() - began
        since_last_start = began + total - last_start
        await asyncio.sleep(3)  # a late duplicate would show up here
        result = await audit(traffic)
    finally:
        await traffic.close()
        bridge.stop()
    mails_delivered = sum(len(m) for m in traffic.expected_mailboxes().values())
    print(
        f"\nkill -9 x{KILLS} after mail {kill_after}: sent {len(traffic.mails)} mails and "
        f"{len(traffic.chats)} chats in {sent_seconds:.1f} s; drained {drain:.1f} s after the last send, "
        f"{since_last_start:.1f} s after the last restart; "
        f"{len(traffic.mails) + mails_delivered} deliveries in {total:.1f} s "
        f"({(len(traffic.mails) + mails_delivered) / total:.0f}/s); lost {result.lost_count}, "
        f"doubled {result.doubled_count}, redelivered under the same Message-ID {result.redelivered_count}"
    )
    assert bridge.starts == KILLS + 1
    assert len(traffic.mails) == len(traffic.chats) == MESSAGES
    assert result.lost_count == result.doubled_count == 0, result.summary()
