"""Everything from outside fits the store, on SQLite and PostgreSQL alike (PostgreSQL is the strict one:
``VARCHAR(n)`` counts characters, a btree entry holds about 2.7 KB, text refuses NUL).

- a 100,000-character subject (a folded 64 KB one): post and thread subject shortened to 998 characters
  with an ellipsis; the thread is found again by the same subject;
- a 20,000-character Message-ID: a prefix and the SHA-256 of the whole; found by the same id, a second
  arrival is a duplicate, another long id is another message;
- a 10,000-character display name: 200 characters ending in an ellipsis;
- a 400-character sender address: prefix and digest; a ban on it matches it again;
- a 1,000-character file name: 255 characters, the extension kept;
- a 500-character content type: its type/subtype, else application/octet-stream;
- NUL and lone surrogates in subject and body: each replaced by U+FFFD;
- 998 Japanese characters as a normalised subject (3 KB of UTF-8, over PostgreSQL's index limit): digest;
- a 1 KB Matrix event id and reaction key: digest form; the reaction counted once, taken back once.
"""

from __future__ import annotations

import pytest

from bridge.core.model import Attachment, PostState
from bridge.store import CommunityRecord, NewThread, Store
from bridge.store.fit import (
    DEFAULT_CONTENT_TYPE,
    DIGEST_MARK,
    clean,
    fit_content_type,
    fit_filename,
    fit_key,
    fit_text,
)
from bridge.store.moderation import ModerationLog
from tests.store.conftest import T0, email_message, matrix_message

HUGE_SUBJECT = " ".join(f"word{n}" for n in range(14_000))
HUGE_ID = "a" * 20_000 + "@example.net"


def test_fit_key_keeps_what_fits_and_digests_the_rest() -> None:
    assert fit_key("m1@example.org", 998) == "m1@example.org"
    long = fit_key(HUGE_ID, 998)
    assert len(long) < 300
    assert DIGEST_MARK in long
    assert long.startswith("aaaa")
    assert fit_key(HUGE_ID, 998) == long  # the same value, the same key
    assert fit_key(HUGE_ID + "x", 998) != long  # another value, another key
    assert fit_key(long, 998) == long  # idempotent: a stored key looked up again finds itself
    japanese = "会議" * 499  # 998 characters, 2,994 bytes
    assert DIGEST_MARK in fit_key(japanese, 998)
    assert len(fit_key("x" * 400, 255)) <= 255


def test_fit_text_filename_content_type_and_clean() -> None:
    assert fit_text("short", 10) == "short"
    assert fit_text("x" * 20, 10) == "x" * 9 + "…"
    assert clean("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    name = fit_filename("f" * 1000 + ".pdf", 255)
    assert len(name) == 255
    assert name.endswith("….pdf")
    assert len(fit_filename("g" * 1000, 255)) == 255
    assert fit_content_type("text/plain; charset=utf-8", 255) == "text/plain; charset=utf-8"
    assert fit_content_type("application/pdf; name=" + "n" * 500, 255) == "application/pdf"
    assert fit_content_type("application/x-" + "z" * 500, 255) == DEFAULT_CONTENT_TYPE


async def test_oversized_mail_fits_and_stays_idempotent(store: Store, community: CommunityRecord) -> None:
    message = email_message(
        HUGE_ID,
        text="body with a NUL \x00 and a lone surrogate \udc80",
        subject=HUGE_SUBJECT + "\x00",
        sender_name="N" * 10_000,
        sender_address="x" * 400 + "@example.org",
        attachments=(
            Attachment("f" * 1000 + ".pdf", "application/pdf", 3, b"pdf"),
            Attachment("a.bin", "application/x-" + "z" * 500, 3, b"bin"),
        ),
    )
    thread = NewThread(HUGE_SUBJECT, HUGE_SUBJECT.lower())
    first = await store.posts.ingest(
        message, community_id=community.id, thread=thread, author_id=None, now=T0
    )
    again = await store.posts.ingest(
        message, community_id=community.id, thread=thread, author_id=None, now=T0
    )
    assert not first.duplicate
    assert again.duplicate
    assert again.post_id == first.post_id

    post = await store.posts.get(first.post_id)
    assert post is not None
    assert post.subject is not None
    assert len(post.subject) == 998
    assert post.subject.endswith("…")
    assert len(post.author_name) == 200
    assert DIGEST_MARK in post.origin_key
    assert post.text == "body with a NUL \ufffd and a lone surrogate \ufffd"
    files = await store.posts.attachments(first.post_id)
    assert [(len(f.filename), f.filename[-4:], f.content_type) for f in files] == [
        (255, ".pdf", "application/pdf"),
        (5, ".bin", DEFAULT_CONTENT_TYPE),
    ]
    found = await store.posts.by_message_ids(community.id, [HUGE_ID, "other@example.org"])
    assert list(found) == [HUGE_ID]
    threads = await store.posts.recent_threads_by_subject(community.id, HUGE_SUBJECT.lower(), T0)
    assert [t.id for t in threads] == [first.thread_id]

    other = email_message(HUGE_ID + "b", subject=HUGE_SUBJECT)
    second = await store.posts.ingest(other, community_id=community.id, thread=thread, author_id=None, now=T0)
    assert not second.duplicate  # a different long id is a different message

    log = ModerationLog(store.db)
    await store.posts.set_state(first.post_id, PostState.HELD)
    assert await log.decide(
        first.post_id,
        PostState.REJECTED,
        "banned",
        decided_by="cli",
        now=T0,
        ban=(community.id, post.author_address),
    )
    assert await log.is_banned(community.id, "x" * 400 + "@example.org")


@pytest.mark.parametrize("subject", ["会議" * 499, "é" * 3000])
async def test_long_multibyte_subjects_fit_the_index(
    store: Store, community: CommunityRecord, subject: str
) -> None:
    message = email_message(f"{len(subject)}@example.org", subject=subject)
    result = await store.posts.ingest(
        message, community_id=community.id, thread=NewThread(subject, subject), author_id=None, now=T0
    )
    threads = await store.posts.recent_threads_by_subject(community.id, subject, T0)
    assert [t.id for t in threads] == [result.thread_id]


async def test_oversized_matrix_ids_fit(store: Store, community: CommunityRecord) -> None:
    event_id = "$" + "e" * 1000
    message = matrix_message(event_id, sender_name="M" * 10_000, sender_address="@" + "m" * 400 + ":x.org")
    result = await store.posts.ingest(
        message, community_id=community.id, thread=NewThread("chat", "chat"), author_id=None, now=T0
    )
    assert list(await store.posts.by_event_ids(community.id, [event_id])) == [event_id]
    reaction = "$" + "r" * 1000
    assert await store.reactions.add(community.id, event_id, reaction, "👍" * 300, "@" + "s" * 400 + ":x.org")
    assert not await store.reactions.add(community.id, event_id, reaction, "👍" * 300, "@s:x.org")
    assert await store.reactions.remove(reaction)
    revision = await store.posts.edit(result.post_id, text="edited \x00", origin_key="$" + "d" * 1000)
    assert revision == 2
    assert await store.posts.edit(result.post_id, text="edited", origin_key="$" + "d" * 1000) is None
