"""The subscription page ``/c/SLUG/subscribe`` and the digest feedback links ``/c/SLUG/feedback/TOKEN``.

No sign-in is needed: what a page may change is named by a signed token (the confirmation code, the
settings link of a digest, a feedback answer), and each token is checked to belong to the community in
the URL. A GET never changes anything (mail scanners follow links): it shows a page whose button POSTs.
The subscribe form answers every address the same way ("check your mail"), so it reveals nobody.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aiohttp import web

from bridge.config.schema import CommunityConfig
from bridge.core.model import DeliveryMode
from bridge.digest.desk import SubscriptionDesk
from bridge.rendering import Renderer
from bridge.store import SettingsChange, Store

log = logging.getLogger(__name__)

DELIVERIES = (
    ("digest", "A digest of the best discussions"),
    ("each", "Every post"),
    ("both", "Every post and the digest"),
    ("none", "Nothing by mail"),
)
FREQUENCIES = ("daily", "weekly", "monthly")
REQUESTS_PER_HOUR = {"client": 20, "address": 3}
"""A form anyone can post must not become a way to flood an address with confirmations: past these,
the page answers as usual and no mail is sent."""


class RateLimit:
    """Sliding one-hour windows per key, in memory (a restart forgets them, which is harmless)."""

    def __init__(self, per_hour: int, clock: Callable[[], datetime]) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self._seen: dict[str, list[datetime]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        recent = [t for t in self._seen.get(key, []) if (now - t).total_seconds() < 3600]
        if len(self._seen) > 10_000:
            self._seen.clear()  # bounded memory under a flood of keys
        self._seen[key] = recent
        if len(recent) >= self.per_hour:
            return False
        recent.append(now)
        return True


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc/")))


class SubscribePages:
    def __init__(
        self,
        desk: SubscriptionDesk,
        store: Store,
        renderer: Renderer,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.desk = desk
        self.store = store
        self.renderer = renderer
        self.clock = clock
        self.limits = {name: RateLimit(n, clock) for name, n in REQUESTS_PER_HOUR.items()}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/c/{slug}/subscribe", self.show),
            web.post("/c/{slug}/subscribe", self.submit),
            web.get("/c/{slug}/feedback/{token}", self.feedback_page),
            web.post("/c/{slug}/feedback/{token}", self.feedback),
        ]

    # -- subscribe ------------------------------------------------------------------------------
    async def show(self, request: web.Request) -> web.Response:
        config = self._community(request)
        if "confirm" in request.query:
            return self._page(config, "confirm", token=request.query["confirm"])
        if "manage" in request.query:
            return await self._manage_form(config, request.query["manage"])
        return self._page(config, "form", **await self._form(config))

    async def submit(self, request: web.Request) -> web.Response:
        config = self._community(request)
        form = await request.post()
        action = str(form.get("action", "form"))
        if action == "confirm":
            message = await self.desk.confirm(config, str(form.get("code", "")))
            ok = message.startswith("Welcome")
            return self._page(
                config,
                "message",
                status=200 if ok else 400,
                title="You are subscribed" if ok else "This confirmation does not work",
                message=message,
            )
        change = self._change(form)
        if isinstance(change, str):
            return self._page(config, "message", status=400, title="Please check the form", message=change)
        if action == "manage":
            reader = await self._reader_for(config, str(form.get("token", "")))
            if reader is None:
                return self._invalid(config)
            summary = await self.desk.change(config, reader, change)
            return self._page(
                config, "message", title="Saved", message=summary + " A confirmation is on its way by mail."
            )
        email = " ".join(str(form.get("email", "")).split())
        if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
            return self._page(
                config,
                "message",
                status=400,
                title="Please check the form",
                message="That does not look like an email address.",
            )
        name = " ".join(str(form.get("name", "")).split())[:200]
        client = request.remote or "unknown"
        if self.limits["client"].allow(client) and self.limits["address"].allow(email.casefold()):
            await self.desk.subscribe(config, email, name, change)
        else:
            log.warning("subscription requests over the hourly limit", extra={"community": config.slug})
        return self._page(
            config,
            "message",
            title="Check your mail",
            message=f"If {email} can be subscribed to {config.name}, a mail is on its way to it: follow its "
            "link or reply to it to confirm.",
        )

    def _change(self, form: Any) -> SettingsChange | str:
        delivery = str(form.get("delivery", "digest"))
        frequency = str(form.get("frequency", "weekly"))
        zone = str(form.get("time_zone", "")).strip()
        if delivery not in {d for d, _ in DELIVERIES}:
            return f"Unknown choice {delivery!r} for what you receive."
        if frequency not in FREQUENCIES:
            return f"Unknown frequency {frequency!r}."
        if zone and zone not in _zones() and zone != "UTC":
            return f"{zone!r} is not a time zone we know: use a name such as Europe/Dublin."
        tags = tuple(str(t) for t in form.getall("tags", []))
        return SettingsChange(DeliveryMode(delivery), frequency, zone or None, tags)

    async def _form(self, config: CommunityConfig) -> dict[str, Any]:
        return {
            "delivery": "digest",
            "frequency": config.digest.frequency if config.digest.frequency in FREQUENCIES else "weekly",
            "time_zone": config.time_zone,
            "tags": [{"name": t.tag, "label": t.label, "followed": False} for t in config.taxonomy],
            "token": "",
            "summary": "",
        }

    async def _manage_form(self, config: CommunityConfig, token: str) -> web.Response:
        reader = await self._reader_for(config, token)
        if reader is None:
            return self._invalid(config)
        values = {
            "delivery": reader.delivery.value,
            "frequency": reader.digest_frequency if reader.digest_frequency in FREQUENCIES else "weekly",
            "time_zone": reader.time_zone or config.time_zone,
            "tags": [
                {"name": t.tag, "label": t.label, "followed": t.tag in reader.followed_tags}
                for t in config.taxonomy
            ],
            "token": token,
            "summary": self.desk.describe(config, reader),
        }
        return self._page(config, "manage", **values)

    async def _reader_for(self, config: CommunityConfig, token: str) -> Any:
        membership = self.desk.links.membership_to_manage(token, self.clock())
        reader = await self.store.subscriptions.reader(membership) if membership is not None else None
        record = await self.store.communities.by_slug(config.slug)
        if reader is None or record is None or reader.community_id != record.id:
            return None  # forged, expired, or another community's
        return reader

    # -- feedback -------------------------------------------------------------------------------
    async def feedback_page(self, request: web.Request) -> web.Response:
        config = self._community(request)
        answer = await self._feedback_of(config, request.match_info["token"])
        if answer is None:
            return self._feedback(config, "invalid", False, status=400)
        return self._feedback(config, "ask", answer.useful)

    async def feedback(self, request: web.Request) -> web.Response:
        config = self._community(request)
        answer = await self._feedback_of(config, request.match_info["token"])
        if answer is None or not await self.store.digests.record_feedback(
            answer.digest_id, answer.useful, self.clock()
        ):
            return self._feedback(config, "invalid", False, status=400)
        log.info(
            "digest feedback",
            extra={"community": config.slug, "digest": answer.digest_id, "useful": answer.useful},
        )
        return self._feedback(config, "done", answer.useful)

    async def _feedback_of(self, config: CommunityConfig, token: str) -> Any:
        answer = self.desk.links.feedback_of(token, self.clock())
        digest = await self.store.digests.get(answer.digest_id) if answer is not None else None
        reader = await self.store.subscriptions.reader(digest.membership_id) if digest is not None else None
        record = await self.store.communities.by_slug(config.slug)
        if reader is None or record is None or reader.community_id != record.id:
            return None
        return answer

    # -- pages ----------------------------------------------------------------------------------
    def _community(self, request: web.Request) -> CommunityConfig:
        config = self.desk.community(request.match_info["slug"])
        if config is None:
            raise web.HTTPNotFound(text="No such community.\n")
        return config

    def _invalid(self, config: CommunityConfig) -> web.Response:
        return self._page(
            config,
            "message",
            status=400,
            title="This link does not work",
            message="It has expired or was altered. The settings link of a recent digest works.",
        )

    def _page(self, config: CommunityConfig, state: str, *, status: int = 200, **values: Any) -> web.Response:
        context = {
            "title": values.pop("title", f"Subscribe to {config.name}"),
            "state": state,
            "community": config.name,
            "mission": config.description,
            "action": "",  # the page's own URL
            "deliveries": DELIVERIES,
            "frequencies": FREQUENCIES,
            "hour": f"{config.digest.hour:02d}",
            "zones": _zones(),
            "message": "",
            "token": "",
            "delivery": "digest",
            "frequency": "weekly",
            "time_zone": config.time_zone,
            "tags": [],
            "summary": "",
            **values,
        }
        html = self.renderer.render("web/subscribe.html.j2", context)
        return web.Response(text=html, content_type="text/html", status=status, headers=_HEADERS)

    def _feedback(
        self, config: CommunityConfig, state: str, useful: bool, *, status: int = 200
    ) -> web.Response:
        html = self.renderer.render(
            "web/feedback.html.j2",
            {"state": state, "useful": useful, "community": config.name, "title": "Digest feedback"},
        )
        return web.Response(text=html, content_type="text/html", status=status, headers=_HEADERS)


_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
