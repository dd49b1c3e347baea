"""``icop digest preview`` (DESIGN §6.1): the digest a reader would get at ``--now``, its text part on
stdout, or with ``--out FILE`` the whole message as sent (RFC 5322), dated ``--now``; exit 2 for an
unknown reader or community and for a ``--now`` without a zone. Run on a SQLite store built for the test.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.core.model import Channel, InboundMessage, Role, RosterMember
from bridge.store import Database, NewThread, Store, upgrade
from tests.fixtures.cli import sync_pm_practice, write_config

NOW = datetime(2026, 11, 9, 11, 0, tzinfo=UTC)  # a Monday, 08:00 in São Paulo (Ana's zone)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path, url = write_config(tmp_path, monkeypatch)
    roster = [
        RosterMember("Ana Souza", "ana@example.org", Role.CONVENER, None, "America/Sao_Paulo"),
        RosterMember("Bo Lind", "bo@example.org", Role.MEMBER, None, "Europe/Berlin"),
    ]

    async def prepare() -> None:
        async with Database(url) as db:
            await upgrade(db)
            store = Store(db)
            sync = await sync_pm_practice(store, roster, time_zone="Europe/Dublin")
            bo = await store.communities.person_by_email("bo@example.org")
            assert bo is not None
            message = InboundMessage(
                channel=Channel.EMAIL,
                origin_key="<q@example.org>",
                community_slug="pm-practice",
                sender_address="bo@example.org",
                sender_name="Bo Lind",
                text="How do you size work you have never done before?",
                subject="Reference class forecasting",
                sent_at=NOW - timedelta(days=2),
                email_message_id="<q@example.org>",
            )
            await store.posts.ingest(
                message,
                community_id=sync.community_id,
                thread=NewThread("Reference class forecasting", "reference class forecasting"),
                author_id=bo.id,
            )

    asyncio.run(prepare())
    return path


def _preview(config: Path, *extra: str) -> int:
    argv = ["--config", str(config), "digest", "preview", "--community", "pm-practice"]
    return main([*argv, *extra])


def test_the_text_part_on_stdout(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _preview(config, "--reader", "ana@example.org", "--now", "2026-11-09T11:00:00Z") == 0
    out = capsys.readouterr().out
    assert "Reference class forecasting" in out
    assert "https://icop.example.com/c/pm-practice/t/" in out
    assert "<" not in out.split("Reference class forecasting")[0]  # text, not HTML


def test_the_whole_message_dated_now(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "digest.eml"
    assert (
        _preview(
            config, "--reader", "ana@example.org", "--now", "2026-11-09T12:00:00+01:00", "--out", str(out)
        )
        == 0
    )
    assert capsys.readouterr().out == ""
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert parsedate_to_datetime(message["Date"]) == NOW
    assert message["To"].addresses[0].addr_spec == "ana@example.org"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Reference class forecasting" in text.get_content()
    assert "Reference class forecasting" in html.get_content()


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        (["--reader", "nobody@example.org"], "is not a member or reader of pm-practice"),
        (["--reader", "ana@example.org", "--now", "2026-11-09T11:00:00"], "has no time zone"),
    ],
)
def test_refusals_exit_2_on_one_line(
    config: Path, capsys: pytest.CaptureFixture[str], extra: list[str], complaint: str
) -> None:
    assert _preview(config, *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert complaint in err[0]


def test_an_unknown_community_exits_2(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--config",
        str(config),
        "digest",
        "preview",
        "--community",
        "nope",
        "--reader",
        "ana@example.org",
    ]
    assert main(argv) == 2
    assert "no community 'nope'" in capsys.readouterr().err
