"""The archive's pages over a real SQLite store, through aiohttp's test client: what each visitor gets.

A members-only community answers a stranger with the sign-in redirect and a signed-in non-member
with 403, with the same words whether the community exists or not and never a thread title; a
public one answers anyone. Sign-in links work once; sign-out ends the session for every copy of the
cookie. Feeds need a member's key for a members-only community. Every response carries the security
headers, errors included.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.config.schema import Config
from bridge.core.model import Channel, InboundMessage, PostState
from bridge.store import NewThread, Store
from bridge.web.search import QueryError, SearchHit, SearchResults
from bridge.web.service import ArchiveService
from tests.unit.web.served import BASE, Client, archive_config, served, synced_store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _config() -> Config:
    member = {"name": "Ana Souza", "email": "ana@example.org", "role": "convener", "time_zone": "Asia/Tokyo"}
    common = {"room": "#r:example.org", "time_zone": "Europe/Dublin"}
    return archive_config(
        {
            **common,
            "slug": "pm",
            "name": "PM Practice",
            "list_address": "pm@lists.example.org",
            "member": [member],
        },
        {
            **common,
            "slug": "open",
            "name": "Open Data",
            "list_address": "open@lists.example.org",
            "room": "#o:example.org",
            "archive": "public",
            "member": [{"name": "Bo Lind", "email": "bo@example.org"}],
        },
    )


@dataclass
class Site:
    client: Client
    store: Store
    archive: ArchiveService
    threads: dict[str, int]


class Engine:
    """A search engine that finds one thread for any word and refuses a lone quote."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id

    async def search(self, community_slug: str, query: str, *, offset: int, limit: int) -> SearchResults:
        if query.startswith('"') and query.count('"') == 1:
            raise QueryError(1, "unclosed quote")
        hit = SearchHit(
            self.thread_id,
            "Estimates",
            "about <mark>estimates</mark> &lt;b&gt;",
            1.0,
            ("Ana Souza",),
            ("estimation",),
            NOW,
            NOW,
            f"{BASE}/c/{community_slug}/t/{self.thread_id}",
        )
        return SearchResults([hit], total=1)


async def _ingest(store: Store, slug: str, key: str, subject: str | None, text: str, **fields: Any) -> int:
    community = await store.communities.by_slug(slug)
    assert community is not None
    thread = fields.pop("thread", None)
    state = fields.pop("state", PostState.VISIBLE)
    message = InboundMessage(
        channel=fields.pop("channel", Channel.EMAIL),
        origin_key=key,
        community_slug=slug,
        sender_address="ana@example.org",
        sender_name=fields.pop("name", "Ana Souza"),
        text=text,
        subject=subject,
        sent_at=NOW,
        **fields,
    )
    result = await store.posts.ingest(
        message,
        community_id=community.id,
        thread=thread or NewThread(subject or "", (subject or "").lower()),
        author_id=None,
        state=state,
        now=NOW,
    )
    return result.thread_id


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    config = _config()
    async with synced_store(config, tmp_path) as store:
        secret = await _ingest(store, "pm", "a@x", "Secret roadmap", "members only words")
        await _ingest(
            store,
            "pm",
            "b@x",
            None,
            "a reply <b>bold?</b> https://example.org/x",
            thread=secret,
            channel=Channel.MATRIX,
            name="Kenji",
            full_text=None,
        )
        held = await _ingest(store, "pm", "h@x", "Held stranger", "spam", state=PostState.HELD)
        public = await _ingest(
            store,
            "open",
            "c@x",
            "Open question",
            "anyone may read this",
            full_text="anyone may read this\n\n> the quoted history",
        )
        async with served(config, store, tmp_path, clock=lambda: NOW, search=Engine(public)) as (
            client,
            archive,
        ):
            yield Site(client, store, archive, {"secret": secret, "held": held, "public": public})


async def _sign_in(site: Site, email: str, next_path: str = "/") -> str:
    person = await site.store.communities.person_by_email(email)
    assert person is not None
    assert site.archive.courier is not None
    url = await site.archive.courier.link_for(person.id, Channel.EMAIL, next_path)
    path = url.removeprefix(BASE)
    confirm = await site.client.get(path)
    assert confirm.status == 200
    assert "Sign in" in await confirm.text()
    response = await site.client.post(path.split("?")[0], data={"next": next_path}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == next_path
    cookie = response.cookies["icop_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    return path


async def test_members_only_pages_refuse_strangers_without_naming_anything(site: Site) -> None:
    """Not signed in: every members-only page, and an unknown community, redirects to /login alike."""
    paths = [
        "/c/pm/",
        f"/c/pm/t/{site.threads['secret']}",
        "/c/pm/practices",
        "/c/pm/tag/x",
        "/c/nope/",
        "/c/pm/search?q=roadmap",
        "/c/pm/feed.atom",
    ]
    for path in paths[:-1]:
        response = await site.client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert (
            response.headers["Location"].startswith("/login?next=")
            or "/login?next=" in response.headers["Location"]
        )
        assert "Secret" not in await response.text()
    feed = await site.client.get(paths[-1])
    assert feed.status == 403
    assert "Secret" not in await feed.text()
    home = await (await site.client.get("/")).text()
    assert "Open Data" in home
    assert "PM Practice" not in home


async def test_a_public_community_is_read_without_signing_in(site: Site) -> None:
    page = await site.client.get("/c/open/")
    text = await page.text()
    assert page.status == 200
    assert "Open question" in text
    assert "Europe/Dublin, the community&#39;s time zone. Sign in to see them in yours." in text
    thread = await (await site.client.get(f"/c/open/t/{site.threads['public']}")).text()
    assert "anyone may read this" in thread
    assert "<summary>Quoted text</summary>" in thread
    assert "&gt; the quoted history" in thread
    assert (await site.client.get(f"/c/open/t/{site.threads['secret']}")).status == 404  # another community's
    feed = await site.client.get("/c/open/feed.atom")
    assert feed.status == 200
    assert feed.content_type == "application/atom+xml"
    assert "<title>Open question</title>" in await feed.text()


async def test_a_member_signs_in_once_reads_in_her_zone_and_signs_out(site: Site) -> None:
    link = await _sign_in(site, "ana@example.org", "/c/pm/")
    page = await (await site.client.get("/c/pm/")).text()
    assert "Secret roadmap" in page
    assert "Held stranger" not in page
    assert "Signed in as Ana Souza" in page
    assert "Times are shown in Asia/Tokyo, your time zone." in page
    assert "2 Mar 2026, 18:00" in page  # 09:00 UTC in Tokyo
    thread = await (await site.client.get(f"/c/pm/t/{site.threads['secret']}")).text()
    assert "a reply &lt;b&gt;bold?&lt;/b&gt;" in thread  # plain text stays text
    assert '<a href="https://example.org/x" rel="noopener noreferrer nofollow ugc">' in thread
    assert 'class="channel matrix"' in thread
    assert 'class="channel email"' in thread
    assert (await site.client.get(f"/c/pm/t/{site.threads['held']}")).status == 404
    feed_key = re.search(r'href="(http://archive.test/c/pm/feed.atom\?key=[^"]+)"', page)
    assert feed_key is not None
    site.client.session.cookie_jar.clear()
    assert (await site.client.get(feed_key.group(1).removeprefix(BASE).replace("&amp;", "&"))).status == 200
    assert (await site.client.get("/c/open/feed.atom?key=forged.key")).status == 200  # public anyway
    again = await site.client.post(link.split("?")[0], data={"next": "/"}, allow_redirects=False)
    assert again.status == 400  # a link works once
    await _sign_in(site, "ana@example.org")
    cookie = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/"))["icop_session"].value
    out = await site.client.post("/logout", allow_redirects=False)
    assert out.status == 303
    copied = await site.client.get("/c/pm/", cookies={"icop_session": cookie}, allow_redirects=False)
    assert copied.status == 303  # the session is gone, not just the cookie


async def test_a_signed_in_non_member_gets_403_without_the_title(site: Site) -> None:
    await _sign_in(site, "bo@example.org")
    for path in ("/c/pm/", f"/c/pm/t/{site.threads['secret']}", "/c/unknown/"):
        response = await site.client.get(path, allow_redirects=False)
        text = await response.text()
        assert response.status == 403, path
        assert "Secret" not in text
        assert "PM Practice" not in text
        assert "signed in as\nBo Lind, who is not one of them" in text


async def test_search_page_shows_marked_snippets_and_query_errors(site: Site) -> None:
    page = await site.client.get("/c/open/search?q=estimates")
    text = await page.text()
    assert page.status == 200
    assert "about <mark>estimates</mark> &lt;b&gt;" in text
    bad = await site.client.get('/c/open/search?q="unclosed')
    assert bad.status == 400
    assert "query error at 1: unclosed quote" in await bad.text()


async def test_security_headers_on_every_response_and_a_cross_site_post_refused(site: Site) -> None:
    for path in ("/", "/c/pm/", "/nowhere", "/login", "/assets/archive.css", "/healthz"):
        response = await site.client.get(path, allow_redirects=False)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "script-src" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    forged = await site.client.post("/logout", headers={"Origin": "https://evil.example"})
    assert forged.status == 403
    login = await site.client.post("/login", data={"address": "ana@example.org", "next": "//evil.example"})
    assert login.status == 200
    assert "If that address belongs to a member" in await login.text()


async def test_sign_in_requests_get_one_answer_and_are_rate_limited(site: Site) -> None:
    courier = site.archive.courier
    assert courier is not None
    answers = set()
    for address in ("ana@example.org", "nobody@example.org"):
        response = await site.client.post("/login", data={"address": address, "next": "/c/pm/"})
        answers.add((response.status, await response.text()))
    assert len(answers) == 1  # a member and a stranger cannot be told apart
    assert courier.queue.qsize() == 2
    statuses = [
        (await site.client.post("/login", data={"address": f"x{n}@example.org"})).status for n in range(50)
    ]
    assert statuses.count(429) == 2  # ten times the hourly limit (5) per client address
    ana = await site.store.communities.person_by_email("ana@example.org")
    assert ana is not None
    for _ in range(5):
        await site.store.web_sessions.issue_link(
            f"{_}" * 64, ana.id, Channel.EMAIL, NOW, NOW + timedelta(hours=1)
        )
    request = courier.queue.get_nowait()
    assert request.address == "ana@example.org"
    assert not await courier.handle(request)  # over the hourly limit for her: nothing sent, same answer


async def test_a_thread_page_changes_with_every_reply_edit_and_deletion(site: Site) -> None:
    """Rendered posts are reused between requests, but never once the thread changed."""
    path = f"/c/open/t/{site.threads['public']}"
    assert "anyone may read this" in await (await site.client.get(path)).text()
    community = await site.store.communities.by_slug("open")
    assert community is not None
    reply = await site.store.posts.ingest(
        InboundMessage(
            channel=Channel.MATRIX,
            origin_key="$r",
            community_slug="open",
            sender_address="@bo:example.org",
            sender_name="Bo Lind",
            text="first words",
            matrix_event_id="$r",
        ),
        community_id=community.id,
        thread=site.threads["public"],
        author_id=None,
        now=NOW,
    )
    assert "first words" in await (await site.client.get(path)).text()
    await site.store.posts.edit(reply.post_id, text="better words", origin_key="$e", now=NOW)
    edited = await (await site.client.get(path)).text()
    assert "better words" in edited
    assert "Earlier version (1)" in edited
    await site.store.posts.delete(reply.post_id, now=NOW)
    deleted = await (await site.client.get(path)).text()
    assert "better words" not in deleted
    assert "first words" not in deleted
    assert "This message was deleted." in deleted


async def test_a_tag_page_answers_every_spelling_of_its_tag(site: Site) -> None:
    """``/c/SLUG/tag/TAG`` names a tag however it is written, redirecting to its one folded spelling,
    and only once the visitor may read the community (a members-only one still asks to sign in)."""
    for written, folded in (("Risk", "risk"), ("Estima%C3%A7%C3%A3o?before=x", "estimacao?before=x")):
        response = await site.client.get(f"/c/open/tag/{written}", allow_redirects=False)
        assert response.status == 308, written
        assert response.headers["Location"] == f"/c/open/tag/{folded}"
    refused = await site.client.get("/c/pm/tag/Risk", allow_redirects=False)
    assert refused.status == 303
    assert "/login?next=" in refused.headers["Location"]
    missing = await site.client.get("/c/open/tag/risk")
    assert missing.status == 404
