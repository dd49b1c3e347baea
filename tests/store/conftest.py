"""Shared pieces of the store's contract tests: a store over the migrated database and a community."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.core.model import Channel, InboundMessage, Role, RosterMember
from bridge.store import CommunityRecord, Database, Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

ROSTER = (
    RosterMember("Ana Souza", "ana@example.org", Role.CONVENER, "@ana:example.com"),
    RosterMember("Bo Lind", "Bo@Example.org"),
    RosterMember("Cy Reader", "cy@example.org", Role.READER),
)


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


@pytest.fixture
async def community(store: Store) -> CommunityRecord:
    await store.communities.sync_community(
        slug="pm-practice",
        name="Project Management Practice",
        list_address="pm-practice@lists.example.com",
        room="#pm-practice:example.com",
        time_zone="Europe/Dublin",
        roster=ROSTER,
    )
    found = await store.communities.by_slug("pm-practice")
    assert found is not None
    return found


def email_message(message_id: str, text: str = "hello", **changes: object) -> InboundMessage:
    fields: dict[str, object] = {
        "channel": Channel.EMAIL,
        "origin_key": message_id,
        "community_slug": "pm-practice",
        "sender_address": "ana@example.org",
        "sender_name": "Ana Souza",
        "text": text,
        "subject": "Kick-off",
        "email_message_id": message_id,
    }
    fields.update(changes)
    return InboundMessage(**fields)  # type: ignore[arg-type]


def matrix_message(event_id: str, text: str = "hi from chat", **changes: object) -> InboundMessage:
    fields: dict[str, object] = {
        "channel": Channel.MATRIX,
        "origin_key": event_id,
        "community_slug": "pm-practice",
        "sender_address": "@ana:example.com",
        "sender_name": "Ana Souza",
        "text": text,
        "matrix_event_id": event_id,
    }
    fields.update(changes)
    return InboundMessage(**fields)  # type: ignore[arg-type]
