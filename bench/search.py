"""Search latency, index size and index delay over generated archives, on SQLite and PostgreSQL.

For each size (``ICOP_BENCH_SEARCH_SIZES``, default 100,000 and 1,000,000 posts) the archive of
``bench/search_data.py`` is generated once under ``var/bench/`` (SQLite) and copied into a throwaway
PostgreSQL cluster (or ``ICOP_BENCH_POSTGRES_URL``, a superuser URL). Each query kind is a set of ten
queries, each run once to warm up and then ``ICOP_BENCH_SEARCH_REPEAT`` times (default 5) through
``Search.search`` with the default limit of 20, as ``icop search`` runs it (parse, candidates, ranking,
figures and snippets of the page): p50/p95/p99 over all runs of a kind, with the median number of
matching posts. Also measured: how long after ``Posts.ingest`` returns a new post is found (the index is
written in the same transaction, so the first search should find it), and the index size per post next
to the size of the text it indexes (thread subject, post text, author). Results go to
``bench/results/search-<UTC time>.json``; the machine's cores and load are recorded with them.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.search_data import (
    DOMAIN_WORDS,
    GENERATOR_VERSION,
    LAST_NAMES,
    PHRASES,
    SEED,
    TAGS,
    Vocabulary,
    ensure_sqlite,
    fill_postgres,
)
from bridge.core.model import Channel, InboundMessage
from bridge.core.query import parse_query
from bridge.devstack.postgres import PostgresCluster
from bridge.store import Database, Dialect, Store
from bridge.store.search import Search, engine_for

ROOT = Path(__file__).parents[1]
DATA = ROOT / "var" / "bench"
RESULTS = Path(__file__).parent / "results"
SIZES = [int(s) for s in os.environ.get("ICOP_BENCH_SEARCH_SIZES", "100000,1000000").split(",") if s]
REPEAT = int(os.environ.get("ICOP_BENCH_SEARCH_REPEAT", "5"))
ENGINES = os.environ.get("ICOP_BENCH_SEARCH_ENGINES", "sqlite,postgres").split(",")
GOAL_P95_MS = 50.0


def log(line: str) -> None:
    print(line, flush=True)


def query_kinds() -> dict[str, list[str]]:
    """Ten queries of each kind, the same for every size and engine."""
    words = Vocabulary(random.Random(SEED)).words
    rng = random.Random(7)
    common = DOMAIN_WORDS[:40]
    months = [f"{year}-{month:02d}" for year in range(2019, 2025) for month in (1, 4, 7, 10)]
    return {
        "rare word": [words[rank] for rank in range(30_000, 60_000, 3_000)],
        "two common words": [" ".join(rng.sample(common, 2)) for _ in range(10)],
        "common phrase": [f'"{p}"' for p in PHRASES],
        "prefix": [w[:4] + "*" for w in common[:10]],
        "from:": [f"from:{name.lower()}" for name in LAST_NAMES[:10]],
        "tag:": [f"tag:{tag}" for tag in TAGS[:10]],
        "date range": [f"after:{m}-01 before:{m}-15" for m in rng.sample(months, 10)],
        "over 100,000 matches": ["the", "of", "and", "to", "the of", "is", "we", "that", "for", "it"],
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


async def measure_engine(db: Database, kinds: dict[str, list[str]]) -> dict[str, Any]:
    search = Search(db)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    results: dict[str, Any] = {}
    for kind, queries in kinds.items():
        samples: list[float] = []
        cpu: list[float] = []
        counts: list[int] = []
        for text in queries:
            counts.append(await matching_posts(db, text))
            await search.search(parse_query(text), now=now)
            for _ in range(REPEAT):
                began, began_cpu = time.perf_counter(), time.process_time()
                await search.search(parse_query(text), now=now)
                samples.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
        figures = {
            "queries": queries,
            "median_matching_posts": int(statistics.median(counts)),
            "p50_ms": round(percentile(samples, 0.50) * 1000, 2),
            "p95_ms": round(percentile(samples, 0.95) * 1000, 2),
            "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
            # CPU time of this process: SQLite's whole work (it runs in-process), PostgreSQL's client side
            # only. Less disturbed than wall time when other work shares the cores.
            "cpu_p50_ms": round(percentile(cpu, 0.50) * 1000, 2),
            "cpu_p95_ms": round(percentile(cpu, 0.95) * 1000, 2),
            "n": len(samples),
            "load_after": os.getloadavg()[0],
        }
        results[kind] = figures
        log(
            f"    {kind:<22} p50 {figures['p50_ms']:>8.2f}  p95 {figures['p95_ms']:>8.2f}  "
            f"p99 {figures['p99_ms']:>8.2f} ms  (cpu p50 {figures['cpu_p50_ms']:>6.2f}  "
            f"p95 {figures['cpu_p95_ms']:>6.2f} ms)  {figures['median_matching_posts']:>8,} matching  "
            f"load {figures['load_after']:.1f}"
        )
    return results


async def matching_posts(db: Database, text: str) -> int:
    """How many posts a query matches in all (not timed): the candidates query without its cap."""
    engine = engine_for(db.dialect)
    sql, params = engine.candidates(engine.split(parse_query(text)), None, 10**9)
    rows = await db.fetch(f"SELECT count(*) AS n FROM ({sql}) AS matching", params)
    return int(rows[0]["n"])


async def searchable_after(db: Database, rounds: int = 5) -> dict[str, float]:
    """Milliseconds from ``Posts.ingest`` returning to a search finding the new post."""
    store = Store(db)
    community = await store.communities.by_slug("bench")
    assert community is not None
    search = Search(db)
    delays, created = [], []
    for n in range(rounds):
        word = f"freshword{random.randrange(10**9)}x{n}"
        message = InboundMessage(
            channel=Channel.MATRIX, origin_key=f"$fresh{word}", community_slug="bench",
            sender_address="@ana:example.com", sender_name="Ana Souza", text=f"A new {word} post.",
            matrix_event_id=f"$fresh{word}",
        )  # fmt: skip
        result = await store.posts.ingest(message, community_id=community.id, thread=1, author_id=None)
        began = time.perf_counter()
        while not await search.search(parse_query(word)):
            if time.perf_counter() - began > 10:
                raise RuntimeError(f"a new post was not found within 10 s ({db.dialect})")
        delays.append(time.perf_counter() - began)
        created.append(result.post_id)
    for post_id in created:  # leave the generated archive as it was
        await db.execute(
            'DELETE FROM "post" WHERE "id" = ' + ("$1" if db.dialect is Dialect.POSTGRES else "?"), [post_id]
        )
    return {"p50_ms": round(statistics.median(delays) * 1000, 2), "max_ms": round(max(delays) * 1000, 2)}


_TEXT_SQLITE = """
SELECT count(*) AS posts,
       sum(length(CAST(t."subject" AS BLOB)) + length(CAST(p."body_text" AS BLOB))
           + length(CAST(p."author_name" || ' ' || p."author_address" AS BLOB))) AS text_bytes
FROM "post" p JOIN "thread" t ON t."id" = p."thread_id" WHERE p."state" = 'visible'
"""
_TEXT_POSTGRES = _TEXT_SQLITE.replace("length(CAST(", "octet_length((").replace(" AS BLOB)", ")")


async def index_size(db: Database) -> dict[str, Any]:
    if db.dialect is Dialect.SQLITE:
        text = (await db.fetch(_TEXT_SQLITE))[0]
        size = await db.fetch("SELECT sum(pgsize) AS n FROM dbstat WHERE name LIKE 'post_search%'")
        parts = {"fts5_tables_bytes": int(size[0]["n"])}
    else:
        text = (await db.fetch(_TEXT_POSTGRES))[0]
        rows = await db.fetch(
            "SELECT pg_relation_size('ix_post_search_document') AS gin, "
            'sum(pg_column_size("search_document")) AS vectors FROM "post"'
        )
        parts = {"gin_index_bytes": int(rows[0]["gin"]), "tsvector_column_bytes": int(rows[0]["vectors"])}
    posts, text_bytes = int(text["posts"]), int(text["text_bytes"])
    total = sum(parts.values())
    return {
        **parts,
        "posts": posts,
        "text_bytes": text_bytes,
        "index_bytes_per_post": round(total / posts, 1),
        "text_bytes_per_post": round(text_bytes / posts, 1),
        "index_to_text": round(total / text_bytes, 3),
    }


async def _complete(url: str, posts: int) -> bool:
    connection = await asyncpg.connect(url)
    try:
        return bool(await connection.fetchval('SELECT count(*) FROM "post"') >= posts)
    except asyncpg.PostgresError:
        return False
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def postgres_server() -> AsyncIterator[str | None]:
    configured = os.environ.get("ICOP_BENCH_POSTGRES_URL")
    if "postgres" not in ENGINES:
        yield None
        return
    if configured:
        yield configured
        return
    DATA.mkdir(parents=True, exist_ok=True)
    cluster = PostgresCluster(parent_dir=DATA)
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


async def bench_postgres(path: Path, posts: int, kinds: dict[str, list[str]], server: str) -> dict[str, Any]:
    name = f"icop_bench_{posts}_v{GENERATOR_VERSION}"
    keep = bool(os.environ.get("ICOP_BENCH_POSTGRES_URL"))  # one's own server: the copy stays for later runs
    url = server.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(server)
    try:
        exists = await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
        copy_seconds = None
        if exists and keep and await _complete(url, posts):
            log(f"  PostgreSQL: reusing database {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            log("  PostgreSQL: copying the archive")
            began = time.monotonic()
            await fill_postgres(path, url, log)
            copy_seconds = round(time.monotonic() - began, 1)
        async with Database(url) as db:
            log("  PostgreSQL tsvector")
            figures = {
                "copy_with_indexing_seconds": copy_seconds,
                "index": await index_size(db),
                "searchable_after": await searchable_after(db),
                "queries": await measure_engine(db, kinds),
            }
        if not keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    return figures


async def bench_size(posts: int, kinds: dict[str, list[str]], server: str | None) -> dict[str, Any]:
    log(f"== {posts:,} posts")
    path = await ensure_sqlite(DATA, posts, log)
    report: dict[str, Any] = {}
    if "sqlite" in ENGINES:
        async with Database(f"sqlite://{path}") as db:
            log("  SQLite FTS5")
            report["sqlite"] = {
                "index": await index_size(db),
                "searchable_after": await searchable_after(db),
                "queries": await measure_engine(db, kinds),
            }
    if server is not None:
        report["postgres"] = await bench_postgres(path, posts, kinds, server)
    for engine, figures in report.items():
        index = figures["index"]
        log(
            f"  {engine}: index {index['index_bytes_per_post']} bytes/post for "
            f"{index['text_bytes_per_post']} bytes of text ({index['index_to_text']} x); "
            f"new post found after {figures['searchable_after']['max_ms']} ms at most"
        )
    return report


async def main() -> int:
    kinds = query_kinds()
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started": started.isoformat(),
        "machine": {
            "cores": os.cpu_count(),
            "load_at_start": os.getloadavg(),
            "python": platform.python_version(),
        },
        "repeat": REPEAT,
        "sizes": {},
    }
    async with postgres_server() as server:
        for posts in SIZES:
            report["sizes"][str(posts)] = await bench_size(posts, kinds, server)
    report["machine"]["load_at_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"search-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"results: {out}")
    worst = max(
        (figures["p95_ms"], kind)
        for kind, figures in report["sizes"]
        .get(str(max(SIZES)), {})
        .get("sqlite", {})
        .get("queries", {})
        .items()
    )
    log(f"SQLite at {max(SIZES):,} posts: worst p95 {worst[0]} ms ({worst[1]}); goal < {GOAL_P95_MS} ms")
    return 0
