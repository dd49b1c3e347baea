"""Generated archives for the search benchmark: realistic shapes, written by bulk SQL.

Posts arrive in time order over eight years; about one in seven starts a thread, the others answer a
recent thread (recent ones more often). Mail posts run to a median of ~65 words, chat posts ~15; words are
drawn from a Zipf mix (s = 1) over ~60,000 words (English function words first, then the vocabulary of
project practice, then made-up words for the long tail, where the rare words live), with a few set phrases
("risk register", "planning poker") sprinkled in. Mail replies carry the quoted parent in ``full_text``
(stored, not indexed: search indexes what the author wrote). Authors follow a Zipf activity too; 8 % of
threads carry one or two of 30 tags; one thread in 500 is a confirmed practice.

The SQLite file is written once under ``var/bench/`` with the project's migrations and reused while the
generator's version is unchanged; the PostgreSQL database is filled from it with COPY, so both engines
search the same posts. Indexing happens through the migration's triggers, as for live posts.
"""

from __future__ import annotations

import itertools
import random
import secrets
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bridge.core.model import Role, RosterMember
from bridge.store import Database, Store, upgrade

GENERATOR_VERSION = "1"
SEED = 20261205
START = datetime(2018, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=8 * 365)
SLUG = "bench"
BATCH = 20_000

Log = Callable[[str], None]

FUNCTION_WORDS = (
    "the of and to a in is that for it we on with as this be are have at not by our you from or can will "
    "an they but what all do if more about so there their when which one would been has was were how "
    "also them some then than its other into only just time could new like our up out no any"
).split()
DOMAIN_WORDS = (
    "project team risk plan planning estimate estimation budget stakeholder sprint backlog review retro "
    "retrospective meeting deadline scope milestone owner register schedule forecast delivery customer "
    "quality process practice community lesson learned template kanban scrum agile waterfall velocity "
    "capacity dependency issue change request approval governance report status dashboard metric lead "
    "cycle flow board story epic release deployment testing requirement design architecture vendor "
    "contract cost resource allocation priority roadmap portfolio program sponsor charter kickoff "
    "workshop coaching mentoring onboarding handover documentation wiki knowledge sharing feedback "
    "survey interview user research prototype pilot rollout training adoption culture trust conflict "
    "negotiation communication escalation decision log action item follow minutes agenda facilitation"
).split()
PHRASES = (
    "risk register",
    "planning poker",
    "lead time",
    "action items",
    "lessons learned",
    "status report",
    "change request",
    "definition of done",
    "critical path",
    "burn down chart",
)
TAGS = (
    "estimation risk governance agile kanban scrum budget stakeholders retrospectives onboarding tooling "
    "metrics reporting vendors contracts hiring coaching planning quality testing release architecture "
    "portfolio roadmap culture remote facilitation documentation security compliance"
).split()
FIRST_NAMES = (
    "Ana Bo Cy Dana Eli Femi Gita Hugo Ines Jon Kai Lea Mia Nils Omar Pia Quinn Rosa Sami Tara Uma Vik "
    "Wen Xavi Yara Zoe Aiko Bruno Chen Dmitri Elif Farah Goran Hana Ivan Jana Kofi Lina Mateo Nora Olga "
    "Priya Rafael Sofia Tomas Ulla Vera Wiktor Yusuf Zhen Amara Bjorn Carla Dario Emre Freya Gaspard Hiro"
).split()
LAST_NAMES = (
    "Souza Lind Kowalski Nguyen Okafor Müller Rossi García Haddad Ivanova Tanaka Dubois Jensen Novak Silva "
    "Kim Patel Moreau Costa Fischer Horvat Larsen Mendes Nakamura Olsen Petrov Quispe Romero Sato Takahashi "
    "Umar Varga Weber Xu Yilmaz Zhang Andersen Bauer Conti Diaz Eriksson Ferrari Gomes Hansen Ito Jovanović "
    "Kovač Lopez Martin Nowak Ortiz Popescu Ramos Schmidt Torres Ueda Vidal Wagner Yamamoto Zielinski"
).split()
SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu "
    "pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo za ze zi zo bra kre tri plo "
    "stu gra fle dri sko"
).split()


class Vocabulary:
    """Words in frequency order and a sampler with Zipf weights."""

    def __init__(self, rng: random.Random, size: int = 60_000) -> None:
        words = list(dict.fromkeys(FUNCTION_WORDS + DOMAIN_WORDS))
        seen = set(words)
        while len(words) < size:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            if word not in seen:
                seen.add(word)
                words.append(word)
        self.words = words
        self.cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
        self.rng = rng

    def sample(self, count: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=count)


def _text(vocabulary: Vocabulary, rng: random.Random, words: int) -> str:
    drawn = vocabulary.sample(words)
    sentences = []
    while drawn:
        size = rng.randint(6, 18)
        sentence, drawn = drawn[:size], drawn[size:]
        if rng.random() < 0.08:
            sentence.insert(rng.randrange(len(sentence) + 1), rng.choice(PHRASES))
        first = sentence[0]
        sentence[0] = first[:1].upper() + first[1:]
        sentences.append(" ".join(sentence) + rng.choice(".....?!"))
    return " ".join(sentences)


def _authors(rng: random.Random, count: int = 3000) -> list[tuple[str, str]]:
    people = []
    for n in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        address = f"{first.lower()}.{last.lower()}{n}@org{n % 97}.example"
        people.append((f"{first} {last}", address))
    return people


def _stamp(moment: datetime) -> str:
    return str(moment)  # tortoise's format on SQLite


def sqlite_path(directory: Path, posts: int) -> Path:
    return directory / f"search-{posts}-v{GENERATOR_VERSION}.sqlite3"


async def ensure_sqlite(directory: Path, posts: int, log: Log) -> Path:
    """The archive of ``posts`` posts as a SQLite file, generated unless already there."""
    path = sqlite_path(directory, posts)
    if path.exists():
        log(f"reusing {path}")
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in directory.glob(partial.name + "*"):
        leftover.unlink()
    async with Database(f"sqlite://{partial}") as db:
        await upgrade(db)
        await _community(db)
    began = time.monotonic()
    _generate(partial, posts, log)
    log(f"generated {posts:,} posts in {time.monotonic() - began:.0f} s")
    partial.rename(path)
    return path


async def _community(db: Database) -> None:
    await Store(db).communities.sync_community(
        slug=SLUG,
        name="Benchmark Practice",
        list_address="bench@lists.example.com",
        room="#bench:example.com",
        time_zone="UTC",
        roster=(RosterMember("Ana Souza", "ana@example.org", Role.CONVENER),),
    )


def _generate(path: Path, posts: int, log: Log) -> None:
    rng = random.Random(SEED)
    vocabulary = Vocabulary(rng)
    authors = _authors(rng)
    author_weights = list(itertools.accumulate(1.0 / (n + 1) ** 0.8 for n in range(len(authors))))
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")
    community_id = connection.execute("SELECT id FROM community WHERE slug = ?", (SLUG,)).fetchone()[0]
    threads: list[tuple[int, str, int]] = []  # (thread id, subject, last post id)
    thread_id = post_id = 0
    step = SPAN / posts
    began = time.monotonic()
    for batch_start in range(0, posts, BATCH):
        thread_rows, post_rows, touched = [], [], {}
        for index in range(batch_start, min(posts, batch_start + BATCH)):
            post_id += 1
            at = START + step * index + timedelta(seconds=rng.random() * 60)
            name, address = rng.choices(authors, cum_weights=author_weights)[0]
            email = rng.random() < 0.6
            if not threads or rng.random() < 0.15:
                thread_id += 1
                subject = _text(vocabulary, rng, rng.randint(3, 8)).rstrip(".?!")
                thread_rows.append(
                    (thread_id, community_id, subject, subject.lower(), secrets.token_urlsafe(12), _stamp(at))
                )
                threads.append((thread_id, subject, post_id))
                position, parent = len(threads) - 1, None
            else:
                position = len(threads) - 1 - min(len(threads) - 1, int(rng.expovariate(1 / 25)))
                parent = threads[position][2]
            tid, subject, _last = threads[position]
            threads[position] = (tid, subject, post_id)
            touched[tid] = at
            words = max(1, round(rng.lognormvariate(4.2, 0.8) if email else rng.lognormvariate(2.7, 0.7)))
            body = _text(vocabulary, rng, words)
            full = (
                f"{body}\n\nOn an earlier day, someone wrote:\n> {_text(vocabulary, rng, 20)}"
                if parent
                else body
            )
            key = f"<p{post_id}@bench.example>" if email else f"$e{post_id}"
            post_rows.append(
                (
                    post_id, community_id, tid, parent, name, address, "email" if email else "matrix", key,
                    None if email else key, key if email else None,
                    (f"Re: {subject}" if parent else subject) if email else None,
                    body, full, "visible", _stamp(at), _stamp(at), 0,
                )
            )  # fmt: skip
        connection.execute("BEGIN")
        connection.executemany(
            'INSERT INTO "thread" ("id", "community_id", "subject", "normalised_subject", "token", '
            '"created_at", "last_activity_at") VALUES (?, ?, ?, ?, ?, ?, ?6)',
            thread_rows,
        )
        connection.executemany(
            'UPDATE "thread" SET "last_activity_at" = ? WHERE "id" = ?',
            [(_stamp(at), tid) for tid, at in touched.items()],
        )
        connection.executemany(
            'INSERT INTO "post" ("id", "community_id", "thread_id", "parent_id", "author_name", '
            '"author_address", "origin_channel", "origin_key", "matrix_event_id", "email_message_id", '
            '"subject", "body_text", "full_text", "state", "created_at", "received_at", "reaction_count") '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            post_rows,
        )
        connection.execute("COMMIT")
        done = min(posts, batch_start + BATCH)
        rate = done / max(1e-9, time.monotonic() - began)
        log(f"  {done:,} / {posts:,} posts ({rate:,.0f}/s)")
        threads = threads[-500:]  # only recent threads get answers
    _tags_and_practices(connection, community_id, thread_id, rng)
    connection.execute("PRAGMA optimize")
    connection.close()


def _tags_and_practices(
    connection: sqlite3.Connection, community_id: int, threads: int, rng: random.Random
) -> None:
    connection.execute("BEGIN")
    connection.executemany(
        'INSERT INTO "tag" ("community_id", "name", "label", "description") VALUES (?, ?, ?, ?)',
        [(community_id, tag, tag.title(), "") for tag in TAGS],
    )
    tag_ids = [r[0] for r in connection.execute('SELECT "id" FROM "tag" ORDER BY "id"')]
    tag_weights = list(itertools.accumulate(1.0 / (n + 1) for n in range(len(tag_ids))))
    rows = set()
    for thread in range(1, threads + 1):
        if rng.random() < 0.08:
            for tag in rng.choices(tag_ids, cum_weights=tag_weights, k=rng.randint(1, 2)):
                rows.add((thread, tag))
    connection.executemany(
        'INSERT INTO "thread_tag" ("thread_id", "tag_id", "source") VALUES (?, ?, \'hashtag\')', sorted(rows)
    )
    practices = [
        (community_id, thread, f"Practice {thread}", "", "confirmed", str(START), str(START))
        for thread in range(1, threads + 1)
        if rng.random() < 0.002
    ]
    connection.executemany(
        'INSERT INTO "practice" ("community_id", "thread_id", "title", "summary", "state", "created_at", '
        '"updated_at") VALUES (?, ?, ?, ?, ?, ?, ?)',
        practices,
    )
    connection.execute("COMMIT")


_COPIED = {
    "thread": (
        "id", "community_id", "subject", "normalised_subject", "token", "created_at", "last_activity_at",
    ),
    "post": (
        "id", "community_id", "thread_id", "parent_id", "author_name", "author_address", "origin_channel",
        "origin_key", "matrix_event_id", "email_message_id", "subject", "body_text", "full_text", "state",
        "created_at", "received_at", "reaction_count",
    ),
    "tag": ("id", "community_id", "name", "label", "description"),
    "thread_tag": ("thread_id", "tag_id", "source"),
    "practice": ("community_id", "thread_id", "title", "summary", "state", "created_at", "updated_at"),
}  # fmt: skip
_TIMES = {"created_at", "last_activity_at", "received_at", "updated_at"}


async def fill_postgres(source: Path, url: str, log: Log) -> None:
    """Copy the SQLite archive into the empty PostgreSQL database at ``url`` (migrated first)."""
    async with Database(url) as db:
        await upgrade(db)
        await _community(db)
    lite = sqlite3.connect(source)
    connection = await asyncpg.connect(url)
    try:
        for table, columns in _COPIED.items():
            began = time.monotonic()
            cursor = lite.execute(f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY rowid')
            times = [i for i, c in enumerate(columns) if c in _TIMES]
            total = 0
            while rows := cursor.fetchmany(BATCH):
                records = [_pg_row(row, times) for row in rows]
                await connection.copy_records_to_table(table, records=records, columns=list(columns))
                total += len(records)
            log(f"  copied {total:,} {table} rows in {time.monotonic() - began:.0f} s")
        for table in ("thread", "post", "tag"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))"
            )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
        lite.close()


def _pg_row(row: tuple[object, ...], times: list[int]) -> tuple[object, ...]:
    values = list(row)
    for index in times:
        values[index] = datetime.fromisoformat(str(values[index]))
    return tuple(values)
