"""``/healthz`` and ``/metrics``: what a load balancer and a Prometheus scraper ask the daemon.

``/healthz`` answers 200 while every loop this process runs is connected and caught up (a loop another
process holds the lease of is standing by, which is healthy), and 503 otherwise; its JSON body names what
is failing. Anyone may ask it, but the error texts (which name servers and accounts) are shown only to
the monitoring networks of ``[web] metrics_allow``. ``/metrics`` is the Prometheus text format, served
to those networks only: it tells a stranger how busy a community is.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bridge.metrics import Metrics

log = logging.getLogger(__name__)

HealthProbe = Callable[[], Awaitable[dict[str, object]]]


class MonitoringPages:
    def __init__(self, health: HealthProbe, metrics: Metrics, allow: Sequence[str]) -> None:
        self.health = health
        self.metrics = metrics
        self.allow = [ipaddress.ip_network(network) for network in allow]

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self.healthz), web.get("/metrics", self.exposition)]

    async def healthz(self, request: web.Request) -> web.Response:
        body = await self.health()
        if not self.monitoring(request):
            body = _without_errors(body)
        return web.json_response(body, status=200 if body.get("ok") else 503)

    async def exposition(self, request: web.Request) -> web.Response:
        if not self.monitoring(request):
            raise web.HTTPForbidden(text="/metrics is served to the networks of [web] metrics_allow only\n")
        body, content_type = await self.metrics.exposition(request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

    def monitoring(self, request: web.Request) -> bool:
        """Whether the client is in a monitoring network (``[web] metrics_allow``)."""
        try:
            client = ipaddress.ip_address(request.remote or "")
        except ValueError:
            return False  # a Unix socket or an unknown peer
        if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
            client = client.ipv4_mapped
        return any(client in network for network in self.allow)


def _without_errors(body: dict[str, object]) -> dict[str, object]:
    """The health body with every ``error`` and ``last_error`` text left out (states stay)."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("error", "last_error")}
        return value

    stripped = strip(body)
    assert isinstance(stripped, dict)
    return stripped
