"""End-to-end fixtures: ``icop run`` as a real subprocess against the real stack.

What each side saw is read from the servers themselves (Synapse's room timeline, each member's IMAP
mailbox), never from the bridge's store, so these tests check what people would actually receive.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio

from bridge.devstack.community import DemoCommunity, prepare_community, room_messages
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack

WAIT_SECONDS = 45.0  # an upper bound, see MAIL_TIMEOUT
FIRST_SYNC = "relaying from now on"  # logged by bridge.matrix.sync once the first position is saved


@dataclass
class RunningBridge:
    """One community on the stack and the ``icop run`` process serving it (restartable)."""

    stack: Stack
    community: DemoCommunity
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n----- start {self.starts} -----\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "--config", str(self.community.config_path), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Stop the daemon with ``sig`` (SIGKILL for a crash); returns its exit code."""
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else 0
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise AssertionError(f"icop run did not stop within {timeout} s after {sig!r}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # -- what the room shows ------------------------------------------------------------------
    def room_events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The room's message events, oldest first, as Synapse serves them."""
        user = self.community.member("ana").matrix
        assert user is not None
        return room_messages(self.stack.homeserver_url, user.access_token, self.community.room_id, limit)

    def bot_events(self) -> list[dict[str, Any]]:
        return [e for e in self.room_events() if e["sender"] == self.community.bot.user_id]

    async def wait_for_bot_events(self, count: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await wait_for(
            lambda: _at_least(self.bot_events(), count), timeout, f"{count} bot events"
        )
        return found


def _at_least(items: list[Any], count: int) -> list[Any] | None:
    return items if len(items) >= count else None


async def wait_for(probe: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``probe`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


@pytest_asyncio.fixture
async def bridge_factory(
    stack: Stack, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[RunningBridge]]]:
    """``await bridge_factory(relay_policy="batched")``: a fresh community and its running daemon."""
    bridges: list[RunningBridge] = []

    async def make(**options: Any) -> RunningBridge:
        suffix = f"-{secrets.token_hex(3)}"
        directory = tmp_path / f"bridge{suffix}"
        community = prepare_community(stack, directory, user_suffix=suffix, web_port=free_port(), **options)
        bridge = RunningBridge(stack, community, directory / "icop.log")
        bridges.append(bridge)
        bridge.start()
        await wait_for(lambda: "icop-bridge running" in bridge.log(), WAIT_SECONDS, "icop run to start")
        # The bot joins the room from its Matrix loop; mail is read once the room is known.
        await wait_for(lambda: _joined(bridge), WAIT_SECONDS, "the bot to join the room")
        # A fresh bridge relays what the room says after its first sync took its position; what
        # came before is the room's history. A test speaks only once that position is taken.
        await wait_for(lambda: FIRST_SYNC in bridge.log(), WAIT_SECONDS, "the bot's first sync")
        return bridge

    try:
        yield make
    finally:
        for bridge in bridges:
            code = bridge.stop()
            if code not in (0, -signal.SIGKILL):
                print(bridge.log())
            assert code in (0, -signal.SIGKILL), f"icop run exited with {code}"


def _joined(bridge: RunningBridge) -> bool:
    return any(
        e.get("type") == "m.room.member"
        and e.get("state_key") == bridge.community.bot.user_id
        and e.get("content", {}).get("membership") == "join"
        for e in _room_state(bridge)
    )


def _room_state(bridge: RunningBridge) -> list[dict[str, Any]]:
    user = bridge.community.member("ana").matrix
    assert user is not None
    room = urllib.parse.quote(bridge.community.room_id)
    request = urllib.request.Request(
        f"{bridge.stack.homeserver_url}/_matrix/client/v3/rooms/{room}/state",
        headers={"Authorization": f"Bearer {user.access_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        state: list[dict[str, Any]] = json.loads(response.read())
    return state
