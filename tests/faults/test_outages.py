"""Server outages while messages flow: Synapse, Postfix and Dovecot each stopped, then back on their port.

A dedicated stack (the session's is shared with other tests) is stopped server by server. Each case
gets: the daemon logs the outage once (not once per retry) and its end; every message sent before,
during and after it arrives exactly once in the room and in every member's INBOX. People retry a send
their own server refused (Kenji's chat while Synapse is down, a mail while Postfix is down), as they
would. A delivery that keeps failing past its limit is parked as dead, the convener is told in the room,
and ``icop outbox retry`` sends it once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.devstack.process import StackError
from bridge.devstack.stack import Stack
from tests.e2e.conftest import RunningBridge, wait_for
from tests.faults.conftest import Traffic, audit, launch_bridge, log_lines, wait_for_drain
from tests.fixtures.servers import stack_unavailable

pytestmark = pytest.mark.servers

OUTAGE_SECONDS = 30.0
LONG_OUTAGE_SECONDS = 300.0
RATE = 2.0
DRAIN_TIMEOUT = 180.0
PATIENT_OUTBOX = "max_attempts = 60\nbackoff_base_seconds = 1\nbackoff_max_seconds = 10"
"""60 attempts at most 10 s apart outlast a 5-minute outage; the demo's 12 would park mail as dead."""


@pytest.fixture(scope="module")
def outage_stack() -> Iterator[Stack]:
    """A stack of this module's own, whose servers these tests stop and start; nothing outlives it."""
    running = Stack()
    try:
        running.start()
    except StackError as error:
        stack_unavailable(str(error))
    try:
        yield running
    finally:
        running.stop()
    assert running.leftover_processes() == []


async def _outage_while_flowing(
    bridge: RunningBridge, servers: list[str], seconds: float, messages: int
) -> tuple[Traffic, float, list[str]]:
    """Stream ``messages`` each way; a few seconds in, stop ``servers`` for ``seconds``.

    Returns the traffic, the drain time after the servers came back, and the WARNING/ERROR log lines
    written from the outage on.
    """
    stack = bridge.stack
    traffic = Traffic(bridge)
    try:
        await traffic.send_mails(2, rate=10)  # the path works before the outage
        await traffic.send_chats(2, rate=10)
        await wait_for_drain(traffic, DRAIN_TIMEOUT)
        log_offset = len(bridge.log())
        back = 0.0

        async def outage() -> None:
            nonlocal back
            await asyncio.sleep(3)
            for name in servers:
                stack.stop_server(name)
            await asyncio.sleep(seconds)
            for name in servers:
                stack.start_server(name)
            back = time.monotonic()

        await asyncio.gather(
            traffic.send_mails(messages, rate=RATE, first=2),
            traffic.send_chats(messages, rate=RATE, first=2),
            outage(),
        )
        await wait_for_drain(traffic, DRAIN_TIMEOUT)
        drain = time.monotonic() - back
    finally:
        await traffic.close()
    return traffic, drain, log_lines(bridge, log_offset)


@pytest.mark.parametrize("server", ["synapse", "smtp", "dovecot"])
async def test_a_server_down_for_30_s_loses_and_doubles_nothing(
    outage_stack: Stack, tmp_path: Path, server: str
) -> None:
    bridge = await launch_bridge(outage_stack, tmp_path / "bridge", outbox=PATIENT_OUTBOX)
    try:
        traffic, drain, lines = await _outage_while_flowing(bridge, [server], OUTAGE_SECONDS, 40)
        await asyncio.sleep(2)  # a late duplicate would show up here
        result = await audit(traffic)
    finally:
        assert bridge.stop() == 0
    print(
        f"\n{server} down {OUTAGE_SECONDS:.0f} s: {len(traffic.mails)} mails, {len(traffic.chats)} chats; "
        f"drained {drain:.1f} s after it was back; lost {result.lost_count}, doubled {result.doubled_count}; "
        f"{len(lines)} warning lines:\n" + "\n".join(lines)
    )
    assert result.lost_count == result.doubled_count == 0, result.summary()
    assert 1 <= len(lines) <= 3, lines


async def test_every_server_down_for_5_minutes_loses_and_doubles_nothing(
    outage_stack: Stack, tmp_path: Path
) -> None:
    """The worst case at once (the host's network gone, say): every backoff reaches its cap."""
    bridge = await launch_bridge(outage_stack, tmp_path / "bridge", outbox=PATIENT_OUTBOX)
    servers = ["synapse", "smtp", "dovecot"]
    try:
        traffic, drain, lines = await _outage_while_flowing(bridge, servers, LONG_OUTAGE_SECONDS, 20)
        await asyncio.sleep(2)
        result = await audit(traffic)
    finally:
        assert bridge.stop() == 0
    print(
        f"\nall down {LONG_OUTAGE_SECONDS:.0f} s: {len(traffic.mails)} mails, {len(traffic.chats)} chats; "
        f"drained {drain:.1f} s after they were back; lost {result.lost_count}, "
        f"doubled {result.doubled_count}; {len(lines)} warning lines:\n" + "\n".join(lines)
    )
    assert result.lost_count == result.doubled_count == 0, result.summary()
    assert 1 <= len(lines) <= 6, lines


def _icop(bridge: RunningBridge, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(bridge.community.config_path)
    return subprocess.run(
        [sys.executable, "-m", "bridge", "--config", config, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_delivery_failing_past_its_limit_is_dead_told_and_retried(
    outage_stack: Stack, tmp_path: Path
) -> None:
    """Postfix down longer than three attempts: the mails of a chat message are parked as dead, the
    convener sees a notice in the room, and ``icop outbox retry`` delivers them once Postfix is back."""
    outbox = "max_attempts = 3\nbackoff_base_seconds = 1\nbackoff_max_seconds = 2"
    bridge = await launch_bridge(outage_stack, tmp_path / "bridge", outbox=outbox)
    traffic = Traffic(bridge)
    try:
        outage_stack.stop_server("smtp")
        try:
            await traffic.send_chat(0)
            dead = await wait_for(lambda: _dead(bridge, 3), 60, "three dead deliveries")
            notices = await wait_for(lambda: _notices(bridge, 3), 60, "three notices in the room")
        finally:
            outage_stack.start_server("smtp")
        assert {entry["recipient"] for entry in dead} == {
            address for address, markers in traffic.expected_mailboxes().items() if markers
        }
        for entry in dead:  # each notice names the delivery and the command that sends it again
            assert any(f"icop outbox retry {entry['id']}" in notice for notice in notices), notices
        retried = _icop(bridge, "outbox", "retry")
        assert retried.returncode == 0, retried.stderr
        assert "3 dead deliveries queued again" in retried.stdout
        await wait_for_drain(traffic, DRAIN_TIMEOUT)
        await asyncio.sleep(2)
        result = await audit(traffic)
        assert result.lost_count == result.doubled_count == 0, result.summary()
        assert _dead(bridge, 0) == []
    finally:
        await traffic.close()
        assert bridge.stop() == 0


def _dead(bridge: RunningBridge, count: int) -> list[dict[str, object]] | None:
    listed = _icop(bridge, "outbox", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    return entries if len(entries) == count else None


def _notices(bridge: RunningBridge, count: int) -> list[str] | None:
    notices = [
        str(e["content"]["body"]) for e in bridge.bot_events() if e["content"].get("msgtype") == "m.notice"
    ]
    return notices if len(notices) >= count else None
