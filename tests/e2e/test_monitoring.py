"""``/healthz`` and ``/metrics`` of a running ``icop run``, scraped over HTTP while it relays and through
an outage of the mail server.

What each step gets: once started, ``/healthz`` answers 200 with every loop ok and its lease held (one
process on SQLite holds every lease); a mail and a chat message relayed (seen on Synapse and in an IMAP
mailbox) are what ``/metrics`` counts: one post ingested per channel, deliveries sent per channel, a
latency observation each way, an empty outbox. With Dovecot stopped, ``/healthz`` answers 503 naming the
mailbox loop and ``/metrics`` shows it disconnected; once Dovecot is back, 200 again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import pytest
from nio import AsyncClient, RoomSendResponse
from prometheus_client.parser import text_string_to_metric_families

from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import WAIT_SECONDS, RunningBridge, wait_for
from tests.e2e.test_relay import mail_from

pytestmark = pytest.mark.servers

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


def health(bridge: RunningBridge) -> tuple[int, dict[str, Any]]:
    status, body = bridge.get("/healthz")
    return status, json.loads(body)


def scrape(bridge: RunningBridge) -> Scrape:
    status, body = bridge.get("/metrics")
    assert status == 200, body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Scrape, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_health_and_metrics_of_a_running_daemon(
    bridge_factory: Callable[..., Awaitable[RunningBridge]],
    send_mail: Callable[..., Awaitable[None]],
    read_mailbox: Callable[..., Awaitable[list[EmailMessage]]],
    matrix_client: Callable[[MatrixUser], AsyncClient],
    stack: Stack,
) -> None:
    bridge = await bridge_factory()
    _, body = await wait_for(lambda: (r := health(bridge))[0] == 200 and r, WAIT_SECONDS, "200 at start")
    assert body["ok"] is True
    assert body["failing"] == []
    assert set(body["loops"]) == {"matrix", "mailbox", "outbox.matrix", "outbox.email"}
    for name in ("matrix", "mailbox"):
        assert body["loops"][name]["state"] == "ok"
        assert body["loops"][name]["lease"] == "held"
        assert body["loops"][name]["last_success"].endswith("Z")
    assert body["database"] == {"ok": True, "error": None}

    # One message each way, seen where people read them.
    await send_mail(mail_from(bridge, "siobhan", "Metrics drill", "A mail to be counted."))
    kenji = bridge.community.member("kenji").matrix
    assert kenji is not None
    content = {"msgtype": "m.text", "body": "A chat message to be counted."}
    sent = await matrix_client(kenji).room_send(bridge.community.room_id, "m.room.message", content)
    assert isinstance(sent, RoomSendResponse), sent
    [event] = await bridge.wait_for_bot_events(1)
    assert "A mail to be counted." in event["content"]["body"]
    priya = bridge.community.member("priya").email
    [chat_mail, *_] = [
        m
        for m in await read_mailbox(priya, 2)
        if "A chat message to be counted." in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ]
    assert chat_mail is not None

    def relayed() -> Scrape | None:
        samples = scrape(bridge)
        each_way = [
            value(samples, "icop_relay_latency_seconds_count", direction=d)
            for d in ("email_to_matrix", "matrix_to_email")
        ]
        return samples if min(each_way) >= 1 else None

    samples: Scrape = await wait_for(relayed, WAIT_SECONDS, "a latency observation each way")
    assert value(samples, "icop_posts_ingested_total", channel="email", outcome="stored") == 1
    assert value(samples, "icop_posts_ingested_total", channel="matrix", outcome="stored") == 1
    assert value(samples, "icop_deliveries_total", channel="matrix", result="sent") == 1
    assert value(samples, "icop_deliveries_total", channel="email", result="sent") >= 2
    assert value(samples, "icop_relay_latency_seconds_count", direction="email_to_matrix") == 1
    for direction in ("email_to_matrix", "matrix_to_email"):
        seconds = value(samples, "icop_relay_latency_seconds_sum", direction=direction)
        count = value(samples, "icop_relay_latency_seconds_count", direction=direction)
        assert 0 < seconds / count < WAIT_SECONDS
    for channel in ("matrix", "email"):
        assert value(samples, "icop_outbox_deliveries", channel=channel, state="dead") == 0
    assert value(samples, "icop_outbox_deliveries", channel="matrix", state="pending") == 0
    assert value(samples, "icop_store_up") == 1
    assert value(samples, "icop_lease_held", lease="mailbox") == 1
    assert value(samples, "icop_lease_held", lease="matrix") == 1
    assert value(samples, "icop_loop_connected", loop="mailbox") == 1
    assert value(samples, "icop_loop_caught_up", loop="matrix") == 1
    assert value(samples, "icop_loop_last_success_timestamp_seconds", loop="matrix") > 1.7e9
    assert value(samples, "icop_bounce_suspended_members", community=bridge.community.slug) == 0
    assert value(samples, "icop_task_running", task="relay.mailbox") == 1
    assert value(samples, "process_resident_memory_bytes") > 0
    print(
        "\nmetrics after one message each way: "
        + ", ".join(
            f"{name}{dict(labels)}={v:g}"
            for (name, labels), v in sorted(samples.items(), key=lambda item: item[0][0])
            if name.startswith("icop_") and v and not name.endswith(("_bucket", "_created"))
        )
    )

    # The mail server goes away: the mailbox loop is named, and comes back.
    stack.stop_server("dovecot")
    try:

        def unhealthy() -> dict[str, Any] | None:
            code, report = health(bridge)
            return report if code == 503 and "loop mailbox" in report["failing"] else None

        report = await wait_for(unhealthy, WAIT_SECONDS, "503 naming the mailbox")
        assert report["loops"]["mailbox"]["state"] == "disconnected"
        assert (
            "unreachable" in report["loops"]["mailbox"]["error"]
            or "lost" in report["loops"]["mailbox"]["error"]
        )
        assert report["loops"]["matrix"]["state"] == "ok"
        assert value(scrape(bridge), "icop_loop_connected", loop="mailbox") == 0
    finally:
        stack.start_server("dovecot")
    await wait_for(lambda: health(bridge)[0] == 200, WAIT_SECONDS, "200 once Dovecot is back")
