"""The convener's report page, ``/c/SLUG/report`` (DESIGN §6.5), and its figures as JSON and CSV.

Only the community's signed-in conveners and core team see it. Anyone else gets no figure: a visitor
who is not signed in is sent to the sign-in page (for a public community too), a signed-in member of
another role gets 403, and a members-only community answers non-members and unknown slugs exactly as
its other pages do (``ArchivePages.site_for``), so a convener of one community learns nothing of
another.

The page shows one period (by default the 30 days up to today, UTC days), the indicators grouped by
value cycle beside the same figures for the period before, and charts drawn on the server
(``bridge.web.charts``): posts, participants and the time to a first answer over the last 6, 9 or 12
periods of the same length, and this period's posts per channel, participants per region and threads
per tag. ``report.json`` and ``report.csv`` are exactly what ``icop report --format json|csv`` prints
for the same period.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from bridge.convener.figures import CHANNEL_NAMES, LABELS, sections
from bridge.convener.history import reports_over
from bridge.convener.report import (
    PeriodError,
    as_csv,
    as_json_line,
    day_bounds,
    day_period,
    periods_back,
)
from bridge.core import links
from bridge.core.indicators import Report
from bridge.store.archive import Reader
from bridge.web.access import CommunitySite
from bridge.web.charts import BarChart, LineChart, bar_chart, line_chart
from bridge.web.pages import ArchivePages

TREND_CHOICES = (6, 9, 12)
TAGS_DRAWN = 10
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class Asked:
    """What the form asked for: the days (both included) and how many periods the trends show."""

    first: date
    last: date
    trend: int

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return day_bounds(self.first, self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def day_label(day: date, *, year: bool = True) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}" + (f" {day.year}" if year else "")


def span_label(since: datetime, until: datetime) -> str:
    """``3 Nov – 2 Dec 2026``: a period by its first and last day."""
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    if first == last:
        return day_label(first)
    return f"{day_label(first, year=first.year != last.year)} – {day_label(last)}"


def trend_charts(reports: Sequence[Report]) -> list[LineChart]:
    """Posts, participants and the median time to a first answer, one point per period, oldest first."""
    periods = [(r.since, r.until) for r in reports]
    names = [
        (day_label((until - timedelta(microseconds=1)).date(), year=False), span_label(since, until))
        for since, until in periods
    ]

    def series(key: str) -> list[tuple[str, str, float | None]]:
        values = [r.values.get(key) for r in reports]
        return [
            (short, full, float(v) if isinstance(v, int | float) else None)
            for (short, full), v in zip(names, values, strict=True)
        ]

    head = ("Period", "Value")
    return [
        line_chart("trend-posts", "Posts per period", series("posts"), unit="visible posts", head=head),
        line_chart(
            "trend-participants",
            "Participants per period",
            series("participants"),
            unit="distinct authors",
            head=head,
        ),
        line_chart(
            "trend-response",
            "Time to a first answer per period",
            series("median_first_response_hours"),
            unit="median hours from a thread's first post to the first reply by someone else",
            head=head,
        ),
    ]


def breakdown_charts(report: Report) -> list[BarChart]:
    """This period's posts per channel, participants per region and threads per tag (the most used)."""
    channels = _parts(report, "by_channel")
    regions = sorted(_parts(report, "regions").items(), key=lambda item: (-item[1], item[0]))
    tags = list(_parts(report, "tags").items())[:TAGS_DRAWN]
    return [
        bar_chart(
            "channels",
            LABELS["by_channel"],
            [(CHANNEL_NAMES.get(k, k), v) for k, v in channels.items()],
            unit="posts written by email and in chat",
            head=("Channel", "Posts"),
        ),
        bar_chart(
            "regions",
            LABELS["regions"],
            regions,
            unit="people who posted, by the first part of their time zone",
            head=("Region", "Participants"),
        ),
        bar_chart(
            "tags",
            LABELS["tags"],
            tags,
            unit=f"threads active in the period, the {TAGS_DRAWN} most used tags",
            head=("Tag", "Threads"),
        ),
    ]


def _parts(report: Report, key: str) -> dict[str, float]:
    value = report.values.get(key)
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}


class ReportPages:
    def __init__(
        self, pages: ArchivePages, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.pages = pages
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/c/{slug}/report", self.report),
            web.get("/c/{slug}/report.json", self.download),
            web.get("/c/{slug}/report.csv", self.download),
        ]

    async def team_site(self, request: web.Request) -> tuple[CommunitySite, Reader] | web.StreamResponse:
        """The community when the visitor is on its team, else the refusal (never a figure)."""
        found = await self.pages.site_for(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        if reader is None:
            return self.pages.sign_in_first(request)
        if not site.led_by(reader):
            return self.pages.page(
                request, "refused", "Conveners only", status=403, reader=reader, site=site, reason="team"
            )
        return site, reader

    def asked(self, request: web.Request) -> Asked:
        """The form's period and trend length; raises PeriodError in the form's words."""
        first, last = day_period(
            request.query.get("from") or None, request.query.get("to") or None, self.clock().date()
        )
        trend_text = request.query.get("periods", "")
        trend = int(trend_text) if trend_text.isdigit() and int(trend_text) in TREND_CHOICES else 6
        return Asked(first, last, trend)

    async def report(self, request: web.Request) -> web.StreamResponse:
        found = await self.team_site(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        try:
            asked = self.asked(request)
        except PeriodError as error:
            return self._page(request, site, reader, status=400, error=str(error), asked=None, reports=[])
        since, until = asked.bounds
        periods = periods_back(since, until, asked.trend)
        reports = await reports_over(
            self.pages.store.db, site.record.id, site.slug, site.record.time_zone, periods
        )
        return self._page(request, site, reader, asked=asked, reports=reports)

    def _page(
        self,
        request: web.Request,
        site: CommunitySite,
        reader: Reader,
        *,
        asked: Asked | None,
        reports: list[Report],
        status: int = 200,
        error: str | None = None,
    ) -> web.Response:
        base = self.pages.base_url
        context: dict[str, Any] = {
            **self.pages.context(site, reader),
            "error": error,
            "form": {
                "first": request.query.get("from", "") if asked is None else asked.first.isoformat(),
                "last": request.query.get("to", "") if asked is None else asked.last.isoformat(),
                "trend": asked.trend if asked is not None else 6,
                "choices": TREND_CHOICES,
            },
            "report_url": links.report_url(base, site.slug),
        }
        if asked is None or not reports:
            return self.pages.page(
                request,
                "report",
                f"Report · {site.name}",
                status=status,
                reader=reader,
                **context,
                period=None,
            )
        current, previous = reports[-1], reports[-2]
        days = timedelta(days=asked.days)
        today = self.clock().date()
        context |= {
            "period": {
                "label": span_label(current.since, current.until),
                "previous_label": span_label(previous.since, previous.until),
                "days": asked.days,
                "previous_url": links.report_url(base, site.slug, asked.first - days, asked.last - days),
                "next_url": links.report_url(base, site.slug, asked.first + days, asked.last + days)
                if asked.last < today
                else None,
                "json_url": links.report_data_url(base, site.slug, "json", asked.first, asked.last),
                "csv_url": links.report_data_url(base, site.slug, "csv", asked.first, asked.last),
            },
            "sections": sections(current, previous),
            "trends": trend_charts(reports[-asked.trend :]),
            "breakdowns": breakdown_charts(current),
            "more_tags": max(len(_parts(current, "tags")) - TAGS_DRAWN, 0),
        }
        return self.pages.page(
            request, "report", f"Report, {context['period']['label']} · {site.name}", reader=reader, **context
        )

    async def download(self, request: web.Request) -> web.StreamResponse:
        """``report.json`` / ``report.csv``: the period's figures as ``icop report`` prints them."""
        found = await self.team_site(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, _ = found
        try:
            asked = self.asked(request)
        except PeriodError as error:
            return web.Response(status=400, text=f"{error}\n", headers={"Cache-Control": "no-store"})
        [report] = await reports_over(
            self.pages.store.db, site.record.id, site.slug, site.record.time_zone, [asked.bounds]
        )
        headers = {"Cache-Control": "private, no-store"}
        if request.path.endswith(".csv"):
            name = f"{site.slug}-report-{asked.first}-{asked.last}.csv"
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
            return web.Response(
                text=as_csv(report, site.slug), content_type="text/csv", charset="utf-8", headers=headers
            )
        return web.Response(
            text=as_json_line(report, site.slug) + "\n",
            content_type="application/json",
            charset="utf-8",
            headers=headers,
        )
