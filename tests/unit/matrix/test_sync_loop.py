"""The sync loop's decisions, against scripted homeserver answers: what is handed over, in which order,
when the position is saved, how gaps and joins are treated, and how outages are logged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

import pytest

from bridge.matrix.events import MatrixIgnored, MatrixMessage, SyncBatch
from bridge.matrix.session import MatrixAuthError, MatrixTemporaryError, MatrixUnavailableError
from bridge.matrix.sync import SyncLoop, sync_filter

BOT = "@icop:example.com"
ANA = "@ana:example.com"
ROOM = "!room:example.com"
OTHER = "!other:example.com"


class ScriptedSession:
    """Stands in for ``MatrixSession``: answers requests from a script and records them."""

    user_id = BOT

    def __init__(self, *answers: dict[str, Any] | BaseException) -> None:
        self.answers: deque[dict[str, Any] | BaseException] = deque(answers)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.invites: list[tuple[str, bool]] = []

    async def request_json(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.requests.append((path, dict(kwargs.get("query") or {})))
        if not self.answers:
            raise asyncio.CancelledError  # the script is over: end run()
        answer = self.answers.popleft()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def answer_invite(self, room_id: str, *, accept: bool) -> None:
        self.invites.append((room_id, accept))

    async def display_name(self, user_id: str) -> str | None:
        return None


def message(n: int, sender: str = ANA, body: str | None = None) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": f"$e{n}",
        "sender": sender,
        "origin_server_ts": 1_700_000_000_000 + n,
        "content": {"msgtype": "m.text", "body": body or f"message {n}"},
    }


def member(user_id: str, name: str | None, *, previous: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"membership": "join"}
    if name:
        content["displayname"] = name
    event: dict[str, Any] = {
        "type": "m.room.member",
        "event_id": f"$m-{user_id}-{name}",
        "sender": user_id,
        "state_key": user_id,
        "content": content,
    }
    if previous:
        event["unsigned"] = {"prev_content": {"membership": previous}}
    return event


def sync_answer(next_batch: str, rooms: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"next_batch": next_batch, "rooms": rooms or {}}


def joined(room_id: str, events: list[dict[str, Any]], **timeline: Any) -> dict[str, Any]:
    return {"join": {room_id: {"timeline": {"events": events, **timeline}, "state": {"events": []}}}}


class Recorder:
    def __init__(self, *, fail_first: int = 0) -> None:
        self.batches: list[SyncBatch] = []
        self.saved: list[str] = []
        self.log: list[str] = []
        self.fail_first = fail_first

    async def handle(self, batch: SyncBatch) -> None:
        self.log.append(f"handle {batch.next_batch}")
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("store is down")
        self.batches.append(batch)

    async def save(self, since: str) -> None:
        self.log.append(f"save {since}")
        self.saved.append(since)


def loop(session: ScriptedSession, recorder: Recorder, since: str | None = "s0", **kwargs: Any) -> SyncLoop:
    async def load() -> str | None:
        return since

    return SyncLoop(
        session,  # type: ignore[arg-type]
        load_since=load,
        save_since=recorder.save,
        handle=recorder.handle,
        rooms={ROOM},
        timeout_ms=1000,
        community_slugs={ROOM: "pm"},
        backoff_base=0.001,
        backoff_max=0.004,
        **kwargs,
    )


async def test_first_start_takes_the_position_without_history() -> None:
    session = ScriptedSession(sync_answer("s1", {"invite": {ROOM: {}, OTHER: {}}}))
    recorder = Recorder()
    assert await loop(session, recorder).sync_once(None) == "s1"
    path, query = session.requests[0]
    assert path == "/_matrix/client/v3/sync"
    assert "since" not in query
    assert json.loads(query["filter"])["room"]["timeline"]["limit"] == 0
    assert recorder.saved == ["s1"]
    assert recorder.batches == []
    assert session.invites == [(ROOM, True), (OTHER, False)]


async def test_batch_is_handled_before_the_position_is_saved() -> None:
    session = ScriptedSession(sync_answer("s1", joined(ROOM, [message(1), message(2)])))
    recorder = Recorder()
    assert await loop(session, recorder).sync_once("s0") == "s1"
    assert recorder.log == ["handle s1", "save s1"]
    assert session.requests[0][1]["since"] == "s0"
    (batch,) = recorder.batches
    assert [event.event_id for event in batch.events] == ["$e1", "$e2"]  # type: ignore[union-attr]
    first = batch.events[0]
    assert isinstance(first, MatrixMessage)
    assert first.message.community_slug == "pm"


async def test_a_failing_handler_leaves_the_position_for_a_replay() -> None:
    answer = sync_answer("s1", joined(ROOM, [message(1)]))
    session = ScriptedSession(answer, answer)
    recorder = Recorder(fail_first=1)
    sync = loop(session, recorder)
    with pytest.raises(RuntimeError):
        await sync.sync_once("s0")
    assert recorder.saved == []
    assert await sync.sync_once("s0") == "s1"
    assert recorder.saved == ["s1"]
    assert [session.requests[0][1]["since"], session.requests[1][1]["since"]] == ["s0", "s0"]


async def test_only_configured_rooms_are_handed_over() -> None:
    rooms = joined(ROOM, [message(1)])
    rooms["join"][OTHER] = {"timeline": {"events": [message(2)]}}
    session = ScriptedSession(sync_answer("s1", rooms))
    recorder = Recorder()
    await loop(session, recorder).sync_once("s0")
    assert [event.event_id for event in recorder.batches[0].events] == ["$e1"]  # type: ignore[union-attr]


async def test_sender_names_come_from_member_events_in_order() -> None:
    events = [message(1), member(ANA, "Ana Souza", previous="join"), message(2)]
    rooms = joined(ROOM, events)
    rooms["join"][ROOM]["state"] = {"events": [member(ANA, "Ana")]}
    session = ScriptedSession(sync_answer("s1", rooms))
    recorder = Recorder()
    await loop(session, recorder).sync_once("s0")
    names = [event.message.sender_name for event in recorder.batches[0].events]  # type: ignore[union-attr]
    assert names == ["Ana", "Ana Souza"]


async def test_own_events_are_handed_over_as_ignored() -> None:
    session = ScriptedSession(sync_answer("s1", joined(ROOM, [message(1, sender=BOT)])))
    recorder = Recorder()
    await loop(session, recorder).sync_once("s0")
    (event,) = recorder.batches[0].events
    assert isinstance(event, MatrixIgnored)


async def test_a_limited_timeline_is_filled_from_messages() -> None:
    rooms = joined(ROOM, [message(4), message(5)], limited=True, prev_batch="p1")
    page_one = {"chunk": [message(3), message(2)], "end": "p2", "state": [member(ANA, "Ana")]}
    page_two = {"chunk": [message(1)], "end": "p3"}
    page_three: dict[str, Any] = {"chunk": []}
    session = ScriptedSession(sync_answer("s1", rooms), page_one, page_two, page_three)
    recorder = Recorder()
    await loop(session, recorder).sync_once("s0")
    ids = [event.event_id for event in recorder.batches[0].events]  # type: ignore[union-attr]
    assert ids == ["$e1", "$e2", "$e3", "$e4", "$e5"]
    path, query = session.requests[1]
    assert path == f"/_matrix/client/v3/rooms/{ROOM.replace('!', '%21').replace(':', '%3A')}/messages"
    assert (query["from"], query["to"], query["dir"]) == ("p1", "s0", "b")
    assert session.requests[2][1]["from"] == "p2"
    assert recorder.batches[0].events[0].message.sender_name == "Ana"  # type: ignore[union-attr]


async def test_gap_filling_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    rooms = joined(ROOM, [message(9)], limited=True, prev_batch="p1")
    pages = [{"chunk": [message(n)], "end": f"p{n + 1}"} for n in range(1, 4)]
    session = ScriptedSession(sync_answer("s1", rooms), *pages)
    recorder = Recorder()
    with caplog.at_level(logging.WARNING):
        await loop(session, recorder, max_gap_pages=2).sync_once("s0")
    assert len(session.requests) == 3
    assert [event.event_id for event in recorder.batches[0].events] == ["$e2", "$e1", "$e9"]  # type: ignore[union-attr]
    assert "older ones were not relayed" in caplog.text


async def test_history_before_our_own_join_is_not_relayed() -> None:
    events = [message(1), message(2), member(BOT, "icop", previous="invite"), message(3)]
    session = ScriptedSession(sync_answer("s1", joined(ROOM, events, limited=True, prev_batch="p1")))
    recorder = Recorder()
    await loop(session, recorder).sync_once("s0")
    assert [event.event_id for event in recorder.batches[0].events] == ["$e3"]  # type: ignore[union-attr]
    assert len(session.requests) == 1  # no gap filling into the room's past


async def test_a_profile_change_of_ours_is_not_a_join() -> None:
    events = [message(1), member(BOT, "icop bridge", previous="join"), message(2)]
    session = ScriptedSession(sync_answer("s1", joined(ROOM, events)))
    recorder = Recorder()
    await loop(session, recorder).sync_once("s0")
    assert [event.event_id for event in recorder.batches[0].events] == ["$e1", "$e2"]  # type: ignore[union-attr]


async def test_an_answer_without_next_batch_is_an_error() -> None:
    session = ScriptedSession({"rooms": {}})
    recorder = Recorder()
    with pytest.raises(MatrixTemporaryError):
        await loop(session, recorder).sync_once("s0")
    assert recorder.saved == []


async def test_run_backs_off_and_logs_one_line_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    down = MatrixUnavailableError("sync: http://127.0.0.1:1 connection refused")
    session = ScriptedSession(
        down,
        down,
        down,
        sync_answer("s1", joined(ROOM, [message(1)])),
        down,
        sync_answer("s2"),
    )
    recorder = Recorder(fail_first=0)
    with caplog.at_level(logging.INFO, logger="bridge.matrix.sync"), pytest.raises(asyncio.CancelledError):
        await loop(session, recorder).run()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    recoveries = [r for r in caplog.records if "working again" in r.getMessage()]
    assert len(warnings) == 2  # two outages, one line each
    assert "connection refused" in warnings[0].getMessage()
    assert len(recoveries) == 2
    assert recorder.saved == ["s1", "s2"]
    assert [query.get("since") for _, query in session.requests] == ["s0"] * 4 + ["s1"] * 2 + ["s2"]


async def test_run_retries_a_failing_handler_with_the_same_position() -> None:
    answer = sync_answer("s1", joined(ROOM, [message(1)]))
    session = ScriptedSession(answer, answer)
    recorder = Recorder(fail_first=1)
    with pytest.raises(asyncio.CancelledError):
        await loop(session, recorder).run()
    assert recorder.log == ["handle s1", "handle s1", "save s1"]
    assert len(recorder.batches) == 1


async def test_run_ends_on_a_refused_credential() -> None:
    session = ScriptedSession(MatrixAuthError("sync: 401 M_UNKNOWN_TOKEN"))
    with pytest.raises(MatrixAuthError):
        await loop(session, Recorder()).run()


async def test_run_without_a_saved_position_starts_fresh() -> None:
    session = ScriptedSession(sync_answer("s1"), sync_answer("s2"))
    recorder = Recorder()
    with pytest.raises(asyncio.CancelledError):
        await loop(session, recorder, since=None).run()
    assert recorder.saved == ["s1", "s2"]
    assert recorder.log == ["save s1", "handle s2", "save s2"]


def test_filter_asks_only_for_what_is_relayed() -> None:
    room = sync_filter()["room"]
    assert set(room["timeline"]["types"]) == {
        "m.room.message",
        "m.reaction",
        "m.room.redaction",
        "m.room.encrypted",
        "m.room.member",
    }
    assert room["state"]["types"] == ["m.room.member"]
    assert room["ephemeral"] == {"types": []}
    assert sync_filter()["presence"] == {"types": []}
