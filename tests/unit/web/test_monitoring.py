"""``/healthz`` and ``/metrics`` over HTTP: who may read what.

What each case gets: a client in ``[web] metrics_allow`` reads ``/metrics`` (the Prometheus text format,
its content type) and the health body with its error texts; any other client gets 403 for ``/metrics``
and the health body's states without error texts (they name servers and accounts); an unhealthy daemon
answers 503.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bridge.health import LoopStatus, TaskHealth, health_report
from bridge.metrics import Metrics
from bridge.web.monitoring import MonitoringPages

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def metrics() -> Metrics:
    metrics = Metrics()
    metrics.watch_loop("mailbox", LoopStatus(error="imap lists@example.org@mx.internal unreachable"))
    return metrics


@pytest.fixture
def serve(metrics: Metrics) -> Callable[[list[str]], contextlib.AbstractAsyncContextManager[Client]]:
    async def health() -> dict[str, object]:
        return health_report(
            metrics.watched(), {"relay.mailbox": TaskHealth(True, 0)}, database_error=None
        ).body

    @contextlib.asynccontextmanager
    async def client(allow: list[str]) -> AsyncIterator[Client]:
        app = web.Application()
        app.add_routes(MonitoringPages(health, metrics, allow).routes())
        async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
            yield test_client

    return client


async def test_the_monitoring_network_reads_everything(
    serve: Callable[[list[str]], contextlib.AbstractAsyncContextManager[Client]],
) -> None:
    async with serve(["127.0.0.0/8", "::1/128"]) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
        assert "# TYPE icop_posts_ingested_total counter" in text
        assert 'icop_loop_connected{loop="mailbox"} 0.0' in text
        openmetrics = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await openmetrics.text()).endswith("# EOF\n")
        health = await client.get("/healthz")
        assert health.status == 503
        body = await health.json()
        assert body["failing"] == ["loop mailbox"]
        assert body["loops"]["mailbox"]["error"] == "imap lists@example.org@mx.internal unreachable"


async def test_others_get_no_metrics_and_no_error_texts(
    serve: Callable[[list[str]], contextlib.AbstractAsyncContextManager[Client]], metrics: Metrics
) -> None:
    async with serve(["192.0.2.0/24"]) as client:
        response = await client.get("/metrics")
        assert response.status == 403
        assert "metrics_allow" in await response.text()
        health = await client.get("/healthz")
        assert health.status == 503
        body = await health.json()
        assert body["loops"]["mailbox"]["state"] == "disconnected"
        assert "mx.internal" not in await health.text()
        metrics.loops["mailbox"][0].succeeded()
        healthy = await client.get("/healthz")
        assert healthy.status == 200
        assert (await healthy.json())["ok"] is True
