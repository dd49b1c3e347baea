"""Importing an mbox into the store, on SQLite and PostgreSQL: outcomes, threads, idempotence, two
communities, the same rows as live ingest, and an import racing the relay storing the same mail."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bridge.config.schema import CommunityConfig, MemberConfig
from bridge.email.inbound import parse_list_mail
from bridge.importer.mbox import MboxFile
from bridge.importer.mbox_import import import_mbox
from bridge.importer.progress import Progress, Tally
from bridge.relay.community import CommunityContext, sync_community
from bridge.relay.ingest import Ingestor
from bridge.store import Database, RawMessage, Store
from tests.unit.importer.archive_samples import LIST, PIPERMAIL, mbox_bytes, samples

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MEMBERS = [
    MemberConfig(name="Ana Souza", email="ana@example.org", role="convener"),
    MemberConfig(name="Bo Lind", email="bo@example.org"),
]


async def _community(store: Store, slug: str = "pm-practice", address: str = LIST) -> CommunityContext:
    config = CommunityConfig(
        slug=slug,
        name=slug,
        room=f"#{slug}:localhost",
        list_address=address,
        subject_prefix="pm",
        member=MEMBERS,
    )
    return CommunityContext(config, await sync_community(store, config))


async def _import(store: Store, community: CommunityContext, *paths: Path) -> tuple[Tally, str]:
    err = io.StringIO()
    progress = Progress(1, unit="bytes", out=io.StringIO(), err=err, terminal=False)
    await import_mbox(store, community, [MboxFile(p, p.name) for p in paths], progress, jobs=1, now=NOW)
    return progress.tally, err.getvalue()


async def _rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    return await db.fetch(sql, list(params))


def _p(db: Database, n: int) -> str:
    return "?" if db.dialect.value == "sqlite" else f"${n}"


async def test_real_shaped_archive_twice_and_into_a_second_community(
    database: Database, tmp_path: Path
) -> None:
    """Outcome of every sample, threads as expected, parents set (late ones too), nothing queued to
    send; a second run finds everything already stored; another community gets its own posts."""
    store = Store(database)
    items = samples()
    path = tmp_path / "list.mbox"
    path.write_bytes(mbox_bytes(items))
    pm = await _community(store)

    tally, errors = await _import(store, pm, path)
    expected = {
        o: sum(1 for s in items if s.outcome == o) for o in ("imported", "already", "failed", "skipped")
    }
    assert (tally.imported, tally.already_stored, tally.failed, tally.skipped) == (
        expected["imported"],
        expected["already"],
        expected["failed"],
        expected["skipped"],
    )
    for number, sample in enumerate(items, 1):
        if sample.outcome in ("failed", "skipped", "already"):
            named = rf"^list\.mbox#{number}: {sample.outcome}.* \(line \d+\)$"
            assert re.search(named, errors, re.MULTILINE), (sample.key, errors)
    # The same mail filed twice in the archive: the second is named with the first.
    assert re.search(r": already stored: same Message-ID as list\.mbox#1 \(line \d+\)$", errors, re.MULTILINE)
    p = _p(database, 1)
    # A 64 KB folded Subject is imported as the relay stores it: shortened to its column, alike on
    # both engines (PostgreSQL enforces VARCHAR lengths, SQLite does not).
    long_subject = await _rows(
        database, f'SELECT "subject" FROM "post" WHERE "email_message_id" LIKE {p}', "%long-subject@%"
    )
    assert [len(row["subject"]) for row in long_subject] == [998]
    posts = await _rows(
        database,
        f'SELECT "id", "email_message_id", "origin_key", "thread_id", "parent_id", "author_id", "state", '
        f'"created_at" FROM "post" WHERE "community_id" = {p} ORDER BY "id"',
        pm.id,
    )
    assert len(posts) == expected["imported"]
    by_id = {row["email_message_id"]: row for row in posts}
    keyed = {}
    for sample in items:
        if sample.outcome != "imported":
            continue
        message_id = parse_list_mail(sample.raw, [], now=NOW).message.email_message_id
        keyed[sample.key] = (
            by_id[message_id] if message_id else next(r for r in posts if r["email_message_id"] is None)
        )
    groups: dict[str, set[int]] = {}
    for sample in items:
        if sample.outcome == "imported":
            groups.setdefault(sample.thread or "", set()).add(keyed[sample.key]["thread_id"])
    assert all(len(ids) == 1 for ids in groups.values()), groups
    assert len({next(iter(ids)) for ids in groups.values()}) == len(groups)  # distinct threads
    assert keyed["reply"]["parent_id"] == keyed["root"]["id"]
    assert keyed["early-child"]["parent_id"] == keyed["late-parent"]["id"]  # adopted when it arrived
    assert keyed["orphan"]["parent_id"] is None
    assert keyed["root"]["author_id"] is not None
    assert keyed["latin1"]["author_id"] is None
    assert {row["state"] for row in posts} == {"visible"}

    threads = await _rows(
        database,
        f'SELECT "subject", "created_at", "last_activity_at" FROM "thread" WHERE "community_id" = {p}',
        pm.id,
    )
    subjects = {row["subject"] for row in threads}
    assert {"Estimação de projetos", "Réunion mensuelle", "Lost parent", "Out of order"} <= subjects
    deliveries = await _rows(database, 'SELECT COUNT(*) AS n FROM "delivery"')
    assert deliveries[0]["n"] == 0  # an archive is never sent
    files = await _rows(database, 'SELECT "filename", "size" FROM "attachment"')
    assert [(f["filename"], f["size"]) for f in files] == [("template.pdf", 17)]
    raws = await _rows(database, 'SELECT COUNT(*) AS n FROM "raw_source"')
    assert raws[0]["n"] == expected["imported"]

    again, _ = await _import(store, pm, path)
    assert (again.imported, again.already_stored, again.failed, again.skipped) == (
        0,
        expected["imported"] + expected["already"],
        expected["failed"],
        expected["skipped"],
    )

    other = await _community(store, "design-practice", "design@lists.example.com")
    elsewhere, _ = await _import(store, other, path)
    assert elsewhere.imported == expected["imported"]
    total = await _rows(database, 'SELECT COUNT(*) AS n FROM "post"')
    assert total[0]["n"] == 2 * expected["imported"]


async def test_pipermail_gzip_archive(database: Database, tmp_path: Path) -> None:
    import gzip

    store = Store(database)
    pm = await _community(store)
    path = tmp_path / "2019-March.txt.gz"
    path.write_bytes(gzip.compress(PIPERMAIL))
    tally, _ = await _import(store, pm, path)
    assert (tally.imported, tally.failed) == (2, 0)
    ROOT = "pm-retro@example.org"
    posts = await store.posts.thread_posts((await store.posts.by_message_ids(pm.id, [ROOT]))[ROOT].thread_id)
    assert [(p.author_name, p.author_id is not None) for p in posts] == [
        ("Ana Souza", True),
        ("Bo Lind", True),
    ]
    assert "From the last one we learned a lot." in posts[0].text


async def test_an_imported_post_is_stored_exactly_as_live_ingest_stores_it(
    database: Database, tmp_path: Path
) -> None:
    """The same mail relayed live in one community and imported in another: the same post row,
    attachment rows, raw source and thread subject, column for column."""
    store = Store(database)
    live, imported = await _community(store), await _community(store, "copy", "copy@lists.example.com")
    sample = next(s for s in samples() if s.key == "attachment")
    parsed = parse_list_mail(sample.raw, [live.identity], now=NOW)
    outcome = await Ingestor(store, b"k" * 32, clock=lambda: NOW).ingest(
        live, parsed.message, raw=RawMessage("message/rfc822", sample.raw)
    )
    path = tmp_path / "one.mbox"
    path.write_bytes(mbox_bytes([sample]))
    tally, _ = await _import(store, imported, path)
    assert tally.imported == 1
    skip = {"id", "community_id", "thread_id", "received_at", "post_id"}

    async def rows(table: str, community_id: int) -> list[dict[str, Any]]:
        join = "" if table == "post" else ' JOIN "post" ON "post"."id" = t."post_id"'
        where = 't."community_id"' if table == "post" else '"post"."community_id"'
        found = await _rows(
            database, f'SELECT t.* FROM "{table}" t{join} WHERE {where} = {_p(database, 1)}', community_id
        )
        return [{k: v for k, v in row.items() if k not in skip} for row in found]

    for table in ("post", "attachment", "raw_source"):
        assert await rows(table, live.id) == await rows(table, imported.id), table
    assert outcome.thread_id is not None
    live_thread = await store.posts.thread(outcome.thread_id)
    [imported_post] = await store.posts.thread_posts(
        (await store.posts.by_message_ids(imported.id, ["file@example.org"]))["file@example.org"].thread_id
    )
    imported_thread = await store.posts.thread(imported_post.thread_id)
    assert live_thread is not None
    assert imported_thread is not None
    assert (live_thread.subject, live_thread.normalised_subject) == (
        imported_thread.subject,
        imported_thread.normalised_subject,
    )


async def test_import_racing_the_relay_doubles_nothing(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two connections, as two processes: the relay ingests mails while the import stores the same
    archive in small batches, so their transactions interleave. Every Message-ID ends up stored once;
    the import counts the rest as already stored."""
    from bridge.importer import mbox_import

    monkeypatch.setattr(mbox_import, "BATCH", 10)
    monkeypatch.setattr(mbox_import, "CHUNK", 10)
    many = [_race_mail(n) for n in range(150)]
    path = tmp_path / "race.mbox"
    path.write_bytes(
        b"".join(b"From ana@example.org Mon Mar  4 09:00:00 2019\n" + raw + b"\n" for raw in many)
    )
    daemon_db, import_db = Database(store_url), Database(store_url)
    from bridge.store.migrations import upgrade

    await daemon_db.open()
    await upgrade(daemon_db)
    await import_db.open()
    try:
        daemon, importer = Store(daemon_db), Store(import_db)
        pm = await _community(daemon)
        ingestor = Ingestor(daemon, b"k" * 32, clock=lambda: NOW)

        relay_began = asyncio.Event()

        async def relay() -> int:
            stored = 0
            for raw in many[::-3]:  # from the end, so the two meet in the middle
                parsed = parse_list_mail(raw, [pm.identity], now=NOW)
                outcome = await ingestor.ingest(pm, parsed.message)
                stored += outcome.status.value == "stored"
                relay_began.set()
                await asyncio.sleep(0)
            return stored

        async def import_once_the_relay_stored_one() -> tuple[Tally, str]:
            # Without this the import can store all 150 before the relay's first transaction gets the
            # write lock on a busy machine, and there is no race to test.
            await relay_began.wait()
            return await _import(importer, pm, path)

        relayed, (tally, _) = await asyncio.gather(relay(), import_once_the_relay_stored_one())
        ids = await _rows(daemon_db, 'SELECT "origin_key" FROM "post"')
        assert len(ids) == len({row["origin_key"] for row in ids}) == len(many)
        assert {row["origin_key"] for row in ids} == {f"race-{n}@example.org" for n in range(len(many))}
        assert tally.imported + relayed == len(many)
        assert tally.imported + tally.already_stored == len(many)
        assert relayed > 0  # both sides stored some: the race really happened
        assert tally.already_stored > 0
    finally:
        await daemon_db.close()
        await import_db.close()


def _race_mail(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Ana Souza <ana@example.org>"
    message["To"] = LIST
    message["Subject"] = f"Re: Topic {n // 10}" if n % 10 else f"Topic {n // 10}"
    message["Date"] = f"Mon, 04 Mar 2019 {n // 60:02d}:{n % 60:02d}:00 +0000"
    message["Message-ID"] = f"<race-{n}@example.org>"
    if n % 10:
        message["In-Reply-To"] = f"<race-{n - 1}@example.org>"
    message.set_content(f"Message {n} of the race.")
    return message.as_bytes()


async def test_a_row_the_store_refuses_raises_the_stores_own_errors(database: Database) -> None:
    """A key stored meanwhile (the daemon won a race) is an IntegrityError on both engines, so the
    writer reads the batch again; the import never sees a driver's exception type."""
    import pytest
    from tortoise.exceptions import IntegrityError

    from bridge.core.model import PostState
    from bridge.importer.writer import ArchiveWriter, Outcome, Pending
    from bridge.store.archive_import import ArchiveStore, NewPostRow, NewThreadRow

    store = Store(database)
    pm = await _community(store)
    message = parse_list_mail(samples()[0].raw, [pm.identity], now=NOW).message
    [first] = await ArchiveWriter(store, pm, now=NOW).write([Pending("a#1", message)])
    assert first.outcome is Outcome.IMPORTED
    archive = ArchiveStore(database)

    async def store_it_again() -> None:
        async with archive.batch() as tx:
            [thread_id] = await archive.reserve_ids("thread", 1, tx)
            [post_id] = await archive.reserve_ids("post", 1, tx)
            thread = NewThreadRow(thread_id, "s", "s", NOW, NOW)
            row = NewPostRow(post_id, thread_id, message, None, None, "Ana", PostState.VISIBLE, NOW, None)
            await archive.insert(pm.id, [thread], [row], now=NOW, tx=tx)

    with pytest.raises(IntegrityError):
        await store_it_again()
    [again] = await ArchiveWriter(store, pm, now=NOW).write([Pending("a#1", message)])
    assert again.outcome is Outcome.ALREADY_STORED
    assert again.post_id == first.post_id


async def test_an_interrupted_import_goes_on_where_it_stopped(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches committed before a crash stay; the next run stores the rest and doubles nothing."""
    from bridge.importer import mbox_import
    from bridge.importer.writer import ArchiveWriter

    monkeypatch.setattr(mbox_import, "BATCH", 10)
    monkeypatch.setattr(mbox_import, "CHUNK", 10)
    store = Store(database)
    pm = await _community(store)
    path = tmp_path / "long.mbox"
    path.write_bytes(
        b"".join(
            b"From ana@example.org Mon Mar  4 09:00:00 2019\n" + _race_mail(n) + b"\n" for n in range(60)
        )
    )
    real_write = ArchiveWriter.write
    calls = 0

    async def crash_on_the_fourth_batch(self: ArchiveWriter, batch: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt
        return await real_write(self, batch)

    monkeypatch.setattr(ArchiveWriter, "write", crash_on_the_fourth_batch)
    with pytest.raises(KeyboardInterrupt):
        await _import(store, pm, path)
    assert len(await _rows(database, 'SELECT "id" FROM "post"')) == 30
    monkeypatch.setattr(ArchiveWriter, "write", real_write)
    tally, _ = await _import(store, pm, path)
    assert (tally.imported, tally.already_stored) == (30, 30)
    keys = [row["origin_key"] for row in await _rows(database, 'SELECT "origin_key" FROM "post"')]
    assert sorted(keys) == sorted(f"race-{n}@example.org" for n in range(60))
