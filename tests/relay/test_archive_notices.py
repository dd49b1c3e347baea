"""The archive's notices as they are sent: a suggestion and a proposal in the post's thread in the room,
a proposal mailed to a core member who does not chat; a notice waits for its thread to reach the room."""

from __future__ import annotations

import email
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from bridge.config.schema import MemberConfig, TaxonomyTag
from bridge.core.model import Channel, DeliveryKind
from bridge.relay.filing import PRACTICE_NOTICE, SUGGESTION_NOTICE
from bridge.relay.ingest import Ingestor
from bridge.relay.notices import NoticeCourier
from bridge.relay.worker import TemporaryDeliveryError
from bridge.store import Database, OutboxEntry, Store
from tests.relay.test_ingest import KEY, MEMBERS, NOW, ROOM, community, mail

TAXONOMY = [TaxonomyTag(tag="risk", label="Risk management", keywords=["risk register"])]
OMAR = MemberConfig(name="Omar Haddad", email="omar@example.eg", role="core")


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


class Sent:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.mails: list[EmailMessage] = []

    async def send(self, room_id: str, content: Mapping[str, Any], txn_id: str) -> str:
        self.events.append(dict(content))
        return f"$notice{len(self.events)}"

    async def send_mail(self, message_bytes: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        self.mails.append(email.message_from_bytes(message_bytes, policy=default))  # type: ignore[arg-type]


class NoInner:
    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None:
        raise AssertionError("only notices here")


async def test_suggestion_and_proposal_notices_in_the_thread_and_by_mail(store: Store) -> None:
    ctx = await community(store, taxonomy=TAXONOMY, member=[*MEMBERS, OMAR])
    outcome = await Ingestor(store, KEY, clock=lambda: NOW).ingest(
        ctx, mail("m1@x", "siobhan@example.ie", "We keep a risk register. #practice", subject="Registers")
    )
    assert outcome.post_id is not None
    sent = Sent()
    smtp = type("Smtp", (), {"send": sent.send_mail})()
    courier = NoticeCourier(store, NoInner(), lambda: {ctx.id: ctx}, matrix=sent, smtp=smtp)  # type: ignore[arg-type]
    notices = {
        (e.channel, e.revision): e
        for e in await store.outbox.for_post(outcome.post_id)
        if e.kind is DeliveryKind.NOTICE
    }
    assert set(notices) == {
        (Channel.MATRIX, SUGGESTION_NOTICE),
        (Channel.MATRIX, PRACTICE_NOTICE),
        (Channel.EMAIL, PRACTICE_NOTICE),
    }
    with pytest.raises(TemporaryDeliveryError, match="not reached the room"):
        await courier.deliver([notices[Channel.MATRIX, SUGGESTION_NOTICE]])
    await store.posts.record_remote_id(outcome.post_id, Channel.MATRIX, "$root")

    await courier.deliver([notices[Channel.MATRIX, SUGGESTION_NOTICE]])
    await courier.deliver([notices[Channel.MATRIX, PRACTICE_NOTICE]])
    suggestion, proposal = sent.events
    assert suggestion["body"].startswith(
        "Suggested tags for this thread, from its words: #risk (“risk register”)."
    )
    assert proposal["body"].startswith("Siobhán Murphy proposed this thread as a practice.")
    for event in (suggestion, proposal):
        assert event["msgtype"] == "m.notice"
        assert event["m.relates_to"]["rel_type"] == "m.thread"
        assert event["m.relates_to"]["event_id"] == "$root"
        assert "org.icop.origin" in event
    assert notices[Channel.EMAIL, PRACTICE_NOTICE].recipient == "omar@example.eg"
    await courier.deliver([notices[Channel.EMAIL, PRACTICE_NOTICE]])
    [mailed] = sent.mails
    assert mailed["Subject"] == "[pm-practice] Proposed as a practice: Registers"
    assert mailed["In-Reply-To"] == "<m1@x>"
    text = mailed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Practice: TITLE" in text
    assert f"icop practices confirm {outcome.thread_id}" in text
    assert ROOM not in text
