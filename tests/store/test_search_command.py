"""``icop search``: the JSON Lines contract, the human listing, tag aliases, and what each mistake gets."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.cli import EXIT_CONFIG, main
from bridge.core.model import Channel, InboundMessage, RosterMember
from bridge.store import Database, NewThread, Store, upgrade
from tests.unit.config.test_load import ENV, VALID

TAXONOMY = """
[[community.taxonomy]]
tag = "estimation"
label = "Estimation"
aliases = ["estimating"]
"""
JSON_KEYS = {
    "community", "thread", "subject", "url", "score", "matched", "posts", "authors", "tags", "first_at",
    "last_at", "snippet",
}  # fmt: skip


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config of two communities and a store with a few threads in each (the command runs its own
    event loop, so the tests are synchronous)."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ICOP_DATABASE_URL", raising=False)
    text = VALID.replace('time_zone = "Europe/Dublin"\n', 'time_zone = "Europe/Dublin"\n' + TAXONOMY, 1)
    path = tmp_path / "icop.toml"
    path.write_text(text)
    (tmp_path / "var").mkdir()
    asyncio.run(_fill(tmp_path / "var" / "icop.sqlite3"))
    return path


async def _fill(path: Path) -> None:
    async with Database(f"sqlite://{path}") as db:
        await upgrade(db)
        store = Store(db)
        ids = {}
        for slug, address in (("pm-practice", "pm-practice@lists.example.com"), ("data-quality", "dq@x.org")):
            await store.communities.sync_community(
                slug=slug, name=slug, list_address=address, room=f"#{slug}:example.com", time_zone="UTC",
                roster=(RosterMember("Ana Souza", "ana@example.org"),),
            )  # fmt: skip
            record = await store.communities.by_slug(slug)
            assert record is not None
            ids[slug] = record.id
        posts = (
            ("pm-practice", "Risk registers", "We keep a <risk> register & review it.", "Ana Souza"),
            ("pm-practice", "Risk registers", "Owners update the column weekly.", "Bo Lind"),
            ("pm-practice", "Estimates", "Planning poker for estimates.", "Bo Lind"),
            ("data-quality", "Data risk", "Lineage lowers the risk of bad data.", "Grace Okafor"),
        )
        threads: dict[str, int] = {}
        for n, (slug, subject, body, author) in enumerate(posts):
            message = InboundMessage(
                channel=Channel.EMAIL, origin_key=f"<m{n}@x>", community_slug=slug,
                sender_address=author.split()[0].lower() + "@example.org", sender_name=author, text=body,
                subject=subject, email_message_id=f"m{n}@x", sent_at=datetime(2026, 3, 1 + n, 9, tzinfo=UTC),
            )  # fmt: skip
            result = await store.posts.ingest(
                message, community_id=ids[slug], thread=threads.get(subject) or NewThread(subject, subject),
                author_id=None,
            )  # fmt: skip
            threads[subject] = result.thread_id
        await db.execute(
            'INSERT INTO "tag" ("community_id", "name", "label") VALUES (?, ?, ?)',
            [ids["pm-practice"], "estimation", "Estimation"],
        )
        await db.execute(
            'INSERT INTO "thread_tag" ("thread_id", "tag_id") SELECT ?, "id" FROM "tag"',
            [threads["Estimates"]],
        )
    return path


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "search", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lines_follow_the_contract(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(config, capsys, "risk", "--json")
    assert (code, err) == (0, "")
    results = [json.loads(line) for line in out.splitlines()]
    assert {r["subject"] for r in results} == {"Risk registers", "Data risk"}  # every community by default
    assert results[0]["score"] >= results[1]["score"]
    [first] = [r for r in results if r["community"] == "pm-practice"]
    assert set(first) == JSON_KEYS
    assert first["community"] == "pm-practice"
    assert first["url"] == f"https://icop.example.com/c/pm-practice/t/{first['thread']}"
    assert (first["matched"], first["posts"]) == (2, 2)
    assert first["authors"] == ["Ana Souza", "Bo Lind"]
    assert first["tags"] == []
    assert (first["first_at"], first["last_at"]) == ("2026-03-01T09:00:00+00:00", "2026-03-02T09:00:00+00:00")
    assert "<mark>risk</mark>" in first["snippet"]
    assert "&lt;" in first["snippet"]
    assert "<risk>" not in first["snippet"]
    assert isinstance(first["score"], float)
    assert first["score"] > 0


def test_human_listing_community_limit_and_aliases(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(config, capsys, "risk", "--community", "data-quality")
    assert code == 0
    assert out.splitlines()[0].startswith("  1. Data risk  [data-quality, 1/1 posts, 2026-03-04 – 2026-03-04")
    assert "Lineage lowers the risk of bad data." in out
    assert err == "1 thread found\n"
    _, out, _ = run(config, capsys, "risk", "--limit", "1", "--json")
    assert len(out.splitlines()) == 1
    _, out, _ = run(config, capsys, "tag:Estimating", "--json")  # a taxonomy alias finds its tag
    assert [json.loads(line)["tags"] for line in out.splitlines()] == [["estimation"]]
    code, out, err = run(config, capsys, "nothingatall")
    assert (code, out, err) == (0, "", "0 threads found\n")


def test_mistakes_exit_2_with_one_line(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(config, capsys, "risk (owner")
    assert (code, out) == (EXIT_CONFIG, "")
    assert err == "icop: query error at 6: '(' is never closed\n"
    code, _, err = run(config, capsys, "after:2026-13-01")
    assert (code, err) == (
        EXIT_CONFIG,
        "icop: query error at 7: after: wants a date as YYYY-MM-DD, not '2026-13-01'\n",
    )
    code, _, err = run(config, capsys, "risk", "--community", "nope")
    assert (code, err) == (EXIT_CONFIG, "icop: no community 'nope' in the config\n")
    with pytest.raises(SystemExit) as raised:
        run(config, capsys, "risk", "--limit", "0")
    assert raised.value.code == EXIT_CONFIG
    assert "--limit: must be at least 1" in capsys.readouterr().err
