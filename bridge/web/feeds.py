"""Atom feeds (RFC 4287) of a community and of each tag: new threads and new practices.

Feed readers cannot sign in, so a members-only community's feed is opened by a key signed for one
reader and one community (a link token, purpose ``feed``): the page shows the signed-in member their
own feed link. The key is checked against the membership on every fetch, so it stops working when
the membership ends; rotating the signing key revokes every key at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bridge.core import links
from bridge.core.tokens import sign_link_token, verify_link_token
from bridge.rendering import Renderer
from bridge.store import Store
from bridge.store.archive import Reader
from bridge.web.access import CommunitySite, Sessions

PURPOSE = "feed"
KEY_EXPIRES = datetime(2100, 1, 1, tzinfo=UTC)
"""Feed keys do not expire by date (a feed URL is subscribed once); they end with the membership."""
ENTRIES = 40
SUMMARY_CHARACTERS = 600
ATOM = "application/atom+xml"


class Feeds:
    def __init__(
        self,
        store: Store,
        sessions: Sessions,
        sites: Callable[[], Mapping[str, CommunitySite]],
        renderer: Renderer,
        signing_key: bytes,
        base_url: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.sites = sites
        self.renderer = renderer
        self.signing_key = signing_key
        self.base_url = base_url
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/c/{slug}/feed.atom", self.feed),
            web.get("/c/{slug}/tag/{tag}/feed.atom", self.feed),
        ]

    def url(self, site: CommunitySite, reader: Reader | None, tag: str | None) -> str | None:
        """The feed link to show this visitor: plain for a public community, keyed for a member."""
        plain = links.feed_url(self.base_url, site.slug, tag)
        if site.public:
            return plain
        if reader is None or not reader.member_of(site.record.id):
            return None
        key = sign_link_token(self.signing_key, PURPOSE, f"{reader.person_id}/{site.record.id}", KEY_EXPIRES)
        return f"{plain}?key={key}"

    async def feed(self, request: web.Request) -> web.Response:
        site = self.sites().get(request.match_info["slug"])
        if site is None or not await self._may_read(request, site):
            return web.Response(status=403, text="This feed needs a member's key.\n")
        tag = request.match_info.get("tag")
        summary = await self.store.archive.tag(site.record.id, tag) if tag is not None else None
        if tag is not None and summary is None:
            return web.Response(status=404, text="No such tag.\n")
        threads = await self.store.archive.new_threads(site.record.id, limit=ENTRIES, tag=tag)
        practices = (await self.store.archive.practices(site.record.id, tag=tag))[:ENTRIES]
        entries: list[dict[str, Any]] = [
            {
                "id": links.thread_url(self.base_url, site.slug, t.id),
                "url": links.thread_url(self.base_url, site.slug, t.id),
                "title": t.subject or "(no subject)",
                "kind": "thread",
                "author": t.author_name,
                "published": t.created_at,
                "summary": _excerpt(t.text),
            }
            for t in threads
        ] + [
            {
                "id": f"{links.thread_url(self.base_url, site.slug, p.thread_id)}#practice-{p.id}",
                "url": links.thread_url(self.base_url, site.slug, p.thread_id),
                "title": f"Practice: {p.title}",
                "kind": "practice",
                "author": site.name,
                "published": p.confirmed_at or p.created_at,
                "summary": _excerpt(p.summary),
            }
            for p in practices
        ]
        entries.sort(key=lambda e: e["published"], reverse=True)
        entries = entries[:ENTRIES]
        page = (
            links.tag_url(self.base_url, site.slug, tag)
            if tag
            else links.community_url(self.base_url, site.slug)
        )
        body = self.renderer.render(
            "web/archive/feed.xml.j2",
            {
                "title": f"{summary.label} · {site.name}" if summary else site.name,
                "subtitle": site.description,
                "page_url": page,
                "self_url": str(request.url.with_query(request.query)),
                "feed_id": page,
                "updated": _atom_time(entries[0]["published"] if entries else self.clock()),
                "entries": [{**e, "published": _atom_time(e["published"])} for e in entries],
            },
        )
        cache = "public, max-age=300" if site.public else "private, max-age=300"
        return web.Response(text=body, content_type=ATOM, charset="utf-8", headers={"Cache-Control": cache})

    async def _may_read(self, request: web.Request, site: CommunitySite) -> bool:
        if site.public:
            return True
        key = request.query.get("key", "")
        subject = (
            verify_link_token(self.signing_key, PURPOSE, key, self.clock()) if 0 < len(key) < 300 else None
        )
        if subject is not None:
            person, _, community = subject.partition("/")
            if community != str(site.record.id) or not person.isdigit():
                return False
            reader = await self.store.archive.reader(int(person))
        else:
            reader = await self.sessions.reader(request)
        return reader is not None and reader.member_of(site.record.id)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARACTERS else text[: SUMMARY_CHARACTERS - 1].rstrip() + "…"


def _atom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
