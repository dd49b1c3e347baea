"""Signed links on the real HTTP server (aiohttp on 127.0.0.1, SQLite store): forged, expired,
wrong-purpose and other-community tokens change nothing and get a page saying the link does not work;
a GET never changes anything; the right token's POST does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bridge.config import LoadedConfig
from bridge.config.schema import Config
from bridge.core.model import DeliveryMode, Role, RosterMember
from bridge.core.tokens import sign_link_token
from bridge.digest.desk import SubscriptionDesk
from bridge.digest.links import DigestLinks
from bridge.email.smtp import SmtpSender
from bridge.rendering import Renderer
from bridge.store import Database, SettingsChange, Store, upgrade
from bridge.web.subscribe import SubscribePages
from bridge.web.unsubscribe import UnsubscribePages

KEY = b"test-signing-key"
NOW = datetime.now(UTC)


def loaded() -> LoadedConfig:
    communities = [
        {
            "slug": slug,
            "name": slug.title(),
            "room": f"!{slug}:example.test",
            "list_address": f"{slug}@lists.example.test",
        }
        for slug in ("alpha", "beta")
    ]
    data: dict[str, Any] = {
        "base_url": "http://127.0.0.1:1",
        "matrix": {
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@icop:example.test",
            "access_token_env": "X",
        },
        "mail": {
            "imap": {"host": "127.0.0.1", "security": "none", "user": "x@example.test", "password_env": "X"},
            "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"},
        },
        "community": communities,
    }
    return LoadedConfig(config=Config.model_validate(data), path=Path("test.toml"), key_lines={})


class NoMail(SmtpSender):
    """None of these requests may mail anyone: a send fails the request, and so the test."""

    async def send(self, message_bytes: bytes, **_: Any) -> Any:
        raise AssertionError("no mail was expected")


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[TestServer, Store, dict[str, int]]]:
    config = loaded()
    async with Database(f"sqlite://{tmp_path / 'store.sqlite3'}") as db:
        await upgrade(db)
        store = Store(db)
        members: dict[str, int] = {}
        for slug in ("alpha", "beta"):
            sync = await store.communities.sync_community(
                slug=slug,
                name=slug.title(),
                list_address=f"{slug}@lists.example.test",
                room=f"!{slug}:example.test",
                roster=[
                    RosterMember(
                        f"Reader {slug}", f"r-{slug}@example.test", Role.READER, delivery=DeliveryMode.DIGEST
                    )
                ],
            )
            [member] = await store.communities.members(sync.community_id)
            members[slug] = member.membership_id
        desk = SubscriptionDesk(config, store, KEY, NoMail(config.config.mail.smtp, None))
        app = web.Application()
        app.add_routes(UnsubscribePages(store, KEY, Renderer(), desk=desk).routes())
        app.add_routes(SubscribePages(desk, store, Renderer()).routes())
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield server, store, members
        finally:
            await server.close()


async def fetch(server: TestServer, path: str, data: Any = None) -> tuple[int, str]:
    async with ClientSession() as session:
        method = session.post if data is not None else session.get
        async with method(str(server.make_url(path)), data=data) as response:
            return response.status, await response.text()


async def test_tokens_that_are_forged_expired_misused_or_foreign_change_nothing(
    site: tuple[TestServer, Store, dict[str, int]],
) -> None:
    server, store, members = site
    links = DigestLinks("", KEY)
    alpha = members["alpha"]
    unsubscribe = links.unsubscribe(alpha, NOW).removeprefix("/")
    token = unsubscribe.rpartition("/")[2]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    expired = links.unsubscribe(alpha, NOW - timedelta(days=800)).rpartition("/")[2]
    wrong_key = DigestLinks("", b"another-key").unsubscribe(alpha, NOW).rpartition("/")[2]
    feedback_token = links.feedback("alpha", 1, True, NOW).rpartition("/")[2]
    for bad in (forged, expired, wrong_key, feedback_token, "not-a-token"):
        for data in (None, b"List-Unsubscribe=One-Click"):
            status, body = await fetch(server, f"/unsubscribe/{bad}", data)
            assert (status, "This link does not work" in body) == (400, True), bad

    # Settings and feedback links of community alpha opened under beta: refused.
    manage = links.manage("alpha", alpha, NOW).partition("?manage=")[2]
    status, body = await fetch(server, f"/c/beta/subscribe?manage={manage}")
    assert (status, "This link does not work" in body) == (400, True)
    status, _ = await fetch(server, f"/c/alpha/subscribe?manage={manage}")
    assert status == 200
    status, body = await fetch(
        server, "/c/beta/subscribe", {"action": "manage", "token": manage, "frequency": "daily"}
    )
    assert status == 400
    # A list-mail unsubscribe token is no settings token.
    list_token = sign_link_token(KEY, "unsubscribe", str(alpha), NOW + timedelta(days=1))
    status, _ = await fetch(server, f"/c/alpha/subscribe?manage={list_token}")
    assert status == 400

    digest_id = await store.digests.begin(alpha, NOW - timedelta(days=7), NOW)
    assert digest_id is not None
    feedback = links.feedback("alpha", digest_id, False, NOW).rpartition("/")[2]
    for path in (
        f"/c/beta/feedback/{feedback}",
        f"/c/alpha/feedback/{feedback[:-2]}xx",
        "/c/alpha/feedback/x.y",
    ):
        assert (await fetch(server, path))[0] == 400
        assert (await fetch(server, path, {}))[0] == 400
    assert (
        await store.digests.feedback_counts(1, NOW - timedelta(days=30), NOW + timedelta(days=1))
    ).useful == 0
    status, body = await fetch(server, f"/c/alpha/feedback/{feedback}")
    assert (status, "Not really" in body) == (200, True)  # a GET asks; it records nothing
    status, body = await fetch(server, f"/c/alpha/feedback/{feedback}", {})
    assert (status, "Your answer is recorded" in body) == (200, True)

    # A confirmation code of alpha confirms nothing under beta, and an expired one nothing anywhere.
    pending, _ = await store.subscriptions.request(
        1, email="new@example.test", name="New", change=SettingsChange(DeliveryMode.DIGEST, "weekly")
    )
    code = links.confirm_code(pending, NOW)
    stale_code = links.confirm_code(pending, NOW - timedelta(days=8))
    # The tampered code differs from the real one in its last character whatever that character is.
    tampered = code[:-1] + ("b" if code.endswith("a") else "a")
    for slug, candidate in (("beta", code), ("alpha", stale_code), ("alpha", tampered)):
        status, body = await fetch(server, f"/c/{slug}/subscribe", {"action": "confirm", "code": candidate})
        assert (status, "This confirmation does not work" in body) == (400, True)
    assert (await store.subscriptions.reader(pending)).state.value == "pending"  # type: ignore[union-attr]
    status, body = await fetch(server, f"/c/alpha/subscribe?confirm={code}")
    assert (status, "Confirm my subscription" in body) == (200, True)  # the GET only shows the button
    assert (await store.subscriptions.reader(pending)).state.value == "pending"  # type: ignore[union-attr]
    # Every reader is untouched by all of the above.
    for membership in members.values():
        reader = await store.subscriptions.reader(membership)
        assert reader is not None
        assert reader.delivery is DeliveryMode.DIGEST
    assert (await fetch(server, "/c/gamma/subscribe"))[0] == 404
