"""Archive page speed on SQLite: server time per page at scale, and throughput against a static handler.

The store is filled with bulk SQL (recursive CTEs, one transaction): ``ICOP_BENCH_ARCHIVE_POSTS``
posts (default 1,000,000) in threads of about 20 posts over two channels, one thread of 500 posts,
tags on one thread in ten. Then the daemon's own web server (security headers, session lookup,
access check, store queries, Jinja2) serves a members-only community to a signed-in member:
- server time: the handler's wall time, measured inside the server, for the 500-post thread page,
  the community's first page and the search page (the same engine as ``icop search``: a rare word, a
  word and a phrase in every post, ``tag:``, ``from:``), one request at a time; p50 and p95 (goal:
  p95 < 100 ms each);
- throughput: requests per second for the thread page with 20 concurrent clients, divided by the rate
  of a static aiohttp handler serving the same bytes from the same server in the same run.

Everything runs on 127.0.0.1, is bounded in count, and stops by itself. Results are written to
bench/results/archive-<UTC time>.json and summarised on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bench.relay import RESULTS, summary
from bridge.archive.search import ArchiveSearch, ArchiveSearchPages
from bridge.config import LoadedConfig
from bridge.config.schema import Config
from bridge.core.model import Channel, Role, RosterMember
from bridge.devstack.process import free_port
from bridge.email.smtp import SmtpSender
from bridge.matrix.session import MatrixSession
from bridge.store import Database, Store
from bridge.store.migrations import upgrade
from bridge.web.server import WebServer
from bridge.web.service import ArchiveService

POSTS = int(os.environ.get("ICOP_BENCH_ARCHIVE_POSTS", "1000000"))
LONG_THREAD = 500
POSTS_PER_THREAD = 20
SAMPLES = int(os.environ.get("ICOP_BENCH_ARCHIVE_SAMPLES", "200"))
CLIENTS = 20
THROUGHPUT_REQUESTS = int(os.environ.get("ICOP_BENCH_ARCHIVE_REQUESTS", "2000"))
KEY = b"bench-signing-key-0123456789abcdef"
START = datetime(2020, 1, 1, tzinfo=UTC)
SEARCHES = {  # what each query matches in the filled store
    "rare_word": str(POSTS // 3 + 7),  # the one post whose text ends with that number
    "word_in_every_post": "estimate",
    "phrase_in_every_post": '"reference classes"',
    "tag": "tag:estimation",  # one thread in ten
    "author": "from:kenji",  # a third of the posts
}


@dataclass
class Relay:
    store: Store
    signing_key: bytes | None = KEY
    smtp: SmtpSender | None = None
    session: MatrixSession | None = None


def _config(port: int) -> Config:
    return Config.model_validate(
        {
            "base_url": f"http://127.0.0.1:{port}",
            "web": {"bind": f"127.0.0.1:{port}"},
            "matrix": {
                "homeserver": "http://127.0.0.1:1",
                "user_id": "@icop:bench.test",
                "access_token_env": "T",
            },
            "mail": {
                "imap": {"host": "127.0.0.1", "user": "l", "password_env": "P"},
                "smtp": {"host": "127.0.0.1"},
            },
            "community": [
                {
                    "slug": "pm",
                    "name": "PM Practice",
                    "room": "#pm:bench.test",
                    "list_address": "pm@lists.bench.test",
                    "time_zone": "Europe/Dublin",
                    "member": [{"name": "Ana Souza", "email": "ana@bench.test", "time_zone": "Asia/Tokyo"}],
                }
            ],
        }
    )


def fill(path: Path, community_id: int, posts: int) -> int:
    """Bulk-insert threads and posts; the id of the 500-post thread."""
    threads = max(1, (posts - LONG_THREAD) // POSTS_PER_THREAD)
    text = "We estimate with reference classes and log actuals; " * 6
    db = sqlite3.connect(path)
    began = time.monotonic()
    with db:
        db.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO thread
                (community_id, subject, normalised_subject, token, created_at, last_activity_at)
            SELECT ?, 'Thread ' || i || ': how do you plan releases?', 'thread ' || i, 'tok' || i,
                   datetime(?, '+' || (i * 60) || ' seconds') || '+00:00',
                   datetime(?, '+' || (i * 60 + 3000) || ' seconds') || '+00:00' FROM n""",
            (
                threads + 1,
                community_id,
                START.strftime("%Y-%m-%d %H:%M:%S"),
                START.strftime("%Y-%m-%d %H:%M:%S"),
            ),
        )
        first = db.execute("SELECT MIN(id) FROM thread").fetchone()[0]
        long_thread = first + threads
        db.execute(
            """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO post (community_id, thread_id, author_name, author_address, origin_channel,
                origin_key, subject, body_text, body_html, state, created_at, received_at, reaction_count)
            SELECT ?, ? + (i / ?), CASE i % 3 WHEN 0 THEN 'Ana Souza' WHEN 1 THEN 'Kenji Watanabe'
                   ELSE 'Siobhán Murphy' END, 'someone@bench.test',
                   CASE i % 2 WHEN 0 THEN 'email' ELSE 'matrix' END, 'k' || i, NULL, ? || i,
                   CASE i % 2 WHEN 0 THEN '<p>' || ? || i || '</p>' ELSE NULL END, 'visible',
                   datetime(?, '+' || ((i / ?) * 60 + (i % ?) * 150) || ' seconds') || '+00:00',
                   datetime(?, '+' || i || ' seconds') || '+00:00', 0 FROM n""",
            (
                threads * POSTS_PER_THREAD - 1,
                community_id,
                first,
                POSTS_PER_THREAD,
                text,
                text,
                START.strftime("%Y-%m-%d %H:%M:%S"),
                POSTS_PER_THREAD,
                POSTS_PER_THREAD,
                START.strftime("%Y-%m-%d %H:%M:%S"),
            ),
        )
        db.execute(
            """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO post (community_id, thread_id, author_name, author_address, origin_channel,
                origin_key, subject, body_text, body_html, state, created_at, received_at, reaction_count)
            SELECT ?, ?, 'Member ' || (i % 12), 'someone@bench.test',
                   CASE i % 2 WHEN 0 THEN 'email' ELSE 'matrix' END, 'long' || i, NULL, ? || i,
                   CASE i % 2 WHEN 0 THEN '<p>' || ? || i || '</p>' ELSE NULL END, 'visible',
                   datetime('now', '-1 day', '+' || i || ' seconds') || '+00:00',
                   datetime('now') || '+00:00', i % 4 FROM n""",
            (LONG_THREAD - 1, community_id, long_thread, text, text),
        )
        db.execute(
            "UPDATE thread SET last_activity_at = datetime('now') || '+00:00' WHERE id = ?", (long_thread,)
        )
        tags = [
            db.execute(
                "INSERT INTO tag (community_id, name, label, description) VALUES (?, ?, ?, '') RETURNING id",
                (community_id, name, name.title()),
            ).fetchone()[0]
            for name in ("estimation", "planning", "risk")
        ]
        db.execute(
            "INSERT INTO thread_tag (thread_id, tag_id, source) SELECT id, ?, 'hashtag' FROM thread "
            "WHERE community_id = ? AND id % 10 = 0",
            (tags[0], community_id),
        )
    db.execute("ANALYZE")
    db.close()
    print(f"filled {threads + 1} threads, {posts} posts in {time.monotonic() - began:.0f} s", flush=True)
    return int(long_thread)


async def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="icop-bench-archive-") as folder:
        path = Path(folder) / "archive.sqlite3"
        config = _config(port)
        db = Database(f"sqlite://{path}")
        await db.open()
        await upgrade(db)
        store = Store(db)
        await store.communities.sync_community(
            slug="pm",
            name="PM Practice",
            list_address="pm@lists.bench.test",
            room="#pm:bench.test",
            time_zone="Europe/Dublin",
            roster=[RosterMember("Ana Souza", "ana@bench.test", Role.MEMBER)],
        )
        community = await store.communities.by_slug("pm")
        assert community is not None
        await db.close()
        long_thread = fill(path, community.id, POSTS)
        await db.open()
        try:
            results = await _measure(config, store, port, long_thread, path)
        finally:
            await db.close()  # an open store's thread would keep a failed run from ending
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"archive-{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out}")
    return 0


async def _measure(config: Config, store: Store, port: int, long_thread: int, path: Path) -> dict[str, Any]:
    loaded = LoadedConfig(config=config, path=path.parent / "icop.toml", key_lines={})
    server = WebServer(config.web.bind)
    timings: dict[str, list[float]] = {}

    @web.middleware
    async def timed(request: web.Request, handler: Any) -> web.StreamResponse:
        began = time.perf_counter()
        response: web.StreamResponse = await handler(request)
        key = f"search:{request.query['q']}" if "q" in request.query else request.path
        timings.setdefault(key, []).append(time.perf_counter() - began)
        return response

    server.app.middlewares.append(timed)
    search = ArchiveSearchPages(ArchiveSearch(store, str(config.base_url), config.community))
    archive = ArchiveService(
        loaded, Relay(store), stylesheet_url=server.assets.stylesheet_path, search=search
    )
    await archive.start()
    server.add_routes(archive.web_routes())
    body: dict[str, bytes] = {}

    async def static(request: web.Request) -> web.Response:
        return web.Response(body=body["thread"], content_type="text/html", charset="utf-8")

    server.add_routes([web.get("/static-copy", static)])
    await server.start()
    base = f"http://127.0.0.1:{port}"
    thread_path, community_path = f"/c/pm/t/{long_thread}", "/c/pm/"
    try:
        ana = await store.communities.person_by_email("ana@bench.test")
        assert ana is not None
        assert archive.courier is not None
        link = await archive.courier.link_for(ana.id, Channel.EMAIL, "/")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            async with client.post(link.split("?")[0], data={"next": "/"}, allow_redirects=False) as signed:
                assert signed.status == 303, signed.status
            async with client.get(base + thread_path) as page:
                assert page.status == 200
                body["thread"] = await page.read()
            posts_shown = body["thread"].count(b'class="post ')
            assert posts_shown == LONG_THREAD, posts_shown
            for path_ in (thread_path, community_path):
                for _ in range(SAMPLES):
                    async with client.get(base + path_) as response:
                        assert response.status == 200
                        await response.read()
            assert archive.pages is not None
            cached = archive.pages.rendered.size
            archive.pages.rendered.size = 0  # every request renders the 500 posts afresh
            archive.pages.rendered.clear()
            print(f"server time, {SAMPLES} requests per page, one at a time ...", flush=True)
            timings.clear()
            for _ in range(SAMPLES):
                async with client.get(base + thread_path) as response:
                    await response.read()
            uncached = list(timings[thread_path])
            archive.pages.rendered.size = cached
            timings.clear()
            for path_ in (thread_path, community_path):
                for _ in range(SAMPLES):
                    async with client.get(base + path_) as response:
                        await response.read()
            server_time = {
                "thread_500_posts_rendered_each_time": summary(uncached),
                "thread_500_posts": summary(timings[thread_path]),
                "community_page": summary(timings[community_path]),
            }
            print(f"search page, {SAMPLES // 4} requests per query, one at a time ...", flush=True)
            for kind, query in SEARCHES.items():
                search_path = "/c/pm/search?" + urlencode({"q": query})
                async with client.get(base + search_path) as response:
                    assert response.status == 200, (query, response.status)
                    assert b'class="snippet"' in await response.read(), f"{query} found nothing"
                for _ in range(SAMPLES // 4):
                    async with client.get(base + search_path) as response:
                        await response.read()
                server_time[f"search_{kind}"] = summary(timings[f"search:{query}"][1:])
            print(f"throughput, {THROUGHPUT_REQUESTS} requests by {CLIENTS} clients ...", flush=True)
            archive_rps = await _throughput(client, base + thread_path)
            static_rps = await _throughput(client, base + "/static-copy")
    finally:
        await server.stop()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "store": {"engine": "sqlite", "posts": POSTS, "thread_posts": LONG_THREAD},
        "server_time": server_time,
        "thread_page_bytes": len(body["thread"]),
        "throughput": {
            "clients": CLIENTS,
            "requests": THROUGHPUT_REQUESTS,
            "thread_page_rps": round(archive_rps, 1),
            "static_same_bytes_rps": round(static_rps, 1),
            "ratio": round(archive_rps / static_rps, 3),
        },
    }


async def _throughput(client: aiohttp.ClientSession, url: str) -> float:
    remaining = THROUGHPUT_REQUESTS

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with client.get(url) as response:
                assert response.status == 200
                await response.read()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return THROUGHPUT_REQUESTS / (time.perf_counter() - began)
