"""The public addresses of the web archive (DESIGN §6.5), built in one place.

Mail headers (``List-Archive``, ``Archived-At``), room answers, digests, feeds, search results and the
catalogue all link into the archive; building every URL here keeps them identical everywhere and lets
a change of path happen once. A thread is addressed by its numeric id, the same id ``icop search``
prints, so a link and a command line name the same thread.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlencode


def _root(base_url: str) -> str:
    return str(base_url).rstrip("/")


def community_url(base_url: str, slug: str) -> str:
    """The community's recent threads: ``/c/SLUG/``."""
    return f"{_root(base_url)}/c/{quote(slug, safe='')}/"


def thread_url(base_url: str, slug: str, thread_id: int) -> str:
    """One thread, both channels interleaved: ``/c/SLUG/t/THREAD``."""
    return f"{community_url(base_url, slug)}t/{int(thread_id)}"


def tag_url(base_url: str, slug: str, tag: str) -> str:
    """The threads filed under a tag: ``/c/SLUG/tag/TAG``."""
    return f"{community_url(base_url, slug)}tag/{quote(tag, safe='')}"


def feed_url(base_url: str, slug: str, tag: str | None = None) -> str:
    """The Atom feed of new threads and practices: ``/c/SLUG/feed.atom``, or ``/c/SLUG/tag/TAG/feed.atom``
    for one tag. Members-only communities add a per-reader ``?key=``."""
    return (
        f"{tag_url(base_url, slug, tag) + '/' if tag is not None else community_url(base_url, slug)}feed.atom"
    )


def search_url(base_url: str, slug: str, query: str) -> str:
    """A search in the community: ``/c/SLUG/search?q=QUERY``."""
    return f"{community_url(base_url, slug)}search?{urlencode({'q': query})}"


def practices_url(base_url: str, slug: str) -> str:
    """The practice catalogue: ``/c/SLUG/practices``."""
    return f"{community_url(base_url, slug)}practices"


def subscribe_url(base_url: str, slug: str) -> str:
    """The subscription page: ``/c/SLUG/subscribe``."""
    return f"{community_url(base_url, slug)}subscribe"


def report_url(base_url: str, slug: str, first: date | None = None, last: date | None = None) -> str:
    """The value indicators, for conveners and core team: ``/c/SLUG/report``, or the report of the days
    ``first`` to ``last`` (both included, UTC): ``/c/SLUG/report?from=YYYY-MM-DD&to=YYYY-MM-DD``."""
    url = f"{community_url(base_url, slug)}report"
    if first is None or last is None:
        return url
    return f"{url}?{urlencode({'from': first.isoformat(), 'to': last.isoformat()})}"


def report_data_url(base_url: str, slug: str, kind: str, first: date, last: date) -> str:
    """The report's figures as ``icop report`` prints them: ``/c/SLUG/report.json`` or ``report.csv``,
    for the days ``first`` to ``last`` (both included, UTC)."""
    query = urlencode({"from": first.isoformat(), "to": last.isoformat()})
    return f"{community_url(base_url, slug)}report.{kind}?{query}"


def about_url(base_url: str, slug: str) -> str:
    """What the community is, who convenes it and how to take part: ``/c/SLUG/about``."""
    return f"{community_url(base_url, slug)}about"


def login_url(base_url: str) -> str:
    """Where a visitor asks for a sign-in link: ``/login``."""
    return f"{_root(base_url)}/login"
