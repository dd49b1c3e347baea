"""The practice catalogue: a document a convener can hand to management (``icop export catalogue``).

Built from the one catalogue query (``Practices.catalogue``) and written as a pair: ``index.html``,
self-contained (inline CSS, no scripts, no external assets, readable printed) and ``catalogue.md``.
Practices are grouped by tag, the taxonomy's tags first in its order, then free tags by name; a
practice filed under several tags is described under its first and listed under the others, so the
document says each thing once; practices without a tag close it. Every entry links to its thread in
the archive (``bridge.core.links``) and quotes the value stories members told about it: how the
practice helped, in their words, which is what management asks a community of practice for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from markupsafe import Markup

from bridge.core.links import practices_url, thread_url
from bridge.core.tags.taxonomy import Taxonomy
from bridge.formatting.markdown import markdown_to_html
from bridge.rendering import Renderer
from bridge.store import AppliedTag, CatalogueEntry

TEMPLATE = "archive/catalogue"
UNTAGGED = "Other practices"


@dataclass(frozen=True, slots=True)
class StoryView:
    """A value story as the catalogue quotes it: the member's words, who, when, and where it was told."""

    text: str
    author: str
    date: str  # YYYY-MM-DD
    url: str  # the thread it cites


@dataclass(frozen=True, slots=True)
class PracticeView:
    anchor: str
    title: str
    summary: str  # as the core team wrote it (Markdown)
    summary_html: Markup
    url: str
    subject: str
    contributors: tuple[str, ...]
    posts: int
    first: str  # YYYY-MM-DD
    last: str
    confirmed: str
    tags: tuple[str, ...]  # labels
    stories: tuple[StoryView, ...] = ()


@dataclass(frozen=True, slots=True)
class SectionView:
    anchor: str
    label: str
    description: str
    practices: tuple[PracticeView, ...]
    see_also: tuple[PracticeView, ...]  # described under another tag


@dataclass(frozen=True, slots=True)
class CatalogueView:
    community: str
    description: str
    generated: str
    practices_url: str
    count: int
    sections: tuple[SectionView, ...]


def catalogue_view(
    entries: Sequence[CatalogueEntry],
    *,
    community: str,
    description: str,
    slug: str,
    base_url: str,
    taxonomy: Taxonomy,
    now: datetime,
) -> CatalogueView:
    order = {d.tag: index for index, d in enumerate(taxonomy.definitions)}
    views = {e.practice.id: _practice(e, slug, base_url, taxonomy, order) for e in entries}
    by_tag: dict[str, list[CatalogueEntry]] = {}
    labels: dict[str, str] = {}
    for entry in entries:
        for tag in _ordered(entry, order):
            by_tag.setdefault(tag.name, []).append(entry)
            labels[tag.name] = taxonomy.label(tag.name) if taxonomy.definition(tag.name) else tag.label
    sections = []
    for name in sorted(by_tag, key=lambda n: (order.get(n, len(order)), n)):
        home = [e for e in by_tag[name] if _ordered(e, order)[0].name == name]
        elsewhere = [e for e in by_tag[name] if _ordered(e, order)[0].name != name]
        definition = taxonomy.definition(name)
        sections.append(
            SectionView(
                anchor=f"tag-{_slug(name)}",
                label=labels[name],
                description=definition.description if definition else "",
                practices=tuple(views[e.practice.id] for e in home),
                see_also=tuple(views[e.practice.id] for e in elsewhere),
            )
        )
    untagged = [views[e.practice.id] for e in entries if not e.tags]
    if untagged:
        sections.append(SectionView("untagged", UNTAGGED, "", tuple(untagged), ()))
    return CatalogueView(
        community=community,
        description=description,
        generated=now.strftime("%Y-%m-%d"),
        practices_url=practices_url(base_url, slug),
        count=len(entries),
        sections=tuple(sections),
    )


def write_catalogue(view: CatalogueView, out: Path, renderer: Renderer | None = None) -> tuple[Path, Path]:
    """``out/index.html`` and ``out/catalogue.md`` (the folder is created); their paths."""
    renderer = renderer or Renderer()
    out.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out / "index.html", out / "catalogue.md"
    html_path.write_text(renderer.render(f"{TEMPLATE}.html.j2", {"catalogue": view}), encoding="utf-8")
    md_path.write_text(renderer.render(f"{TEMPLATE}.md.j2", {"catalogue": view}), encoding="utf-8")
    return html_path, md_path


def _ordered(entry: CatalogueEntry, order: dict[str, int]) -> list[AppliedTag]:
    """The entry's tags, the taxonomy's first in its order, then free tags by name."""
    return sorted(entry.tags, key=lambda t: (order.get(t.name, len(order)), t.name))


def _practice(
    entry: CatalogueEntry, slug: str, base_url: str, taxonomy: Taxonomy, order: dict[str, int]
) -> PracticeView:
    practice = entry.practice
    summary = practice.summary.strip()
    return PracticeView(
        anchor=f"practice-{practice.id}",
        title=practice.title,
        summary=summary,
        summary_html=Markup(markdown_to_html(summary)) if summary else Markup(""),  # noqa: S704 (sanitised)
        url=thread_url(base_url, slug, practice.thread_id),
        subject=entry.subject,
        contributors=entry.contributors,
        posts=entry.posts,
        first=entry.first_at.strftime("%Y-%m-%d"),
        last=entry.last_at.strftime("%Y-%m-%d"),
        confirmed=(practice.confirmed_at or practice.created_at).strftime("%Y-%m-%d"),
        tags=tuple(
            taxonomy.label(t.name) if taxonomy.definition(t.name) else t.label for t in _ordered(entry, order)
        ),
        stories=tuple(
            StoryView(
                text=story.text,
                author=story.author_name,
                date=story.created_at.strftime("%Y-%m-%d"),
                url=thread_url(base_url, slug, story.thread_id),
            )
            for story in entry.stories
        ),
    )


def _slug(name: str) -> str:
    return re.sub(r"[^\w-]", "-", name)
