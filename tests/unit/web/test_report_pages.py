"""The report page and the about page over a real SQLite store, through aiohttp's test client.

Who gets what from ``/c/SLUG/report`` (and its JSON and CSV): the community's conveners and core team
the figures; a visitor who is not signed in the sign-in page, for a public community too; a member of
another role 403 without a figure; a convener of another community the same 403 as any non-member.
The charts' numbers are read back from the SVG and compared with ``report.json`` for every period
they draw. The about page answers like every archive page and shows a call link to members only.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bridge.config.schema import Config
from bridge.core.model import Channel, InboundMessage
from bridge.store import NewThread, Store
from bridge.web.service import ArchiveService
from tests.fixtures.charts import CHARTS, SVG, marks, parse_charts
from tests.unit.web.served import BASE, Client, archive_config, served, synced_store

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
PEOPLE = {
    "ana": ("Ana Souza", "convener", "America/Sao_Paulo"),
    "kenji": ("Kenji Watanabe", "core", "Asia/Tokyo"),
    "siobhan": ("Siobhán Murphy", "member", "Europe/Dublin"),
    "bo": ("Bo Lind", "convener", "Europe/Stockholm"),
}


def _config() -> Config:
    def member(key: str) -> dict[str, str]:
        name, role, zone = PEOPLE[key]
        return {"name": name, "email": f"{key}@example.org", "role": role, "time_zone": zone}

    return archive_config(
        {
            "slug": "pm",
            "name": "PM Practice",
            "description": "Project leads compare how they plan.",
            "room": "#pm:example.org",
            "list_address": "pm@lists.example.org",
            "time_zone": "Europe/Dublin",
            "member": [member("ana"), member("kenji"), member("siobhan")],
            "meeting": [
                {
                    "id": "call",
                    "title": "Practice call",
                    "first": "2026-12-08",
                    "slots": ["15:00"],
                    "call_url": "https://meet.example.org/pm",
                }
            ],
        },
        {
            "slug": "open",
            "name": "Open Data",
            "room": "#open:example.org",
            "list_address": "open@lists.example.org",
            "archive": "public",
            "member": [member("bo")],
            "meeting": [
                {
                    "id": "open-call",
                    "title": "Open call",
                    "first": "2026-12-10",
                    "slots": ["16:00"],
                    "call_url": "https://meet.example.org/open",
                }
            ],
        },
    )


@dataclass
class Site:
    client: Client
    store: Store
    archive: ArchiveService


async def _post(
    store: Store,
    key: str,
    who: str,
    at: datetime,
    *,
    thread: int | None = None,
    channel: Channel = Channel.EMAIL,
) -> int:
    community = await store.communities.by_slug("pm")
    person = await store.communities.person_by_email(f"{who}@example.org")
    assert community is not None
    assert person is not None
    message = InboundMessage(
        channel=channel,
        origin_key=key,
        community_slug="pm",
        sender_address=f"{who}@example.org",
        sender_name=PEOPLE[who][0],
        text=f"post {key}",
        subject=None if thread else f"Thread {key}",
        sent_at=at,
    )
    result = await store.posts.ingest(
        message,
        community_id=community.id,
        thread=thread or NewThread(f"Thread {key}", f"thread {key}"),
        author_id=person.id,
    )
    return result.thread_id


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    config = _config()
    async with synced_store(config, tmp_path) as store:
        # Three 30-day periods ending 3 Dec 2026: 1 post, then 3, then 5 (of them 2 in chat).
        day = timedelta(days=1)
        old = await _post(store, "old", "ana", NOW - 70 * day)
        await _post(store, "a1", "siobhan", NOW - 50 * day)
        await _post(store, "a2", "ana", NOW - 49 * day, thread=old)
        await _post(store, "a3", "kenji", NOW - 45 * day)
        question = await _post(store, "q", "siobhan", NOW - 10 * day)
        answer = NOW - 10 * day + timedelta(hours=3)
        await _post(store, "r1", "kenji", answer, thread=question, channel=Channel.MATRIX)
        await _post(store, "r2", "ana", NOW - 9 * day, thread=question, channel=Channel.MATRIX)
        await _post(store, "r3", "siobhan", NOW - 8 * day, thread=question)
        await _post(store, "alone", "kenji", NOW - 2 * day)
        async with served(config, store, tmp_path, clock=lambda: NOW) as (client, archive):
            yield Site(client, store, archive)


async def _signed_in(site: Site, who: str) -> Client:
    """The site's client signed in as ``who`` (the session cookie is kept in its jar)."""
    person = await site.store.communities.person_by_email(f"{who}@example.org")
    assert person is not None
    assert site.archive.courier is not None
    url = await site.archive.courier.link_for(person.id, Channel.EMAIL, "/")
    path = url.removeprefix(BASE).split("?")[0]
    response = await site.client.post(path, data={"next": "/"}, allow_redirects=False)
    assert response.status == 303
    return site.client


def _charts(page: str) -> dict[str, ET.Element]:
    return parse_charts(re.findall(r"<svg .*?</svg>", page, re.DOTALL))


async def test_the_report_is_for_the_team_only(site: Site) -> None:
    """Not signed in: the sign-in page, for a public community too, never a figure. A member who is not
    on the team: 403. A convener of another community: 403 like any non-member, and for an unknown
    community the same."""
    for path in (
        "/c/pm/report",
        "/c/pm/report.json",
        "/c/open/report",
        "/c/open/report.csv",
        "/c/nope/report",
    ):
        response = await site.client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"].startswith(f"{BASE}/login?next=")
    client = await _signed_in(site, "siobhan")
    for path in ("/c/pm/report", "/c/pm/report.json?from=2026-11-01&to=2026-11-30", "/c/pm/report.csv"):
        response = await client.get(path)
        text = await response.text()
        assert response.status == 403, path
        assert "<svg" not in text
        assert 'class="figure"' not in text
    refused = await (await client.get("/c/pm/report")).text()
    assert "Conveners only" in refused
    assert "Report</a>" not in (await (await client.get("/c/pm/")).text())  # no link for her

    client = await _signed_in(site, "bo")
    own = await client.get("/c/open/report")
    assert own.status == 200
    for path in ("/c/pm/report", "/c/pm/report.json", "/c/nope/report"):
        response = await client.get(path)
        text = await response.text()
        assert response.status == 403, path
        assert "PM Practice" not in text
        assert "<svg" not in text

    client = await _signed_in(site, "kenji")  # core team
    page = await client.get("/c/pm/report")
    assert page.status == 200
    assert page.headers["Cache-Control"] == "private, no-cache"
    assert 'href="http://archive.test/c/pm/report">Report</a>' in await (await client.get("/c/pm/")).text()


async def test_the_charts_draw_the_figures_of_report_json(site: Site) -> None:
    """Default period: the 30 days up to today (4 Nov to 3 Dec). Each trend point is the figure of its
    own period in report.json; each bar is this period's; a bar's length is proportional to its number."""
    client = await _signed_in(site, "ana")
    page = await (await client.get("/c/pm/report")).text()
    assert "4 Nov – 3 Dec 2026" in page
    charts = _charts(page)
    assert set(charts) == CHARTS
    for svg in charts.values():
        assert svg.attrib["role"] == "img"
        assert svg.find(f"{SVG}title") is not None
        assert svg.find(f"{SVG}desc") is not None
        assert not any("style" in e.attrib for e in svg.iter())  # the CSP allows no inline style

    last = date(2026, 12, 3)
    periods = [
        (last - timedelta(days=30 * n + 29), last - timedelta(days=30 * n)) for n in reversed(range(6))
    ]
    figures = []
    for first, end in periods:
        response = await client.get(f"/c/pm/report.json?from={first}&to={end}")
        assert response.status == 200
        figures.append(json.loads(await response.text()))
    assert [f["posts"] for f in figures] == [0, 0, 0, 1, 3, 5]
    assert figures[-1]["since"] == "2026-11-04T00:00:00+00:00"
    assert figures[-1]["until"] == "2026-12-04T00:00:00+00:00"
    for chart, key in (("trend-posts", "posts"), ("trend-participants", "participants")):
        points = marks(charts[chart])
        assert [value for _, value, _ in points] == [f[key] for f in figures]
    response_points = marks(charts["trend-response"])  # periods without an answered thread have no point
    assert [v for _, v, _ in response_points] == [
        f["median_first_response_hours"] for f in figures if f["median_first_response_hours"] is not None
    ]
    assert response_points[-1][1] == 3.0

    current = figures[-1]
    bars = {label: (value, shape) for label, value, shape in marks(charts["channels"])}
    assert {label: value for label, (value, _) in bars.items()} == {
        "email": current["by_channel"]["email"],
        "chat": current["by_channel"]["matrix"],
    }
    widths = {label: float(shape["width"]) for label, (_, shape) in bars.items()}
    assert widths["email"] / bars["email"][0] == pytest.approx(widths["chat"] / bars["chat"][0])
    regions = {label: value for label, value, _ in marks(charts["regions"])}
    assert regions == current["regions"] == {"America": 1, "Asia": 1, "Europe": 1}
    assert marks(charts["tags"]) == []
    assert "Nothing in this period" in page


async def test_periods_figures_and_downloads(site: Site) -> None:
    """A chosen period, the figures beside the period before, the JSON and CSV as icop report prints
    them; a bad date gets 400 and says which field."""
    client = await _signed_in(site, "ana")
    page = await (await client.get("/c/pm/report?from=2026-11-04&to=2026-12-03&periods=9")).text()
    assert len(marks(_charts(page)["trend-posts"])) == 9
    figure = re.search(r'<div class="figure" id="figure-posts">(.*?)</div>', page, re.DOTALL)
    assert figure is not None
    assert '5 <span class="change">(+2)</span>' in figure.group(1)
    assert "Period before: 3" in figure.group(1)
    assert "Counts cannot show this value on their own" in page
    assert "€" not in page
    assert "$" not in page
    assert 'href="http://archive.test/c/pm/report?from=2026-10-05&amp;to=2026-11-03" rel="prev"' in page

    csv = await client.get("/c/pm/report.csv?from=2026-11-04&to=2026-12-03")
    assert csv.headers["Content-Disposition"] == 'attachment; filename="pm-report-2026-11-04-2026-12-03.csv"'
    rows = (await csv.text()).splitlines()
    assert rows[0] == "community,since,until,indicator,key,value,cycle"
    assert "pm,2026-11-04T00:00:00+00:00,2026-12-04T00:00:00+00:00,posts,,5,immediate" in rows

    for query, words in (
        ("from=2026-13-01", "From &#39;2026-13-01&#39; is not a date (YYYY-MM-DD)"),
        ("from=2026-12-01&to=2026-11-01", "the period is empty"),
    ):
        bad = await client.get(f"/c/pm/report?{query}")
        assert bad.status == 400
        assert words in await bad.text()
    bad_json = await client.get("/c/pm/report.json?to=yesterday")
    assert bad_json.status == 400
    assert (await bad_json.text()) == "To 'yesterday' is not a date (YYYY-MM-DD)\n"


async def test_the_about_page_says_who_convenes_and_how_to_take_part(site: Site) -> None:
    response = await site.client.get("/c/pm/about", allow_redirects=False)
    assert response.status == 303  # members only, like the other pages
    public = await site.client.get("/c/open/about")
    assert public.status == 200
    anonymous = await public.text()
    assert "<dt>Convener</dt><dd>Bo Lind</dd>" in anonymous
    assert "Open call" in anonymous
    assert "meet.example.org" not in anonymous  # the call link is for members
    assert "Members see the call links once signed in." in anonymous

    client = await _signed_in(site, "siobhan")
    page = await (await client.get("/c/pm/about")).text()
    for words in (
        "Project leads compare how they plan.",
        "<dt>Convener</dt><dd>Ana Souza</dd>",
        "<dt>Core team</dt><dd>Kenji Watanabe</dd>",
        'href="mailto:pm@lists.example.org"',
        'href="mailto:pm+subscribe@lists.example.org"',
        'href="https://matrix.to/#/%23pm%3Aexample.org"',
        'href="http://archive.test/c/pm/subscribe"',
        "Practice call",
        'href="https://meet.example.org/pm"',
        "3 members taking part",
    ):
        assert words in page, words
    main = page.split('<main id="main"', 1)[1]
    assert "Siobhán Murphy" not in main  # members are counted, not listed
    assert "8 Dec 2026, 15:00" in page  # the first meeting, in her zone (Dublin, UTC+0 in winter)
