"""`icop report` and `icop meetings suggest` from the command line, on a SQLite store built for the test."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.core.model import Channel, InboundMessage, Role, RosterMember
from bridge.store import Database, NewStory, NewThread, Store, upgrade
from tests.fixtures.cli import sync_pm_practice, write_config

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
ROSTER = [
    RosterMember("Ana Souza", "ana@example.org", Role.CONVENER, "@ana:example.com", "America/Sao_Paulo"),
    RosterMember("Bo Lind", "bo@example.org", Role.CORE, None, "Europe/Berlin"),
    RosterMember("Kenji Sato", "kenji@example.jp", Role.MEMBER, None, "Asia/Tokyo"),
    RosterMember("Cy Reader", "cy@example.org", Role.READER, None, "Pacific/Auckland"),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path, url = write_config(tmp_path, monkeypatch)

    async def prepare() -> None:
        async with Database(url) as db:
            await upgrade(db)
            store = Store(db)
            sync = await sync_pm_practice(store, ROSTER, time_zone="Europe/Dublin")
            ana = await store.communities.person_by_email("ana@example.org")
            bo = await store.communities.person_by_email("bo@example.org")
            assert ana is not None
            assert bo is not None
            question = await store.posts.ingest(
                _message(Channel.EMAIL, "<q@example.org>", "ana@example.org", T0),
                community_id=sync.community_id,
                thread=NewThread("Estimation", "estimation"),
                author_id=ana.id,
            )
            await store.posts.ingest(
                _message(Channel.MATRIX, "$a", "@bo:example.com", T0 + timedelta(hours=5)),
                community_id=sync.community_id,
                thread=question.thread_id,
                author_id=bo.id,
                parent_id=question.post_id,
            )

    asyncio.run(prepare())
    return path


def _message(channel: Channel, key: str, sender: str, at: datetime) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        origin_key=key,
        community_slug="pm-practice",
        sender_address=sender,
        sender_name=sender,
        text="text",
        sent_at=at,
        email_message_id=key if channel is Channel.EMAIL else None,
        matrix_event_id=key if channel is Channel.MATRIX else None,
    )


def test_report_as_json_csv_and_table(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--config", str(config), "report", "--community", "pm-practice"]
    period = ["--since", "2026-11-01", "--until", "2026-12-01"]
    assert main([*base, *period, "--format", "json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    report = json.loads(line)
    assert (report["community"], report["since"], report["until"]) == (
        "pm-practice",
        "2026-11-01T00:00:00+00:00",
        "2026-12-01T00:00:00+00:00",
    )
    assert (report["posts"], report["threads"], report["participants"]) == (2, 1, 2)
    assert report["by_channel"] == {"matrix": 1, "email": 1}
    assert report["cross_channel_replies"] == 1
    assert report["median_first_response_hours"] == 5.0
    assert report["regions"] == {"America": 1, "Europe": 1}

    assert main([*base, *period, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {"indicator": "by_channel", "key": "email", "value": "1"}.items() <= next(
        r for r in rows if r["indicator"] == "by_channel" and r["key"] == "email"
    ).items()
    assert next(r for r in rows if r["indicator"] == "posts")["cycle"] == "immediate"

    assert main([*base, *period]) == 0
    table = capsys.readouterr().out
    assert "Immediate value" in table
    assert "median_first_response_hours" in table
    assert "counts cannot show this value" in table


def test_report_refuses_unknown_communities_and_bad_periods(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config), "report"]
    assert main([*base, "--community", "nope"]) == 2
    assert main([*base, "--community", "pm-practice", "--since", "last week"]) == 2
    assert "--since 'last week': expected YYYY-MM-DD" in capsys.readouterr().err
    assert main([*base, "--community", "pm-practice", "--since", "2026-12-01", "--until", "2026-11-01"]) == 2
    assert "the period is empty" in capsys.readouterr().err
    # Configured, not yet in the store: set up from config, as the daemon's first start would.
    assert main([*base, "--community", "data-quality"]) == 0


def test_meetings_suggest_ranks_slots_for_members_but_not_readers(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config), "meetings", "suggest", "--community", "pm-practice"]
    assert main([*base, "--json", "--from", "2026-01-12", "--limit", "3", "--duration", "45"]) == 0
    slots = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(slots) == 3
    assert [s["score"] for s in slots] == sorted((s["score"] for s in slots), reverse=True)
    first = slots[0]
    assert datetime.fromisoformat(first["start"]).utcoffset() == timedelta(0)
    assert first["duration_minutes"] == 45
    people = {m["email"]: m for m in first["members"]}
    assert set(people) == {"ana@example.org", "bo@example.org", "kenji@example.jp"}  # Cy only reads
    kenji = people["kenji@example.jp"]
    assert kenji["time_zone"] == "Asia/Tokyo"
    local = datetime.fromisoformat(kenji["local_start"])
    assert local.utcoffset() == timedelta(hours=9)
    assert local == datetime.fromisoformat(first["start"])

    assert main([*base, "--from", "2026-01-12"]) == 0
    out = capsys.readouterr()
    assert "Rotation sharing the out-of-hours burden" in out.out
    assert "3 people in 3 time zones" in out.err
    assert main([*base, "--duration", "5"]) == 2


def _tell_story(text: str) -> None:
    async def tell() -> None:
        async with Database(os.environ["ICOP_DATABASE_URL"]) as db:
            store = Store(db)
            community = await store.communities.by_slug("pm-practice")
            assert community is not None
            found = await store.posts.by_message_ids(community.id, ["<q@example.org>"])
            ref = found["<q@example.org>"]
            await store.practices.confirm(community.id, ref.thread_id, "Reference classes", "cli", now=T0)
            story = NewStory(
                community.id,
                ref.thread_id,
                ref.post_id,
                None,
                "Ana Souza",
                "ana@example.org",
                Channel.EMAIL,
                text,
            )
            assert await store.stories.record(story, now=T0 + timedelta(hours=1))

    asyncio.run(tell())


def test_stories_listed_and_quoted_in_the_report(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tell_story("Comparing with finished projects cut our overrun from 40% to 10%.")
    assert main(["--config", str(config), "stories", "--community", "pm-practice", "--json"]) == 0
    [story] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {k: story[k] for k in ("community", "practice", "author", "channel", "created_at")} == {
        "community": "pm-practice",
        "practice": "Reference classes",
        "author": "Ana Souza",
        "channel": "email",
        "created_at": "2026-11-02T10:00:00+00:00",
    }
    assert story["url"] == f"https://icop.example.com/c/pm-practice/t/{story['thread']}"
    assert (
        main(["--config", str(config), "stories", "--community", "pm-practice", "--since", "2026-11-03"]) == 0
    )
    out = capsys.readouterr()
    assert (out.out, out.err.strip()) == ("", "0 stories, about 0 practices")
    assert main(["--config", str(config), "stories", "--community", "nope"]) == 2

    period = ["--since", "2026-11-01", "--until", "2026-12-01"]
    assert main(["--config", str(config), "report", "--community", "pm-practice", *period]) == 0
    table = capsys.readouterr().out
    assert (
        "  - 2026-11-02 Ana Souza about “Reference classes”: "
        "“Comparing with finished projects cut our overrun from 40% to 10%.”"
    ) in table


def test_audit_lists_who_did_what(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tell_story("Comparing with finished projects helped.")  # confirms a practice from the command line
    base = ["--config", str(config), "audit", "--community", "pm-practice"]
    assert main([*base, "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(e["actor"], e["action"], e["target"], e["detail"]) for e in events} >= {
        ("config", "member.add", "member ana@example.org", "convener"),
        ("config", "member.add", "member cy@example.org", "reader"),
    }
    [confirmed] = [e for e in events if e["action"] == "practice.confirm"]
    assert (confirmed["actor"], confirmed["detail"], confirmed["at"]) == (
        "cli",
        "Reference classes",
        "2026-11-02T09:00:00+00:00",
    )
    assert confirmed["target"].startswith("thread ")
    assert all(e["community"] == "pm-practice" for e in events)
    assert main([*base, "--action", "practice.confirm"]) == 0
    out = capsys.readouterr()
    assert out.out.count("practice.confirm") == 1
    assert out.err.strip() == "1 event"
    assert main([*base, "--since", "yesterday"]) == 2
    assert "icop: audit: --since 'yesterday'" in capsys.readouterr().err
    assert main(["--config", str(config), "audit", "--community", "nope"]) == 2
