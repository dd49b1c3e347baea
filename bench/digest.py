"""The digest run at scale: 10,000 readers in 30 time zones over a community with 5,000 posts.

Measured in one run, on the local stack's Postfix (everything on 127.0.0.1, bounded, stops by itself):
- preparation: every due reader's digest selected (the period read once, ranked once per period),
  rendered (once per issue) and composed (per reader), as digests per second, with the peak RSS;
- sending: ``ICOP_BENCH_DIGEST_SEND`` (default 2,000) of the prepared digests handed to Postfix by the
  digest sender (claim, commit before the final dot, record) as mails per second, divided by the rate
  of plain aiosmtplib sending the same prepared messages over the same number of connections.

Results go to bench/results/digest-<UTC time>.json and a summary on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib

from bridge.config import LoadedConfig
from bridge.config.schema import Config
from bridge.core.model import Channel, DeliveryMode, MembershipState, PracticeState, Role
from bridge.devstack.stack import Stack
from bridge.digest.service import CLAIM_BATCH, DigestService, DueDigest
from bridge.email.addresses import verp_address
from bridge.email.smtp import SmtpSender
from bridge.store import Database, Store, upgrade
from bridge.store.models import (
    Community,
    Identity,
    IdentityKind,
    Membership,
    Person,
    Post,
    Practice,
    Tag,
    Thread,
    ThreadTag,
)

READERS = int(os.environ.get("ICOP_BENCH_DIGEST_READERS", "10000"))
POSTS = int(os.environ.get("ICOP_BENCH_DIGEST_POSTS", "5000"))
SEND = int(os.environ.get("ICOP_BENCH_DIGEST_SEND", "2000"))
CONNECTIONS = int(os.environ.get("ICOP_BENCH_DIGEST_CONNECTIONS", "4"))
RESULTS = Path(__file__).parent / "results"
SLUG = "bench-practice"
LIST = "bench-practice@lists.example.test"
ZONES = (
    "UTC",
    "Europe/Dublin",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Africa/Lagos",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Asia/Tehran",
    "Asia/Shanghai",
)
TAGS = ("estimation", "risk", "retrospectives", "planning", "stakeholders", "metrics", "hiring", "tools")
WORDS = [
    "plan",
    "estimate",
    "risk",
    "review",
    "team",
    "scope",
    "budget",
    "vendor",
    "sprint",
    "release",
    "quality",
    "customer",
    "forecast",
    "dependency",
    "milestone",
    "backlog",
    "retrospective",
    "lesson",
    "practice",
    "meeting",
]


@dataclass
class Timer:
    began: float = 0.0

    cpu_began: float = 0.0

    def __enter__(self) -> Timer:
        self.began = time.perf_counter()
        self.cpu_began = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.began
        # CPU time of this process: on a machine shared with other work, what a quiet one would take.
        self.cpu_seconds = time.process_time() - self.cpu_began


def config(smtp_port: int) -> LoadedConfig:
    data: dict[str, Any] = {
        "base_url": "https://icop.example.com",
        "matrix": {
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@icop:example.test",
            "access_token_env": "X",
        },
        "mail": {
            "imap": {"host": "127.0.0.1", "security": "none", "user": LIST, "password_env": "X"},
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "connections": CONNECTIONS},
        },
        "community": [
            {
                "slug": SLUG,
                "name": "Bench Practice",
                "room": "!bench:example.test",
                "list_address": LIST,
                "description": "A community of practice made up for the benchmark.",
                "digest": {"frequency": "weekly", "weekday": "monday", "hour": 8},
            }
        ],
    }
    return LoadedConfig(config=Config.model_validate(data), path=Path("bench.toml"), key_lines={})


async def populate(store: Store, now: datetime) -> None:
    """5,000 posts in 30 days, 10,000 readers in 30 zones, subscribed before the period."""
    rng = random.Random(7)
    db = store.db
    async with db.transaction() as tx:
        c = tx.client
        community = await Community.create(
            slug=SLUG,
            name="Bench Practice",
            list_address=LIST,
            room="!bench:example.test",
            room_id="!bench:example.test",
            time_zone="UTC",
            using_db=c,
        )
        tags = [
            await Tag.create(community_id=community.id, name=t, label=t.title(), using_db=c) for t in TAGS
        ]
        authors = [await Person.create(display_name=f"Author {n}", using_db=c) for n in range(200)]
        await Membership.bulk_create(
            [Membership(community_id=community.id, person_id=p.id, role=Role.MEMBER) for p in authors],
            using_db=c,
        )
        start = now - timedelta(days=30)
        threads: list[Thread] = []
        for n in range(POSTS // 6):
            threads.append(
                await Thread.create(
                    community_id=community.id,
                    subject=f"Thread {n}: " + " ".join(rng.sample(WORDS, 5)),
                    normalised_subject=f"thread {n}",
                    token=f"t{n}",
                    created_at=start,
                    last_activity_at=now,
                    using_db=c,
                )
            )
        await ThreadTag.bulk_create(
            [ThreadTag(thread_id=t.id, tag_id=rng.choice(tags).id) for t in threads], using_db=c
        )
        posts = []
        for n in range(POSTS):
            thread = threads[n % len(threads)]
            author = rng.choice(authors)
            at = start + timedelta(seconds=rng.uniform(0, 30 * 86400))
            posts.append(
                Post(
                    community_id=community.id,
                    thread_id=thread.id,
                    parent_id=None if n < len(threads) else 1,
                    author_id=author.id,
                    author_name=author.display_name,
                    author_address=f"a{author.id}@x",
                    origin_channel=rng.choice((Channel.EMAIL, Channel.MATRIX)),
                    origin_key=f"k{n}",
                    body_text=" ".join(rng.choices(WORDS, k=60)),
                    created_at=at,
                    reaction_count=rng.randint(0, 4),
                )
            )
        await Post.bulk_create(posts, batch_size=500, using_db=c)
        await Practice.bulk_create(
            [
                Practice(
                    community_id=community.id,
                    thread_id=t.id,
                    title=f"Practice {i}",
                    summary="Do it.",
                    state=PracticeState.CONFIRMED,
                    created_at=now - timedelta(days=3),
                    confirmed_at=now - timedelta(days=2),
                    updated_at=now,
                )
                for i, t in enumerate(threads[:10])
            ],
            using_db=c,
        )
        people = [Person(display_name=f"Reader {n}", time_zone=ZONES[n % len(ZONES)]) for n in range(READERS)]
        await Person.bulk_create(people, batch_size=1000, using_db=c)
        created = await Person.filter(display_name__startswith="Reader ").using_db(c).order_by("id")
        await Identity.bulk_create(
            [
                Identity(person_id=p.id, kind=IdentityKind.EMAIL, address=f"reader{p.id}@example.test")
                for p in created
            ],
            batch_size=1000,
            using_db=c,
        )
        await Membership.bulk_create(
            [
                Membership(
                    community_id=community.id,
                    person_id=p.id,
                    role=Role.READER,
                    state=MembershipState.ACTIVE,
                    delivery=DeliveryMode.DIGEST,
                    digest_frequency="weekly",
                    subscribed_at=now - timedelta(days=60),
                )
                for p in created
            ],
            batch_size=1000,
            using_db=c,
        )


async def prepare_all(
    service: DigestService, loaded: LoadedConfig, now: datetime
) -> tuple[list[tuple[DueDigest, bytes]], dict[str, float]]:
    """Select, render and compose every due digest, as the service's run does before sending."""
    config = loaded.config.community[0]
    record = await service.store.communities.by_slug(SLUG)
    assert record is not None
    prepared: list[tuple[DueDigest, bytes]] = []
    with Timer() as due_t:
        due = await service._due(config, record, now)
    with Timer() as load_t:
        source = await service._source(config, record, [d.period for d in due])
    from bridge.core.digest.selection import rank_period

    ranked: dict[Any, Any] = {}
    with Timer() as make_t:
        for n, item in enumerate(due):
            key = (item.period.start, item.period.end)
            if key not in ranked:
                ranked[key] = rank_period(source.period(*key))
            content = service._content(ranked[key], item.reader, [])
            raw = service.prepare(config, item, content, n + 1, now).raw
            # Only the mails the sending phase needs are kept: the service sends as it goes.
            prepared.append((item, raw if n < SEND else b""))
    return prepared, {
        "due_seconds": due_t.seconds,
        "load_seconds": load_t.seconds,
        "select_render_compose_seconds": make_t.seconds,
        "select_render_compose_cpu_seconds": make_t.cpu_seconds,
        "periods": len(ranked),
        "renders": service.renderer.renders,
    }


async def send_bridge(service: DigestService, items: list[tuple[DueDigest, bytes]]) -> float:
    """The digest sender's path for prepared mails: claims by the batch, then each mail recorded as
    sent just before its final dot (``DigestService._send`` less the rendering)."""
    smtp = service.smtp
    assert smtp is not None
    slots = asyncio.Semaphore(CONNECTIONS * 2)

    async def one(item: DueDigest, raw: bytes, digest_id: int) -> None:
        async with slots:

            async def commit() -> None:
                await service.store.digests.mark_sent(digest_id, f"d{digest_id}@x", datetime.now(UTC))

            assert item.reader.email is not None
            await smtp.send_committed(
                raw,
                envelope_from=verp_address(LIST, item.reader.email),
                recipient=item.reader.email,
                commit=commit,
            )

    with Timer() as t:
        for start in range(0, len(items), CLAIM_BATCH):
            chunk = items[start : start + CLAIM_BATCH]
            claimed = await service._claim_many([item for item, _ in chunk], datetime.now(UTC))
            await asyncio.gather(*(one(item, raw, claimed[item.reader.membership_id]) for item, raw in chunk))
    return t.seconds


async def send_raw(port: int, items: list[tuple[DueDigest, bytes]]) -> float:
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(CONNECTIONS)]
    for client in clients:
        await client.connect()
    queue: asyncio.Queue[tuple[DueDigest, bytes]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker(client: aiosmtplib.SMTP) -> None:
        while not queue.empty():
            item, raw = queue.get_nowait()
            assert item.reader.email is not None
            await client.sendmail(verp_address(LIST, item.reader.email), [item.reader.email], raw)

    with Timer() as t:
        await asyncio.gather(*(worker(c) for c in clients))
    for client in clients:
        await client.quit()
    return t.seconds


async def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    now = datetime(2026, 3, 9, 12, tzinfo=UTC)  # a Monday: every zone's weekly 08:00 has passed
    print(
        f"digest benchmark: {READERS} readers in {len(ZONES)} zones, {POSTS} posts; sending {SEND}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, Stack() as stack:
        url = os.environ.get("ICOP_DATABASE_URL") or f"sqlite://{tmp}/bench.sqlite3"
        loaded = config(stack.smtp_port)
        async with Database(url) as db:
            await upgrade(db)
            store = Store(db)
            with Timer() as populate_t:
                await populate(store, now)
            print(f"  store populated in {populate_t.seconds:.1f} s", flush=True)
            smtp = SmtpSender(loaded.config.mail.smtp, None)
            service = DigestService(loaded, store, b"bench-key", smtp, concurrency=CONNECTIONS * 2)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            prepared, phases = await prepare_all(service, loaded, now)
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            rate = len(prepared) / phases["select_render_compose_seconds"]
            cpu_rate = len(prepared) / phases["select_render_compose_cpu_seconds"]
            whole = len(prepared) / (
                phases["due_seconds"] + phases["load_seconds"] + phases["select_render_compose_seconds"]
            )
            print(
                f"  {len(prepared)} digests selected, rendered and composed: {rate:,.0f}/s "
                f"(by CPU time {cpu_rate:,.0f}/s) "
                f"({whole:,.0f}/s with the store reads); "
                f"{phases['renders']} renders for {phases['periods']} periods; "
                f"peak RSS {rss_after / 1024:.0f} MB",
                flush=True,
            )
            half = SEND // 2
            raw_first = await send_raw(stack.smtp_port, prepared[:half])
            bridge_seconds = await send_bridge(service, prepared[half:SEND])
            raw_second = await send_raw(stack.smtp_port, prepared[half:SEND])
            await smtp.close()
        raw_rate = (half + (SEND - half)) / (raw_first + raw_second)
        bridge_rate = (SEND - half) / bridge_seconds
        print(
            f"  to Postfix: digest sender {bridge_rate:,.0f} mails/s, aiosmtplib {raw_rate:,.0f} mails/s, "
            f"ratio {bridge_rate / raw_rate:.2f}",
            flush=True,
        )
    result = {
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "database": "postgres" if url.startswith("postgres") else "sqlite",
        "readers": READERS,
        "zones": len(ZONES),
        "posts": POSTS,
        "digests_prepared": len(prepared),
        "prepare_per_second": round(rate, 1),
        "prepare_per_cpu_second": round(cpu_rate, 1),
        "prepare_with_store_reads_per_second": round(whole, 1),
        "phases": {k: round(v, 3) if isinstance(v, float) else v for k, v in phases.items()},
        "peak_rss_mb": round(rss_after / 1024, 1),
        "rss_before_prepare_mb": round(rss_before / 1024, 1),
        "sent": SEND - half,
        "connections": CONNECTIONS,
        "bridge_mails_per_second": round(bridge_rate, 1),
        "aiosmtplib_mails_per_second": round(raw_rate, 1),
        "ratio": round(bridge_rate / raw_rate, 3),
    }
    out = RESULTS / f"digest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
