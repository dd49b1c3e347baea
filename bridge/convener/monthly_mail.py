"""The monthly report as a mail: the template pair ``email/monthly_report``, CSS inlined, one copy per
recipient.

Mail clients show no SVG worth trusting and run no script, so the page's charts become tables: one row
per month or part, a bar drawn as a coloured cell whose width is the share of the largest value, the
number beside it; the text part draws the same bars with block characters. The figures are the
report page's (``bridge.convener.figures``), with the month before beside each. Every rule of the
stylesheet is inlined by css-inline (mail clients drop ``<style>``); the dark-mode ``@media`` rules stay
for the clients that read them, as in the digest.

Headers: ``From`` is the list's request address (a reply reaches the command handler, never the list);
``Auto-Submitted: auto-generated`` and ``X-Loop`` keep responders and the loop guard away; the
Message-ID is derived from the claim, so a resend after a crash is the same mail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TypedDict

import css_inline

from bridge.convener.figures import CHANNEL_NAMES, LABELS, sections
from bridge.core.indicators import Report
from bridge.core.model import Role
from bridge.core.report_schedule import ReportMonth
from bridge.digest.compose import request_address
from bridge.email.header_fold import COMPOSE_POLICY
from bridge.email.outbound import as_smtp_bytes
from bridge.rendering import Renderer

TEMPLATE = "email/monthly_report"
TAGS_SHOWN = 10
TEXT_BAR = 20  # characters of the longest bar in the text part
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
ROLE_LABELS = {Role.CONVENER: "a convener", Role.CORE: "a member of the core team"}


class BarRow(TypedDict):
    label: str
    value: str
    percent: int  # the bar's width, in percent of the largest value's
    text_bar: str


class ChartTable(TypedDict):
    title: str
    rows: list[BarRow]


class FigureRow(TypedDict):
    label: str
    value: str
    previous: str | None
    change: str | None


class SectionRows(TypedDict):
    title: str
    figures: list[FigureRow]
    needs_stories: bool


class MonthlyContext(TypedDict):
    """The variables of ``monthly_report.html.j2`` / ``monthly_report.txt.j2``."""

    subject: str
    preheader: str
    community_name: str
    month_label: str
    previous_label: str
    intro: str
    charts: list[ChartTable]
    sections: list[SectionRows]
    report_url: str
    recipient_name: str
    address: str
    role_label: str


@dataclass(frozen=True, slots=True)
class MonthlyIssue:
    """One community's report of one month: the months up to it (oldest first) and where it is read."""

    slug: str
    name: str
    subject_prefix: str
    list_address: str
    months: Sequence[ReportMonth]
    reports: Sequence[Report]  # one per month, in the same order
    report_url: str

    @property
    def current(self) -> Report:
        return self.reports[-1]


def month_label(month: ReportMonth) -> str:
    return f"{_MONTHS[month.month.month - 1]} {month.month.year}"


def bar_rows(items: Sequence[tuple[str, float]]) -> list[BarRow]:
    largest = max((value for _, value in items), default=0)
    rows: list[BarRow] = []
    for label, value in items:
        share = value / largest if largest > 0 else 0.0
        rows.append(
            {
                "label": label,
                "value": f"{value:g}",
                "percent": round(100 * share),
                "text_bar": "█" * round(TEXT_BAR * share) or ("▏" if value > 0 else ""),
            }
        )
    return rows


def _parts(report: Report, key: str) -> list[tuple[str, float]]:
    value = report.values.get(key)
    if not isinstance(value, dict):
        return []
    return [(str(k), float(v)) for k, v in value.items() if isinstance(v, int | float)]


def chart_tables(issue: MonthlyIssue) -> list[ChartTable]:
    """Posts and participants per month, then this month's channels, regions and most used tags."""

    def per_month(key: str) -> list[tuple[str, float]]:
        return [
            (month_label(m)[:3] + f" {m.month.year}", float(v) if isinstance(v, int | float) else 0.0)
            for m, r in zip(issue.months, issue.reports, strict=True)
            for v in (r.values.get(key),)
        ]

    current = issue.current
    regions = sorted(_parts(current, "regions"), key=lambda item: (-item[1], item[0]))
    return [
        {"title": "Posts per month", "rows": bar_rows(per_month("posts"))},
        {"title": "Participants per month", "rows": bar_rows(per_month("participants"))},
        {
            "title": LABELS["by_channel"],
            "rows": bar_rows([(CHANNEL_NAMES.get(k, k), v) for k, v in _parts(current, "by_channel")]),
        },
        {"title": LABELS["regions"], "rows": bar_rows(regions)},
        {"title": LABELS["tags"], "rows": bar_rows(_parts(current, "tags")[:TAGS_SHOWN])},
    ]


def monthly_context(issue: MonthlyIssue, *, name: str, address: str, role: Role) -> MonthlyContext:
    """What one recipient's copy says; ``issue.months`` holds at least the month and the one before."""
    current, previous = issue.current, issue.reports[-2]
    label, before = month_label(issue.months[-1]), month_label(issue.months[-2])
    posts, people = current.values.get("posts", 0), current.values.get("participants", 0)
    prefix = f"[{issue.subject_prefix}] " if issue.subject_prefix else ""
    return {
        "subject": f"{prefix}Monthly report: {label} in {issue.name}",
        "preheader": f"{posts} posts by {people} people in {label}, beside {before}.",
        "community_name": issue.name,
        "month_label": label,
        "previous_label": before,
        "intro": (
            f"in {label} {issue.name} had {posts} {'post' if posts == 1 else 'posts'} by {people} "
            f"{'person' if people == 1 else 'people'}, by mail and in chat. Here is what that created "
            f"for its members, beside {before}."
        ),
        "charts": chart_tables(issue),
        "sections": [
            {
                "title": s.title,
                "figures": [
                    {"label": f.label, "value": f.value, "previous": f.previous, "change": f.change}
                    for f in s.figures
                ],
                "needs_stories": s.needs_stories,
            }
            for s in sections(current, previous)
        ],
        "report_url": issue.report_url,
        "recipient_name": name,
        "address": address,
        "role_label": ROLE_LABELS.get(role, "a member of the team"),
    }


def report_message_id(mail_id: int, domain: str) -> str:
    """The Message-ID of one report mail, derived from its claim (not an ``icop.<post>`` id: a reply
    citing it must not thread under a post of the same number)."""
    check = hashlib.sha256(f"report:{mail_id}@{domain}".encode()).hexdigest()[:10]
    return f"icop-report.{mail_id}.{check}@{domain}"


class MonthlyMail:
    """Renders and composes report mails; the rendered pair is made once per (issue, recipient)."""

    def __init__(self, renderer: Renderer | None = None) -> None:
        self.renderer = renderer or Renderer()
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

    def render(self, issue: MonthlyIssue, *, name: str, address: str, role: Role) -> tuple[str, str, str]:
        """``(subject, text, html)`` for one recipient."""
        context = monthly_context(issue, name=name, address=address, role=role)
        text, html = self.renderer.render_pair(TEMPLATE, context)
        return context["subject"], text, self._inliner.inline(html)

    def compose(
        self,
        issue: MonthlyIssue,
        *,
        name: str,
        address: str,
        role: Role,
        message_id: str,
        date: datetime,
    ) -> bytes:
        subject, text, html = self.render(issue, name=name, address=address, role=role)
        message = EmailMessage(policy=COMPOSE_POLICY)
        message["From"] = Address(f"{issue.name} reports", addr_spec=request_address(issue.list_address))
        message["To"] = Address(name, addr_spec=address)
        message["Subject"] = subject
        message["Date"] = format_datetime(date)
        message["Message-ID"] = f"<{message_id}>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
        message["X-Loop"] = issue.list_address
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        return as_smtp_bytes(message)
