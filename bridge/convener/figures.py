"""The value indicators as people read them: a name, the figure in words, the period before, the definition.

``icop report`` prints raw keys for scripts; the report page and the monthly mail show the same figures to
conveners and core team, who should not need the README beside them. Both read this module, so a figure
is named and written the same way everywhere. Channel ``matrix`` is called *chat*, as everywhere people
read the archive. Nothing here is money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.convener.report import CYCLE_TITLES
from bridge.core.indicators import CYCLES_NEEDING_STORIES, DEFINITIONS, Report, ValueCycle

LABELS: dict[str, str] = {
    "posts": "Posts",
    "threads": "Threads started",
    "participants": "Participants",
    "new_participants": "New participants",
    "by_channel": "Posts per channel",
    "cross_channel_replies": "Replies across channels",
    "median_first_response_hours": "Time to a first answer (median)",
    "unanswered_threads": "Threads still unanswered",
    "practices": "Practices confirmed",
    "tags": "Threads per tag",
    "regions": "Participants per region",
    "readers": "Digest readers",
    "engaged_share": "Members taking part",
    "newcomer_return": "Newcomers who came back",
    "concentration": "People who wrote half the posts",
    "lapsed_contributors": "Contributors gone quiet",
    "reuse": "Knowledge reused",
    "cross_region_replies": "Replies across regions",
    "digest_usefulness": "Digests found useful",
    "stories": "Value stories",
}

CHANNEL_NAMES = {"email": "email", "matrix": "chat"}
CURRENT_ONLY = frozenset({"readers"})
"""Figures about now rather than about a period: no comparison with the period before."""
SCALARS = frozenset(
    {
        "posts",
        "threads",
        "participants",
        "new_participants",
        "cross_channel_replies",
        "median_first_response_hours",
        "unanswered_threads",
        "practices",
        "readers",
        "engaged_share",
        "lapsed_contributors",
        "reuse",
        "cross_region_replies",
        "stories",
    }
)


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    label: str
    value: str
    previous: str | None  # the same figure over the period before, None where it makes no sense
    change: str | None  # "+3", "−1.5" for numbers that changed; None otherwise
    definition: str


@dataclass(frozen=True, slots=True)
class CycleSection:
    cycle: ValueCycle
    title: str
    figures: tuple[Figure, ...]
    needs_stories: bool


def percent(share: object) -> str:
    return f"{round(float(share) * 100)} %" if isinstance(share, int | float) else "–"


def _count(value: object, one: str, many: str) -> str:
    return f"{value} {one if value == 1 else many}"


def readable(key: str, value: object) -> str:
    """One figure in words: ``3.5 h``, ``67 %``, ``3 of 5 came back (60 %)``, ``email 12, chat 4``."""
    if value is None:
        return "–"
    if key == "median_first_response_hours":
        return f"{_number(value)} h"
    if key == "engaged_share":
        return percent(value)
    if isinstance(value, Mapping):
        return _readable_parts(key, value)
    return _number(value)


def _readable_parts(key: str, value: Mapping[str, object]) -> str:
    if key == "newcomer_return":
        if not value.get("newcomers"):
            return "no newcomers"
        return f"{value['returned']} of {value['newcomers']} came back ({percent(value['share'])})"
    if key == "concentration":
        people = value.get("people_for_half") or 0
        if not people:
            return "no posts"
        share = percent(value.get("share_of_participants"))
        return f"{_count(people, 'person', 'people')} ({share} of the participants)"
    if key == "digest_usefulness":
        answers = int(str(value.get("useful", 0))) + int(str(value.get("not_useful", 0)))
        if not answers:
            return "no answers yet"
        return f"{value['useful']} of {_count(answers, 'answer', 'answers')} ({percent(value['share'])})"
    if key == "by_channel":
        return ", ".join(f"{CHANNEL_NAMES.get(k, k)} {v}" for k, v in value.items())
    return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def change(key: str, now: object, before: object) -> str | None:
    """``+3`` or ``−1.5`` between two numeric figures (a share in percentage points); None when
    either is missing, they are equal, or the figure is not a number."""
    if key not in SCALARS or key in CURRENT_ONLY:
        return None
    if not isinstance(now, int | float) or not isinstance(before, int | float) or now == before:
        return None
    difference = now - before
    if key == "engaged_share":
        return f"{'+' if difference > 0 else '−'}{round(abs(difference) * 100)} points"
    return f"{'+' if difference > 0 else '−'}{_number(abs(difference))}"


def sections(report: Report, previous: Report | None = None) -> list[CycleSection]:
    """The figures grouped by value cycle, in the order of ``DEFINITIONS``; the cycles counts cannot
    show (applied, realized, reframing value) say so."""
    found: list[CycleSection] = []
    for cycle in ValueCycle:
        figures = []
        for key, (figure_cycle, definition) in DEFINITIONS.items():
            if figure_cycle is not cycle or key not in report.values:
                continue
            now = report.values[key]
            before = previous.values.get(key) if previous is not None and key not in CURRENT_ONLY else None
            compared = previous is not None and key not in CURRENT_ONLY
            figures.append(
                Figure(
                    key=key,
                    label=LABELS.get(key, key),
                    value=readable(key, now),
                    previous=readable(key, before) if compared else None,
                    change=change(key, now, before) if compared else None,
                    definition=definition,
                )
            )
        found.append(
            CycleSection(cycle, CYCLE_TITLES[cycle], tuple(figures), cycle in CYCLES_NEEDING_STORIES)
        )
    return found
