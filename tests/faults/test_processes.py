"""Three ``icop run`` processes on one PostgreSQL; the one holding the leases is killed mid-stream.

DESIGN §7. The first process starts alone and takes both leases (the Matrix sync and the list mailbox);
two more start beside it and stand by, delivering from the shared outbox. 100 mails from the email-only
members and 100 chat messages from Kenji stream in; after 40 mails the lease holder is killed with
SIGKILL. Measured: the takeover time of each lease, from the kill to a survivor's ``/healthz`` saying it
holds the lease (polled every 0.1 s); the time until a survivor stored the next post from each channel
(its log); and until that loop reported itself caught up (which waits for the stream's backlog). Counted
on Synapse and in every member's IMAP INBOX, never in the store: a lost marker fails the test, a marker
under two Message-IDs (or posted twice in the room) fails the test; the same mail delivered again under
its own Message-ID (the killed process had sent it and not yet recorded it) is at-least-once delivery as
DESIGN §3 allows, and is reported. Both survivors' ``/metrics`` are read after the drain: the leases
are held once between them, and the store's gauges (read by each at the scrape) agree.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.devstack.community import prepare_community
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_monitoring import scrape, value
from tests.faults.conftest import START_SECONDS, Traffic, _bot_joined, audit, wait_for_drain

pytestmark = [pytest.mark.servers, pytest.mark.postgres]

MESSAGES = 100
RATE = 10.0
"""Per second each way: the stream lasts ~10 s, the kill comes ~4 s in."""
KILL_AFTER = 40
DRAIN_TIMEOUT = 180.0
LEASES = ("matrix", "mailbox")
STORED = re.compile(r"^(\S+Z) INFO +bridge\.relay\.ingest: post stored .* from=(email|matrix)", re.MULTILINE)


def health(bridge: RunningBridge) -> dict[str, Any] | None:
    """The ``/healthz`` body, or None while the web server does not answer."""
    try:
        _, body = bridge.get("/healthz")
    except OSError:
        return None
    report: dict[str, Any] = json.loads(body)
    return report


def second_config(first: Path, number: int) -> Path:
    """The same community's config with a web server port of its own (another process, one host)."""
    text = re.sub(
        r'^bind = "127.0.0.1:\d+"$', f'bind = "127.0.0.1:{free_port()}"', first.read_text(), flags=re.M
    )
    path = first.with_name(f"icop-{number}.toml")
    path.write_text(text)
    return path


async def test_kill_9_of_the_lease_holder_among_three_processes_loses_and_doubles_nothing(
    stack: Stack, tmp_path: Path, postgres_database_url: str
) -> None:
    directory = tmp_path / "bridge"
    community = prepare_community(
        stack, directory, user_suffix=f"-{secrets.token_hex(3)}", web_port=free_port()
    )
    env = {"ICOP_DATABASE_URL": postgres_database_url}
    configs = [
        community.config_path,
        second_config(community.config_path, 2),
        second_config(community.config_path, 3),
    ]
    bridges = [
        RunningBridge(stack, community, directory / f"icop-{n}.log", config_path=config, env=env)
        for n, config in enumerate(configs, start=1)
    ]
    first, survivors = bridges[0], bridges[1:]
    traffic = Traffic(first)
    try:
        first.start()
        await wait_for(lambda: _bot_joined(first), START_SECONDS, "the bot to join the room")
        await wait_for(
            lambda: (
                (h := health(first)) is not None
                and h["ok"]
                and all(h["loops"][n]["lease"] == "held" for n in LEASES)
            ),
            START_SECONDS,
            "the first process to hold both leases",
        )
        for bridge in survivors:
            bridge.start()
        for bridge in survivors:
            standing_by = await wait_for(
                lambda b=bridge: (h := health(b)) is not None and h["ok"] and h,  # type: ignore[misc]
                START_SECONDS,
                "a second process to stand by",
            )
            assert {standing_by["loops"][n]["state"] for n in LEASES} == {"standby"}

        took: dict[str, float] = {}
        ready: dict[str, float] = {}
        killed_at = killed_at_wall = 0.0

        async def kill_the_holder() -> None:
            nonlocal killed_at, killed_at_wall
            await wait_for(lambda: len(traffic.mails) >= KILL_AFTER, 120, f"mail {KILL_AFTER}", interval=0.02)
            assert first.stop(signal.SIGKILL) == -signal.SIGKILL
            killed_at, killed_at_wall = time.monotonic(), time.time()
            while len(ready) < len(LEASES):
                for name in LEASES:
                    for bridge in survivors:
                        report = health(bridge)
                        if report is None or report["loops"][name]["lease"] != "held":
                            continue
                        took.setdefault(name, time.monotonic() - killed_at)
                        if report["loops"][name]["state"] == "ok":
                            ready.setdefault(name, time.monotonic() - killed_at)
                assert time.monotonic() - killed_at < 60, f"no takeover within 60 s: {took}, {ready}"
                await asyncio.sleep(0.1)

        sent_seconds = await traffic.stream(MESSAGES, rate=RATE, alongside=kill_the_holder())
        drain = await wait_for_drain(traffic, DRAIN_TIMEOUT)
        await asyncio.sleep(3)  # a late duplicate would show up here
        result = await audit(traffic)
        scrapes = [scrape(bridge) for bridge in survivors]
    finally:
        await traffic.close()
        codes = [bridge.stop() for bridge in bridges]
    resumed = {
        channel: min(
            (
                datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - killed_at_wall
                for bridge in survivors
                for stamp, source in STORED.findall(bridge.log())
                if source == channel
                and datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() > killed_at_wall
            ),
            default=float("nan"),
        )
        for channel in ("email", "matrix")
    }
    released = sum(
        int(n)
        for bridge in survivors
        for n in re.findall(r"released (\d+) deliveries claimed by", bridge.log())
    )
    print(
        f"\nthree processes on PostgreSQL, kill -9 of the lease holder after mail {KILL_AFTER}: "
        f"lease taken over {', '.join(f'{n} {s:.2f} s' for n, s in took.items())}; next post stored "
        f"{', '.join(f'from {c} {s:.2f} s' for c, s in resumed.items())}; loop caught up "
        f"{', '.join(f'{n} {s:.2f} s' for n, s in ready.items())} after the kill; {released} deliveries of "
        f"the dead process handed back; sent {len(traffic.mails)} mails and {len(traffic.chats)} chats in "
        f"{sent_seconds:.1f} s, drained {drain:.1f} s after the last send; lost {result.lost_count}, "
        f"doubled {result.doubled_count}, redelivered under the same Message-ID {result.redelivered_count}"
    )
    for bridge, samples in zip(survivors, scrapes, strict=True):
        figures = {
            "ingested from email": value(
                samples, "icop_posts_ingested_total", channel="email", outcome="stored"
            ),
            "ingested from matrix": value(
                samples, "icop_posts_ingested_total", channel="matrix", outcome="stored"
            ),
            "sent to matrix": value(samples, "icop_deliveries_total", channel="matrix", result="sent"),
            "sent by email": value(samples, "icop_deliveries_total", channel="email", result="sent"),
            "leases held": sum(value(samples, "icop_lease_held", lease=n) for n in LEASES),
            "email pending": value(samples, "icop_outbox_deliveries", channel="email", state="pending"),
        }
        print(f"{bridge.config.name}: " + ", ".join(f"{k} {v:g}" for k, v in figures.items()))
    assert codes[0] == -signal.SIGKILL
    assert codes[1:] == [0, 0]
    assert len(traffic.mails) == len(traffic.chats) == MESSAGES
    assert result.lost_count == result.doubled_count == 0, result.summary()
    assert set(took) == set(LEASES)
    assert all(seconds < 60 for seconds in resumed.values()), resumed
    for name in LEASES:
        assert sum(value(samples, "icop_lease_held", lease=name) for samples in scrapes) == 1
    for channel in ("matrix", "email"):
        for state in ("pending", "sending", "dead"):
            counts = {
                value(samples, "icop_outbox_deliveries", channel=channel, state=state) for samples in scrapes
            }
            assert counts == {0}, (channel, state, counts)
