"""What the archive templates show, computed from the archive's records: local times, post bodies,
channel marks and links.

Kept apart from the request handlers so the rules of presentation (which zone a time is shown in,
what is markup and what is text, where quoted history goes) are plain functions with fast tests. The
only HTML marked safe here is the post HTML the one sanitiser produced at ingest and the escaped
plain text ``plain_text_html`` builds; everything else reaches the templates as text and is escaped
there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from markupsafe import Markup

from bridge.core import links
from bridge.core.model import Channel
from bridge.formatting.plain_html import plain_text_html, quoted_history
from bridge.store.archive import ArchivePost, Participant, TagRef, ThreadSummary

CHANNEL_LABELS = {Channel.EMAIL: "by email", Channel.MATRIX: "in chat"}
CHANNEL_MARKS = {Channel.EMAIL: "email", Channel.MATRIX: "chat"}
"""Short text badges rather than emoji: they read the same in every font and to screen readers."""

FileUrl = Callable[[int, int], str]


@dataclass(frozen=True, slots=True)
class LocalTime:
    """A moment as a reader sees it: ``iso`` for ``<time datetime>``, ``text`` in the reader's zone."""

    iso: str
    text: str


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_time(moment: datetime, where: tzinfo) -> LocalTime:
    """``2 Mar 2026, 18:00`` in ``where`` (English month names whatever the process locale; built by
    hand because ``strftime`` is the slowest step of a 500-post page)."""
    local = moment.astimezone(where)
    text = f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {local.hour:02d}:{local.minute:02d}"
    return LocalTime(iso=moment.astimezone(UTC).isoformat(timespec="seconds"), text=text)


@dataclass(frozen=True, slots=True)
class TagLink:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class ChannelMark:
    channel: str  # "email" | "matrix", for the mark's class
    mark: str
    label: str  # "by email" | "in chat": what the mark means, for screen readers and tooltips


@dataclass(frozen=True, slots=True)
class ParticipantView:
    name: str
    channels: tuple[ChannelMark, ...]  # one mark per channel the person wrote on


@dataclass(frozen=True, slots=True)
class ThreadRow:
    url: str
    subject: str
    replies: int
    participants: tuple[ParticipantView, ...]
    tags: tuple[TagLink, ...]
    last_activity: LocalTime


@dataclass(frozen=True, slots=True)
class FileView:
    name: str
    size: int
    url: str


@dataclass(frozen=True, slots=True)
class RevisionView:
    number: int
    time: LocalTime
    body: Markup


@dataclass(frozen=True, slots=True)
class PostView:
    id: int
    anchor: str
    author: str
    channel: str
    mark: str
    channel_label: str
    time: LocalTime
    edited: LocalTime | None
    deleted: bool
    body: Markup
    plain: bool  # the body is plain text: shown with its line breaks
    quoted: Markup | None
    files: tuple[FileView, ...]
    revisions: tuple[RevisionView, ...]
    reactions: int
    reply_to: tuple[str, str] | None  # (anchor, author) of the post it answers, when not the one above


def tag_links(base_url: str, slug: str, tags: Sequence[TagRef]) -> tuple[TagLink, ...]:
    return tuple(TagLink(t.label or t.name, links.tag_url(base_url, slug, t.name)) for t in tags)


def participants(people: Sequence[Participant]) -> tuple[ParticipantView, ...]:
    """Each author once, in order of first post, with a mark for every channel they wrote on."""
    channels: dict[str, list[Channel]] = {}
    for p in people:
        found = channels.setdefault(p.name, [])
        if p.channel not in found:
            found.append(p.channel)
    return tuple(
        ParticipantView(name, tuple(ChannelMark(c.value, CHANNEL_MARKS[c], CHANNEL_LABELS[c]) for c in marks))
        for name, marks in channels.items()
    )


def thread_rows(base_url: str, slug: str, threads: Sequence[ThreadSummary], where: tzinfo) -> list[ThreadRow]:
    return [
        ThreadRow(
            url=links.thread_url(base_url, slug, t.id),
            subject=t.subject or "(no subject)",
            replies=t.replies,
            participants=participants(t.participants),
            tags=tag_links(base_url, slug, t.tags),
            last_activity=local_time(t.last_activity_at, where),
        )
        for t in threads
    ]


def body(text: str, html: str | None) -> tuple[Markup, bool]:
    """The post's body and whether it is plain text. Stored HTML was sanitised at ingest by the one
    sanitiser (``bridge.formatting.sanitize``), which is what makes it safe to mark here."""
    if html:
        return Markup(html), False  # noqa: S704 - sanitised at ingest, see the docstring
    return Markup(plain_text_html(text)), True  # noqa: S704 - escaped by plain_text_html


def post_views(posts: Sequence[ArchivePost], where: tzinfo, file_url: FileUrl) -> list[PostView]:
    authors = {p.id: p.author_name for p in posts}
    views: list[PostView] = []
    previous: int | None = None
    for post in posts:
        content, plain = body(post.text, post.html)
        quoted = None if post.deleted else quoted_history(post.text, post.full_text)
        parent = post.parent_id
        views.append(
            PostView(
                id=post.id,
                anchor=f"post-{post.id}",
                author=post.author_name or "Someone",
                channel=post.channel.value,
                mark=CHANNEL_MARKS[post.channel],
                channel_label=CHANNEL_LABELS[post.channel],
                time=local_time(post.created_at, where),
                edited=local_time(post.edited_at, where) if post.edited_at and not post.deleted else None,
                deleted=post.deleted,
                body=Markup("") if post.deleted else content,
                plain=plain,
                quoted=Markup(plain_text_html(quoted)) if quoted else None,  # noqa: S704 - escaped
                files=tuple(FileView(f.filename, f.size, file_url(post.id, f.number)) for f in post.files),
                revisions=tuple(
                    RevisionView(r.revision, local_time(r.created_at, where), body(r.text, r.html)[0])
                    for r in post.revisions
                ),
                reactions=post.reactions,
                reply_to=(
                    (f"post-{parent}", authors[parent])
                    if parent is not None and parent in authors and parent != previous
                    else None
                ),
            )
        )
        previous = post.id
    return views
