"""A digest as mail: the Jinja2 pair rendered once per (community, period, time zone, content), CSS
inlined, and each reader's copy made from it by filling in a few placeholders.

Mail clients ignore or strip ``<style>`` (Gmail in many views, Outlook), so every rule is inlined into
``style`` attributes by css-inline; the dark-mode ``@media`` rules stay in a ``<style>`` block for the
clients that honour them. What differs between two readers of the same digest is only their name, their
address and their signed links: those are placeholders in the rendered page, replaced per reader by a
string substitution, so ten thousand readers cost a few dozen renders, not ten thousand.
"""

from __future__ import annotations

import html
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict
from zoneinfo import ZoneInfo

import css_inline

from bridge.core.digest.facts import MeetingFact
from bridge.core.digest.selection import DigestContent, PersonItem, PracticeItem, TopItem, TrendingTag
from bridge.core.links import community_url, tag_url
from bridge.digest.compose import EncodedBody
from bridge.rendering import Renderer

TEMPLATE = "email/digest"
MAX_HTML_BYTES = 100_000
"""Gmail clips a message whose HTML passes about 102 KB, hiding what follows (the unsubscribe link)."""

READER_NAME = "ICOPxREADERxNAME"
ADDRESS = "ICOPxREADERxADDRESS"
UNSUBSCRIBE = "ICOPxUNSUBSCRIBExURL"
MANAGE = "ICOPxMANAGExURL"
USEFUL = "ICOPxUSEFULxURL"
NOT_USEFUL = "ICOPxNOTUSEFULxURL"

_HEADINGS = {"daily": "Today in {}", "weekly": "This week in {}", "monthly": "This month in {}"}
_QUIET = {"daily": "a quiet day", "weekly": "a quiet week", "monthly": "a quiet month"}


class TopContext(TypedDict):
    title: str
    url: str
    snippet: str
    people: str
    replies_label: str
    both_channels: bool
    tags: list[str]


class TrendingContext(TypedDict):
    label: str
    url: str
    threads: int
    growth_label: str


class PersonContext(TypedDict):
    name: str
    why: str
    tags: list[str]


class MeetingContext(TypedDict):
    title: str
    when: str
    url: str | None


class PracticeContext(TypedDict):
    title: str
    summary: str
    confirmed: bool
    url: str


class DigestContext(TypedDict):
    """The variables of ``digest.html.j2`` / ``digest.txt.j2``."""

    subject: str
    preheader: str
    community_name: str
    period_label: str
    heading: str
    intro: str
    frequency: str
    top: list[TopContext]
    practices: list[PracticeContext]
    trending: list[TrendingContext]
    people: list[PersonContext]
    meetings: list[MeetingContext]
    mission: str
    archive_url: str
    reader_name: str
    address: str
    unsubscribe_url: str
    manage_url: str
    useful_url: str
    not_useful_url: str


@dataclass(frozen=True, slots=True)
class DigestIssue:
    """One community's digest for one period, as every reader in one zone with the same content sees it."""

    slug: str
    name: str
    subject_prefix: str
    mission: str
    base_url: str
    frequency: str
    start: datetime
    end: datetime
    time_zone: str
    content: DigestContent


PLACEHOLDERS = (READER_NAME, ADDRESS, UNSUBSCRIBE, MANAGE, USEFUL, NOT_USEFUL)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """The rendered pair with placeholders for the reader's name, address and links, and the same
    pair quoted-printable encoded once with holes for them (``bridge.digest.compose.EncodedBody``)."""

    subject: str
    text: str
    html: str
    text_body: EncodedBody
    html_body: EncodedBody

    def personal(self, *, name: str, address: str, links: PersonalLinks) -> tuple[str, str]:
        """``(text, html)`` for one reader: the placeholders filled in (escaped in the HTML)."""
        values = _values(name, address, links)
        text, page = self.text, self.html
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
            page = page.replace(placeholder, html.escape(value, quote=True))
        return text, page

    def encoded(self, *, name: str, address: str, links: PersonalLinks) -> tuple[str, str]:
        """``(text, html)`` for one reader, already quoted-printable: what the composer sends."""
        values = _values(name, address, links)
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        return self.text_body.fill(values), self.html_body.fill(escaped)


def _values(name: str, address: str, links: PersonalLinks) -> dict[str, str]:
    return {
        READER_NAME: name,
        ADDRESS: address,
        UNSUBSCRIBE: links.unsubscribe,
        MANAGE: links.manage,
        USEFUL: links.useful,
        NOT_USEFUL: links.not_useful,
    }


@dataclass(frozen=True, slots=True)
class PersonalLinks:
    unsubscribe: str
    manage: str
    useful: str
    not_useful: str


class DigestRenderer:
    """Renders digests, remembering the last few hundred so each is rendered once per run."""

    def __init__(self, renderer: Renderer | None = None, *, cache_size: int = 512) -> None:
        self.renderer = renderer or Renderer()
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
        self._cache: OrderedDict[tuple[object, ...], RenderedDigest] = OrderedDict()
        self._cache_size = cache_size
        self.renders = 0

    def render(self, issue: DigestIssue) -> RenderedDigest:
        key = (issue.slug, issue.frequency, issue.start, issue.end, issue.time_zone, issue.content.key)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        context = digest_context(issue)
        text, page = self.renderer.render_pair(TEMPLATE, context)
        page = self._inliner.inline(page)
        rendered = RenderedDigest(
            subject=context["subject"],
            text=text,
            html=page,
            text_body=EncodedBody(text, PLACEHOLDERS),
            html_body=EncodedBody(page, PLACEHOLDERS),
        )
        self.renders += 1
        self._cache[key] = rendered
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return rendered


def digest_context(issue: DigestIssue) -> DigestContext:
    zone = ZoneInfo(issue.time_zone)
    content = issue.content
    quiet = content.is_empty
    heading = _HEADINGS.get(issue.frequency, "News from {}").format(issue.name)
    since = _date(issue.start, zone)
    if quiet:
        quiet_time = _QUIET.get(issue.frequency, "a quiet time")
        intro = f"it was {quiet_time} in {issue.name}: no new discussions since {since}."
    else:
        intro = f"here is what {issue.name} discussed since {since}."
    return {
        "subject": _subject(issue),
        "preheader": _preheader(content, issue.name),
        "community_name": issue.name,
        "period_label": f"{since} – {_date(issue.end, zone)}",
        "heading": heading,
        "intro": intro,
        "frequency": issue.frequency,
        "top": [_top(item) for item in content.top],
        "practices": [_practice(p) for p in content.practices],
        "trending": [_trending(issue, tag) for tag in content.trending],
        "people": [_person(p) for p in content.people],
        "meetings": [_meeting(m, zone) for m in content.meetings],
        "mission": issue.mission,
        "archive_url": community_url(issue.base_url, issue.slug),
        "reader_name": READER_NAME,
        "address": ADDRESS,
        "unsubscribe_url": UNSUBSCRIBE,
        "manage_url": MANAGE,
        "useful_url": USEFUL,
        "not_useful_url": NOT_USEFUL,
    }


def _subject(issue: DigestIssue) -> str:
    prefix = f"[{issue.subject_prefix}] " if issue.subject_prefix else ""
    content = issue.content
    kind = issue.frequency.capitalize() if issue.frequency in _HEADINGS else "Your"
    if content.is_empty:
        return f"{prefix}{kind} digest: {_QUIET.get(issue.frequency, 'a quiet time')} in {issue.name}"
    lead = content.top[0].title if content.top else content.practices[0].title
    more = len(content.top) + len(content.practices) - 1
    return f"{prefix}{kind} digest: {lead}" + (f" and {more} more" if more > 0 else "")


def _preheader(content: DigestContent, name: str) -> str:
    if content.top:
        first = content.top[0]
        return f"{first.title}: {first.snippet}"[:180]
    if content.practices:
        return f"New practices in {name}: " + ", ".join(p.title for p in content.practices)[:140]
    return f"No new discussions in {name} this time."


def _top(item: TopItem) -> TopContext:
    names = list(item.participants)
    people = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return {
        "title": item.title,
        "url": item.url,
        "snippet": item.snippet,
        "people": people,
        "replies_label": "no replies yet"
        if item.replies == 0
        else f"{item.replies} repl{'y' if item.replies == 1 else 'ies'}",
        "both_channels": item.both_channels,
        "tags": list(item.tags),
    }


def _practice(item: PracticeItem) -> PracticeContext:
    return {"title": item.title, "summary": item.summary, "confirmed": item.confirmed, "url": item.url}


def _trending(issue: DigestIssue, tag: TrendingTag) -> TrendingContext:
    growth = f"up from {tag.previous}" if tag.previous else "new this time"
    return {
        "label": tag.label,
        "url": tag_url(issue.base_url, issue.slug, tag.tag),
        "threads": tag.threads,
        "growth_label": growth,
    }


def _person(person: PersonItem) -> PersonContext:
    why = (
        "joined this period"
        if person.why == "new"
        else f"{person.posts} post{'' if person.posts == 1 else 's'} this period"
    )
    return {"name": person.name, "why": why, "tags": list(person.tags)}


def _meeting(meeting: MeetingFact, zone: ZoneInfo) -> MeetingContext:
    local = meeting.starts_at.astimezone(zone)
    when = f"{local:%a} {local.day} {local:%B, %H:%M} ({local.tzname()})"
    return {"title": meeting.title, "when": when, "url": meeting.url}


def _date(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local:%B %Y}"
