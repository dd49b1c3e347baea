"""Search on both engines: every operator of the query language, ranking, snippets, and an index that
follows the posts (new, edited, deleted, held, rejected, re-threaded) inside their transaction.

One small archive is built per test (a few dozen posts); each test asks it many questions, so the suite
stays a few seconds per engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.core.model import Channel, PostState, Role, RosterMember
from bridge.core.query import parse_query
from bridge.core.relevance import Candidate, rank_threads
from bridge.store import CommunityRecord, Database, NewThread, Store
from bridge.store.database import Dialect
from bridge.store.migrations import migrations, upgrade
from bridge.store.search import Search, SearchHit, engine_for
from tests.store.conftest import T0, email_message, matrix_message

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class Archive:
    """A community's posts, made through the repositories like the relay makes them."""

    store: Store
    community: CommunityRecord
    threads: dict[str, int] = field(default_factory=dict)  # name → thread id
    posts: dict[str, int] = field(default_factory=dict)  # name → post id
    count: int = 0

    async def post(
        self,
        name: str,
        text: str,
        *,
        thread: str,
        subject: str | None = None,
        author: tuple[str, str] = ("Ana Souza", "ana@example.org"),
        channel: Channel = Channel.EMAIL,
        at: datetime = T0,
        state: PostState = PostState.VISIBLE,
    ) -> int:
        self.count += 1
        key = f"<{name}.{self.count}@example.org>" if channel is Channel.EMAIL else f"$ev{self.count}"
        fields = {"sender_name": author[0], "sender_address": author[1], "sent_at": at}
        if channel is Channel.EMAIL:
            message = email_message(key, text, subject=subject or thread, **fields)
        else:
            message = matrix_message(key, text, **fields)
        target: int | NewThread = self.threads.get(thread) or NewThread(subject or thread, thread.lower())
        result = await self.store.posts.ingest(
            message, community_id=self.community.id, thread=target, author_id=None, state=state, now=at
        )
        self.threads.setdefault(thread, result.thread_id)
        self.posts[name] = result.post_id
        return result.post_id

    async def tag(self, thread: str, *names: str) -> None:
        db = self.store.db
        for name in names:
            await db.execute(
                sql(db, 'INSERT INTO "tag" ("community_id", "name", "label") VALUES (?, ?, ?)'),
                [self.community.id, name, name.title()],
            )
            rows = await db.fetch(sql(db, 'SELECT "id" FROM "tag" WHERE "name" = ?'), [name])
            await db.execute(
                sql(db, 'INSERT INTO "thread_tag" ("thread_id", "tag_id") VALUES (?, ?)'),
                [self.threads[thread], rows[0]["id"]],
            )

    async def practice(self, thread: str, *, confirmed: bool = True) -> None:
        db = self.store.db
        stamp: object = T0 if db.dialect is Dialect.POSTGRES else str(T0)
        state = "confirmed" if confirmed else "proposed"
        await db.execute(
            sql(
                db,
                'INSERT INTO "practice" ("community_id", "thread_id", "title", "summary", "state", '
                '"created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?, ?)',
            ),
            [self.community.id, self.threads[thread], thread, "", state, stamp, stamp],
        )


def sql(db: Database, text: str) -> str:
    """``text`` with its ``?`` placeholders as the database writes them."""
    if db.dialect is Dialect.SQLITE:
        return text
    parts = text.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


@pytest.fixture
async def archive(store: Store, community: CommunityRecord) -> Archive:
    return Archive(store, community)


async def find(archive: Archive, query: str, **options: object) -> list[SearchHit]:
    return await Search(archive.store.db).search(parse_query(query), now=NOW, **options)  # type: ignore[arg-type]


async def threads(archive: Archive, query: str) -> set[str]:
    """The names of the threads a query finds."""
    names = {tid: name for name, tid in archive.threads.items()}
    return {names[hit.thread_id] for hit in await find(archive, query)}


async def _planning_archive(archive: Archive) -> None:
    await archive.post("risk1", "We keep a risk register for every project.", thread="Risk registers")
    await archive.post(
        "risk2",
        "The register lists each risk with an owner.",
        thread="Risk registers",
        author=("Bo Lind", "bo@example.org"),
        channel=Channel.MATRIX,
        at=T0 + timedelta(days=1),
    )
    await archive.post("est1", "Estimation by planning poker works for us.", thread="Estimation")
    await archive.post(
        "est2",
        "Forecasting beats estimation when the backlog is long.",
        thread="Forecasting",
        author=("Cy Kowalski", "cy@lists.example.net"),
        at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC),
    )
    await archive.post("fr", "Un café accentué pour l'ÉCOLE de gestion de projet.", thread="Café")
    await archive.post(
        "budget",
        "The budget review and the risk review happen together.",
        thread="Budget",
        at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    )


async def test_words_phrases_exclusions_or_and_groups(archive: Archive) -> None:
    await _planning_archive(archive)
    # Words are ANDed, anywhere in the subject or the text.
    assert await threads(archive, "risk owner") == {"Risk registers"}
    assert await threads(archive, "risk") == {"Risk registers", "Budget"}
    # A phrase needs its words in order; a word alone does not.
    assert await threads(archive, '"risk register"') == {"Risk registers"}
    assert await threads(archive, '"register risk"') == set()
    # -word and -"phrase" exclude; an exclusion of a filter too.
    assert await threads(archive, "risk -budget") == {"Risk registers"}
    assert await threads(archive, 'risk -"risk review"') == {"Risk registers"}
    # OR between terms, and binding tighter than the implicit AND.
    assert await threads(archive, "estimation OR budget") == {"Estimation", "Forecasting", "Budget"}
    assert await threads(archive, "review estimation OR risk") == {"Budget"}
    assert await threads(archive, "(poker OR backlog) -forecasting") == {"Estimation"}
    # A word with punctuation inside is the phrase of its parts.
    assert await threads(archive, "l'école") == {"Café"}
    # A prefix.
    assert await threads(archive, "forecast*") == {"Forecasting"}
    assert await threads(archive, "regis*") == {"Risk registers"}
    # An exclusion alone is everything else.
    assert await threads(archive, "-risk") == {"Estimation", "Forecasting", "Café"}
    assert await threads(archive, "nothing-like-this") == set()


async def test_case_and_diacritics_fold_both_ways(archive: Archive) -> None:
    await _planning_archive(archive)
    assert await threads(archive, "accentue") == {"Café"}
    assert await threads(archive, "ACCENTUÉ") == {"Café"}
    assert await threads(archive, "ecole cafe") == {"Café"}
    assert await threads(archive, "Estimation") == {"Estimation", "Forecasting"}


async def test_filters_alone_and_with_words(archive: Archive) -> None:
    await _planning_archive(archive)
    await archive.tag("Estimation", "estimation")
    await archive.tag("Café", "accentue")
    await archive.practice("Risk registers")
    await archive.practice("Budget", confirmed=False)
    # from: a name or an address, part of it is enough.
    assert await threads(archive, "from:bo") == {"Risk registers"}
    assert await threads(archive, "from:kowal") == {"Forecasting"}
    assert await threads(archive, "from:lists.example.net") == {"Forecasting"}
    assert await threads(archive, 'from:"Cy Kowalski"') == {"Forecasting"}
    assert await threads(archive, "from:bo owner") == {"Risk registers"}
    assert await threads(archive, "from:bo budget") == set()
    # subject: looks at the thread's subject only (a chat post carries its thread's subject).
    assert await threads(archive, "subject:registers") == {"Risk registers"}
    assert await threads(archive, "subject:owner") == set()
    assert await threads(archive, "subject:registers channel:matrix") == {"Risk registers"}
    # channel:, community:, tag: (folded like tags), is:practice (confirmed practices).
    assert await threads(archive, "channel:matrix") == {"Risk registers"}
    assert await threads(archive, "community:pm-practice budget") == {"Budget"}
    assert await threads(archive, "community:other budget") == set()
    assert await threads(archive, "tag:Estimation") == {"Estimation"}
    assert await threads(archive, "tag:ACCENTUÉ") == {"Café"}
    assert await threads(archive, "estimation -tag:estimation") == {"Forecasting"}
    assert await threads(archive, "tag:estimation OR budget") == {"Estimation", "Budget"}
    assert await threads(archive, "is:practice") == {"Risk registers"}
    assert await threads(archive, "-is:practice risk") == {"Budget"}
    # Dates are UTC days: after:D from D 00:00, before:D until D 00:00.
    assert await threads(archive, "before:2026-03-02") == {"Forecasting", "Budget"}
    assert await threads(archive, "after:2026-03-01 before:2026-03-02") == {"Budget"}
    assert await threads(archive, "before:2026-03-01 estimation") == {"Forecasting"}
    assert await threads(archive, "after:2026-02-28 before:2026-03-01") == {"Forecasting"}
    assert await threads(archive, "after:2026-03-03") == {"Risk registers"}  # Bo's reply, a day later
    assert await threads(archive, "after:2010-01-01") == set(archive.threads)


async def test_results_per_thread_with_their_figures(archive: Archive) -> None:
    await _planning_archive(archive)
    await archive.tag("Risk registers", "risk", "governance")
    await archive.post(
        "risk3", "Owner changes are logged.", thread="Risk registers", at=T0 + timedelta(days=2)
    )
    [hit] = await find(archive, "registers")
    assert hit.thread_id == archive.threads["Risk registers"]
    assert (hit.community_slug, hit.subject) == ("pm-practice", "Risk registers")
    assert (hit.matched, hit.posts) == (3, 3)  # the subject matches every post of the thread
    assert hit.authors == ("Ana Souza", "Bo Lind")
    assert hit.tags == ("governance", "risk")
    assert (hit.first_at, hit.last_at) == (T0, T0 + timedelta(days=2))
    [hit] = await find(archive, "owner -changes")
    assert (hit.matched, hit.posts) == (1, 3)
    assert hit.best_post_id == archive.posts["risk2"]
    assert hit.snippet == "The register lists each risk with an <mark>owner</mark>."
    assert await find(archive, "register", community_ids=[archive.community.id + 1]) == []
    assert len(await find(archive, "after:2010-01-01", limit=2)) == 2


async def test_ranking_subject_above_text_and_newer_above_older(archive: Archive) -> None:
    await archive.post(
        "mention", "Someone said risk log in passing, among many other words here.", thread="Misc"
    )
    await archive.post("titled", "How we keep ours, in short.", thread="The risk log")
    hits = await find(archive, '"risk log"')
    assert [h.thread_id for h in hits] == [archive.threads["The risk log"], archive.threads["Misc"]]
    assert hits[0].score > hits[1].score
    await archive.post("old", "Retrospectives every sprint.", thread="Retro A", at=T0 - timedelta(days=700))
    await archive.post("new", "Retrospectives every sprint.", thread="Retro B", at=T0)
    hits = await find(archive, "retrospectives")
    assert [h.thread_id for h in hits] == [archive.threads["Retro B"], archive.threads["Retro A"]]
    # Filters alone: newest first.
    hits = await find(archive, "after:2000-01-01")
    assert hits[0].thread_id in (archive.threads["Retro B"], archive.threads["The risk log"])
    assert hits[-1].thread_id == archive.threads["Retro A"]


async def test_snippets_escape_everything_but_the_marks(archive: Archive) -> None:
    await archive.post(
        "xss",
        'Try <script>alert("risk")</script> & <b>bold</b> — the RISK is real.\n\nNew   paragraph.',
        thread="Hostile <i>subject</i>",
    )
    [hit] = await find(archive, "risk")
    assert hit.snippet == (
        "Try &lt;script&gt;alert(&quot;<mark>risk</mark>&quot;)&lt;/script&gt; &amp; "
        "&lt;b&gt;bold&lt;/b&gt; — the <mark>RISK</mark> is real. New paragraph."
    )
    assert hit.subject == "Hostile <i>subject</i>"  # raw: whoever renders it escapes it
    long_text = "Filler words. " * 40 + "The estimation poker session. " + "More filler. " * 40
    await archive.post("long", long_text, thread="Long")
    [hit] = await find(archive, '"estimation poker"')
    assert "<mark>estimation poker</mark>" in hit.snippet
    assert hit.snippet.startswith("…")
    assert hit.snippet.endswith("…")
    assert len(hit.snippet) < 260


async def test_the_index_follows_the_posts(archive: Archive) -> None:
    store = archive.store
    post = await archive.post("a", "Kanban boards for support teams.", thread="Boards")
    assert await threads(archive, "kanban") == {"Boards"}  # searchable as soon as it is stored
    await store.posts.edit(post, text="Scrum boards for support teams.", now=T0 + timedelta(hours=1))
    assert await threads(archive, "kanban") == set()
    assert await threads(archive, "scrum") == {"Boards"}
    await store.posts.delete(post, now=T0 + timedelta(hours=2))  # redacted or withdrawn
    assert await threads(archive, "scrum") == set()
    held = await archive.post("h", "Cheap pills here.", thread="Spam", state=PostState.HELD)
    assert await threads(archive, "pills") == set()
    await store.posts.set_state(held, PostState.VISIBLE)  # approved by a convener
    assert await threads(archive, "pills") == {"Spam"}
    await store.posts.set_state(held, PostState.REJECTED)
    assert await threads(archive, "pills") == set()
    # Unrelated updates (a remote id recorded after delivery) leave the index alone.
    other = await archive.post("b", "Flow metrics and lead time.", thread="Flow")
    await store.posts.record_remote_id(other, Channel.MATRIX, "$delivered")
    assert await threads(archive, "lead time") == {"Flow"}
    # A renamed thread is found by its new subject; a deleted thread leaves the index whole.
    db = store.db
    await db.execute(
        sql(db, 'UPDATE "thread" SET "subject" = ? WHERE "id" = ?'), ["Cycle time", archive.threads["Flow"]]
    )
    assert await threads(archive, "subject:cycle") == {"Flow"}
    assert await threads(archive, "subject:flow") == set()
    await db.execute(sql(db, 'DELETE FROM "thread" WHERE "id" = ?'), [archive.threads["Flow"]])
    assert await threads(archive, "lead") == set()
    if db.dialect is Dialect.SQLITE:
        await db.execute('INSERT INTO "post_search" ("post_search", "rank") VALUES (\'integrity-check\', 1)')


async def test_a_capped_broad_query_ranks_its_most_recent_matches(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past CANDIDATE_CAP matching posts only the most recently stored ones are ranked (the documented
    price of answering fast at scale); the figures of the threads shown stay exact."""
    for n in range(6):
        await archive.post(f"p{n}", f"Standup notes {n}.", thread=f"Standup {n}", at=T0 + timedelta(days=n))
    await archive.post("again", "More standup notes.", thread="Standup 0", at=T0 + timedelta(days=9))
    monkeypatch.setattr("bridge.store.search.CANDIDATE_CAP", 3)
    monkeypatch.setattr("bridge.store.search.CANDIDATES_PER_RESULT", 1)
    for query in ("standup", "standu*"):  # a prefix counts the older matches in one lookup
        hits = await find(archive, query, limit=3)
        assert [h.thread_id for h in hits] == [archive.threads[f"Standup {n}"] for n in (0, 5, 4)], query
        assert [h.matched for h in hits] == [2, 1, 1], query


THREAD_COLUMNS = ("community_id", "subject", "normalised_subject", "token", "created_at", "last_activity_at")


async def test_the_migration_indexes_posts_stored_before_it(store_url: str) -> None:
    """Rows written by plain SQL at the schema just before search (later steps' tables do not exist yet,
    so the repositories of today cannot be used there)."""
    async with Database(store_url) as db:
        before_search = next(m.version for m in migrations(db.dialect) if m.name == "search") - 1
        await upgrade(db, target=before_search)
        mark = (lambda n: f"${n}") if db.dialect is Dialect.POSTGRES else (lambda n: "?")

        def insert(table: str, columns: tuple[str, ...]) -> str:
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join(mark(n) for n in range(1, len(columns) + 1))
            return f'INSERT INTO "{table}" ({names}) VALUES ({marks})'

        await db.execute(
            insert(
                "community", ("slug", "name", "list_address", "room", "time_zone", "created_at", "updated_at")
            ),
            ["pm", "PM", "pm@lists.example.com", "#pm:example.com", "UTC", NOW, NOW],
        )
        [community] = await db.fetch('SELECT "id" FROM "community"')
        for n, state in enumerate((PostState.VISIBLE, PostState.HELD, PostState.VISIBLE)):
            await db.execute(
                insert(
                    "thread",
                    (
                        "community_id",
                        "subject",
                        "normalised_subject",
                        "token",
                        "created_at",
                        "last_activity_at",
                    ),
                ),
                [community["id"], f"Wiki {n}", f"wiki {n}", f"token{n}", NOW, NOW],
            )
            [thread] = await db.fetch(f'SELECT "id" FROM "thread" WHERE "token" = {mark(1)}', [f"token{n}"])
            await db.execute(
                insert(
                    "post",
                    (
                        "community_id",
                        "thread_id",
                        "author_name",
                        "author_address",
                        "origin_channel",
                        "origin_key",
                        "body_text",
                        "state",
                        "created_at",
                        "received_at",
                        "reaction_count",
                    ),
                ),
                [
                    community["id"],
                    thread["id"],
                    "Ana",
                    "ana@example.org",
                    "email",
                    f"<old{n}@x>",
                    f"Legacy wiki page {n}",
                    state.value,
                    NOW,
                    NOW,
                    0,
                ],
            )
        await upgrade(db)
        hits = await Search(db).search(parse_query("legacy wiki"), now=NOW)
        assert sorted(h.subject for h in hits) == ["Wiki 0", "Wiki 2"]


async def test_the_database_ranks_as_the_core_formula_says(archive: Archive) -> None:
    """Each engine ranks in SQL (``score_sql``); the order and scores are those of ``rank_threads``."""
    await _planning_archive(archive)
    for n in range(8):
        await archive.post(
            f"x{n}", f"Risk review {'risk ' * n}", thread=f"R{n % 5}", at=T0 - timedelta(days=90 * n)
        )
    db = archive.store.db
    engine = engine_for(db.dialect)
    for text in ("risk", "risk OR estimation", "review -budget", "after:2020-01-01", "from:ana"):
        compiled = engine.split(parse_query(text))
        sql, params = engine.candidates(compiled, None, 1000)
        candidates = [
            Candidate(int(r["id"]), int(r["thread_id"]), float(r["posted"]), float(r["relevance"]))
            for r in await db.fetch(sql, params)
        ]
        expected = rank_threads(candidates, NOW, 4)
        sql, params = engine.best_threads(compiled, None, 1000, 4, NOW.timestamp())
        rows = await db.fetch(sql, params)
        assert [(r["thread_id"], r["id"]) for r in rows] == [
            (t.thread_id, t.best_post_id) for t in expected
        ], text
        assert [float(r["score"]) for r in rows] == pytest.approx([t.score for t in expected], rel=1e-9)
        assert {int(r["total"]) for r in rows} <= {len(candidates)}


@pytest.fixture
async def sqlite_archive(tmp_path: Path) -> AsyncIterator[Archive]:
    async with Database(f"sqlite://{tmp_path / 'weighted.sqlite3'}") as db:
        await upgrade(db)
        store = Store(db)
        await store.communities.sync_community(
            slug="pm-practice", name="PM", list_address="pm@lists.example.com", room="#pm:example.com",
            roster=(RosterMember("Ana Souza", "ana@example.org", Role.CONVENER),),
        )  # fmt: skip
        record = await store.communities.by_slug("pm-practice")
        assert record is not None
        yield Archive(store, record)


async def test_sqlite_weighs_terms_itself_when_bm25_would_read_too_much(
    sqlite_archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past BM25_POSTINGS postings FTS5's bm25() is not used (it reads every posting of every term);
    terms weigh by their IDF, ×4 in the subject. The same posts are found, and the order still puts a
    subject before a passing mention, a rare word before a common one, the newer before the older."""
    archive = sqlite_archive
    monkeypatch.setattr("bridge.store.search.sqlite.BM25_POSTINGS", -1)
    await _planning_archive(archive)
    for n in range(6):
        await archive.post(f"c{n}", f"The common word, again {n}.", thread=f"C{n}", at=T0 - timedelta(days=n))
    await archive.post("mention", "In passing: the risk log.", thread="Misc", at=T0 + timedelta(days=3))
    await archive.post("titled", "How we keep ours.", thread="The risk log", at=T0 - timedelta(days=30))
    assert await threads(archive, "risk owner") == {"Risk registers"}
    assert await threads(archive, "(poker OR backlog) -forecasting") == {"Estimation"}
    assert await threads(archive, "regis*") == {"Risk registers"}
    hits = await find(archive, '"risk log"')
    assert [h.thread_id for h in hits] == [archive.threads["The risk log"], archive.threads["Misc"]]
    hits = await find(archive, "common OR poker")  # poker is rarer: its one thread comes first
    assert hits[0].thread_id == archive.threads["Estimation"]
    assert [h.thread_id for h in hits[1:3]] == [archive.threads["C0"], archive.threads["C1"]]
    [hit] = await find(archive, "poker")
    assert (hit.matched, hit.posts, hit.snippet) == (
        1,
        1,
        "Estimation by planning <mark>poker</mark> works for us.",
    )
