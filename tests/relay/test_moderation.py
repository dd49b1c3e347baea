"""Moderation on both stores: held posts notify, approve relays once, reject tells the sender, ban sticks,
room commands are answered and never relayed, non-members are told once, forged From is held."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from bridge.core.model import Channel, DeliveryKind, PostState
from bridge.core.tokens import sign_reply_token
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import Ingestor, IngestStatus
from bridge.relay.moderation import JoinHints, Moderation, SenderGate
from bridge.relay.notices import HELD_NOTICE, REJECTION_NOTICE, held_details_text, held_notice_text
from bridge.relay.room_commands import RoomCommands, RoomSend
from bridge.relay.room_commands.families import every_family
from bridge.store import Database, PostRecord, Store
from bridge.store.moderation import ModerationLog
from tests.relay.test_ingest import KEY, NOW, ROOM, chat, community, mail

STRANGER = "stranger@elsewhere.net"


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


def room_commands(moderation: Moderation, send: RoomSend) -> RoomCommands:
    """The room's command reader as the daemon builds it."""
    families = every_family(moderation, "https://icop.example.com", moderation.clock)
    return RoomCommands(moderation.store, send, families, hints=JoinHints(moderation))


class Room:
    """Records what the bridge would post in the room."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], str]] = []

    async def send(self, room_id: str, content: Mapping[str, Any], txn: str) -> str:
        self.sent.append((room_id, dict(content), txn))
        return f"$answer{len(self.sent)}"

    def bodies(self) -> list[str]:
        return [str(content["body"]) for _, content, _ in self.sent]


async def held_post(store: Store) -> tuple[CommunityContext, Moderation, Ingestor, int]:
    ctx = await community(store)
    moderation = Moderation(store, clock=lambda: NOW)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW, gate=moderation)
    outcome = await ingestor.ingest(ctx, mail("spam@elsewhere.net", STRANGER, "Buy now", subject="Offer"))
    assert outcome.status is IngestStatus.HELD
    assert outcome.post_id is not None
    return ctx, moderation, ingestor, outcome.post_id


async def test_a_held_post_queues_notices_for_the_room_and_each_convener_and_core_member(
    store: Store,
) -> None:
    """The post is kept held; its only rows are notices: the room once, Ana (convener) and Kenji (core)
    by mail; the member and the reader are not told."""
    _, moderation, _, post_id = await held_post(store)
    post = await store.posts.get(post_id)
    assert post is not None
    assert post.state is PostState.HELD
    rows = await store.outbox.for_post(post_id)
    assert sorted((r.channel.value, r.kind.value, r.recipient, r.revision) for r in rows) == [
        ("email", "notice", "ana@example.org", HELD_NOTICE),
        ("email", "notice", "kenji@example.jp", HELD_NOTICE),
        ("matrix", "notice", ROOM, HELD_NOTICE),
    ]
    [listed] = await moderation.held()
    assert (listed.id, listed.sender, listed.summary, listed.channel) == (post_id, STRANGER, "Offer", "email")


async def test_approve_relays_once_in_the_same_thread(store: Store) -> None:
    """Approve plans the post's deliveries as on arrival; a second approve changes nothing and says why."""
    ctx, moderation, _, post_id = await held_post(store)
    decision = await moderation.approve(ctx, post_id, "@ana:localhost")
    assert decision.done
    assert "Approved post" in decision.message
    post = await store.posts.get(post_id)
    assert post is not None
    assert post.state is PostState.VISIBLE
    relay = [r for r in await store.outbox.for_post(post_id) if r.kind is DeliveryKind.POST]
    assert sorted((r.channel.value, r.recipient) for r in relay) == [
        ("email", "ana@example.org"),
        ("email", "kenji@example.jp"),
        ("email", "siobhan@example.ie"),
        ("matrix", ROOM),
    ]
    again = await moderation.approve(ctx, post_id, "@kenji:localhost")
    assert not again.done
    assert again.message == f"Post {post_id} is not held any more: approved by @ana:localhost."
    assert len([r for r in await store.outbox.for_post(post_id) if r.kind is DeliveryKind.POST]) == 4
    assert await moderation.held(ctx) == []


async def test_reject_mails_the_sender_the_reason(store: Store) -> None:
    ctx, moderation, _, post_id = await held_post(store)
    decision = await moderation.reject(ctx, post_id, "cli", "off topic")
    assert decision.done
    post = await store.posts.get(post_id)
    assert post is not None
    assert post.state is PostState.REJECTED
    rejection = [r for r in await store.outbox.for_post(post_id) if r.revision == REJECTION_NOTICE]
    assert [(r.channel, r.kind, r.recipient) for r in rejection] == [
        (Channel.EMAIL, DeliveryKind.NOTICE, STRANGER)
    ]
    recorded = await ModerationLog(store.db).decision(post_id)
    assert recorded is not None
    assert (recorded.decision, recorded.reason, recorded.decided_by) == ("rejected", "off topic", "cli")
    assert not (await moderation.approve(ctx, post_id, "cli")).done  # rejected stays rejected


async def test_ban_rejects_and_later_posts_are_stored_rejected_without_deliveries(store: Store) -> None:
    ctx, moderation, ingestor, post_id = await held_post(store)
    assert (await moderation.ban(ctx, post_id, "@ana:localhost", "spam")).done
    later = await ingestor.ingest(ctx, mail("spam2@elsewhere.net", STRANGER.upper(), "Again"))
    assert later.status is IngestStatus.REJECTED
    assert later.post_id is not None
    post = await store.posts.get(later.post_id)
    assert post is not None
    assert post.state is PostState.REJECTED
    assert await store.outbox.for_post(later.post_id) == []
    assert await moderation.held(ctx) == []


async def test_unknown_or_foreign_post_numbers_are_answered(store: Store) -> None:
    ctx, moderation, _, _ = await held_post(store)
    decision = await moderation.approve(ctx, 99_999, "cli")
    assert not decision.done
    assert "There is no post 99999" in decision.message


async def test_room_commands_answer_and_are_never_ingested(store: Store) -> None:
    """A convener's command is obeyed and answered in reply; a member's gets a polite refusal."""
    ctx, moderation, _, post_id = await held_post(store)
    room = Room()
    rooms = room_commands(moderation, room.send)
    assert await rooms.intercept(ctx, chat("$c1", "@ana:localhost", "!icop held"))
    assert await rooms.intercept(ctx, chat("$c2", "@siobhan:localhost", f"!icop approve {post_id}"))
    assert await rooms.intercept(ctx, chat("$c3", "@ana:localhost", "!icop approve"))
    assert await rooms.intercept(ctx, chat("$c4", "@ana:localhost", f"!icop approve {post_id}"))
    listing, refusal, usage, approved = room.bodies()
    # The community's room learns the number and the channel, never who sent what.
    assert listing == (
        f"Held posts: {post_id} (by email). The conveners and core team have the details by mail."
    )
    assert refusal.startswith("Sorry, only the conveners")
    assert "needs the number" in usage
    assert approved == f"Approved post {post_id}: relayed."
    _, content, txn = room.sent[0]
    assert content["msgtype"] == "m.notice"
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$c1"}}
    assert "org.icop.origin" in content
    assert txn == "icop.command.$c1"
    assert not await rooms.intercept(ctx, chat("$m", "@kenji:localhost", "An ordinary message"))


async def test_a_non_member_in_the_room_is_told_once_how_to_join(store: Store) -> None:
    """Remembered in the store: a second post, even from a new process, tells nothing again."""
    ctx = await community(store)
    room = Room()
    rooms = room_commands(Moderation(store, clock=lambda: NOW), room.send)
    assert not await rooms.intercept(ctx, chat("$s1", "@visitor:localhost", "hi"))
    again = room_commands(Moderation(store, clock=lambda: NOW), room.send)
    assert not await again.intercept(ctx, chat("$s2", "@visitor:localhost", "hello?"))
    [hint] = room.bodies()
    assert "pm@lists.example.com" in hint
    assert "wait for a convener" in hint
    assert "Ana Souza (@ana:localhost)" in hint


async def test_a_failed_hint_is_forgotten_so_the_next_post_tries_again(store: Store) -> None:
    ctx = await community(store)

    async def down(room_id: str, content: Mapping[str, Any], txn: str) -> str:
        raise ConnectionError("homeserver down")

    with pytest.raises(ConnectionError):
        await room_commands(Moderation(store), down).intercept(ctx, chat("$s1", "@visitor:localhost", "hi"))
    room = Room()
    await room_commands(Moderation(store), room.send).intercept(ctx, chat("$s2", "@visitor:localhost", "hi"))
    assert len(room.sent) == 1


FORGED = b"""Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=kenji@example.jp;
 dkim=none; dmarc=fail header.from=example.jp
From: Kenji <kenji@example.jp>
Subject: Urgent

Wire the money.
"""


async def test_a_refuted_member_is_held_unless_their_token_vouches(store: Store) -> None:
    ctx = await community(store)
    gate = SenderGate(store, KEY, ["mx.example.com"])
    message = mail("forged@x", "kenji@example.jp", "Wire the money.")
    reason = await gate.hold_reason(ctx, message, None, FORGED)
    assert reason is not None
    assert "dmarc=fail" in reason
    kenji = next(r for r in await store.communities.recipients(ctx.id) if r.email == "kenji@example.jp")
    token = sign_reply_token(KEY, kenji.membership_id, 1)
    assert await gate.hold_reason(ctx, message, token, FORGED) is None
    ana_token = sign_reply_token(KEY, kenji.membership_id + 1000, 1)
    assert await gate.hold_reason(ctx, message, ana_token, FORGED) is not None  # not his token
    untrusted = SenderGate(store, KEY, ["mx.other.net"])
    assert await untrusted.hold_reason(ctx, message, None, FORGED) is None
    moderation = Moderation(store, clock=lambda: NOW)
    outcome = await Ingestor(store, KEY, clock=lambda: NOW, gate=moderation).ingest(ctx, message, hold=reason)
    assert outcome.status is IngestStatus.HELD
    assert outcome.post_id is not None
    refused = await moderation.ban(ctx, outcome.post_id, "@ana:localhost")  # would ban the real Kenji
    assert not refused.done
    assert "address of a member (kenji@example.jp), perhaps forged" in refused.message
    assert not await moderation.banned(ctx, "kenji@example.jp")
    assert (await moderation.reject(ctx, outcome.post_id, "@ana:localhost")).done


async def test_the_moderators_room_gets_the_details_and_the_room_only_the_number(store: Store) -> None:
    """With a moderators' room: the held post queues a notice there too; `!icop held` there lists the
    sender and subject, answered in that room; a rejection in the community room names nobody."""
    plain, moderation, ingestor, _ = await held_post(store)
    ctx = replace(plain, moderators_room_id="!mods:localhost")
    outcome = await ingestor.ingest(ctx, mail("spam3@elsewhere.net", STRANGER, "Cheap pills", subject="Deal"))
    assert outcome.post_id is not None
    rooms = sorted(
        r.recipient for r in await store.outbox.for_post(outcome.post_id) if r.channel is Channel.MATRIX
    )
    assert rooms == ["!mods:localhost", ROOM]

    room = Room()
    moderators = room_commands(moderation, room.send)
    await moderators.in_moderators_room(ctx, chat("$p1", "@ana:localhost", "!icop held"))
    await moderators.in_moderators_room(ctx, chat("$p2", "@ana:localhost", "Just chatting among us"))
    await moderators.intercept(ctx, chat("$p3", "@ana:localhost", "!icop held"))
    await moderators.intercept(ctx, chat("$p4", "@ana:localhost", f"!icop reject {outcome.post_id} spam"))
    (private_room, private, _), (public_room, public, _), (_, rejected, _) = room.sent
    assert private_room == "!mods:localhost"
    assert f"{outcome.post_id}: Stranger <{STRANGER}> (email): Deal" in str(private["body"])
    assert public_room == ROOM
    assert STRANGER not in str(public["body"])
    assert "and in the moderators' room" in str(public["body"])
    assert rejected["body"] == f"Rejected post {outcome.post_id}. The sender is told by mail."


def test_the_rooms_held_notice_names_nobody() -> None:
    post = PostRecord(
        id=7, community_id=1, thread_id=1, parent_id=None, author_id=None, author_name="Sam Spammer",
        author_address="sam@spam.example", origin_channel=Channel.EMAIL, origin_key="k", matrix_event_id=None,
        email_message_id=None, subject="Say goodbye to yellow stained teeth!!!", text="Buy now", html=None,
        full_text=None, state=PostState.HELD, created_at=NOW, edited_at=None, reaction_count=0,
    )  # fmt: skip
    public = held_notice_text(post)
    assert public.startswith("Held for a convener: post 7 (by email).")
    for secret in ("Sam", "spam.example", "teeth", "Buy now"):
        assert secret not in public
    details = held_details_text(post)
    assert all(secret in details for secret in ("Sam Spammer", "sam@spam.example", "teeth", "> Buy now"))
