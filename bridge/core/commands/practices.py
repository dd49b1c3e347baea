"""Practice commands, sent as a reply in the thread they concern, for the core team:
``!icop practice [TITLE]`` makes the thread a confirmed practice (without a title: the proposal's, else
the thread's subject; again with a title: renamed), ``!icop summary TEXT`` writes its summary (again:
rewrites it), ``!icop unpractice`` withdraws it. Anyone proposes a thread with ``#practice`` in a post.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.core.commands.base import CommandError, CommandSpec, Permission

MAX_TITLE = 200


@dataclass(frozen=True, slots=True)
class PracticeCommand:
    title: str | None = None


@dataclass(frozen=True, slots=True)
class SummaryCommand:
    text: str


@dataclass(frozen=True, slots=True)
class UnpracticeCommand:
    pass


def _practice(rest: str) -> PracticeCommand | CommandError:
    title = " ".join(rest.split())
    if len(title) > MAX_TITLE:
        return PRACTICE.error(f"A practice's title has at most {MAX_TITLE} characters.")
    return PracticeCommand(title or None)


def _summary(rest: str) -> SummaryCommand | CommandError:
    text = "\n".join(line.rstrip() for line in rest.strip().splitlines())
    if not text:
        return SUMMARY.error("`!icop summary` needs the summary's text.")
    return SummaryCommand(text)


def _unpractice(rest: str) -> UnpracticeCommand | CommandError:
    if rest.strip():
        return UNPRACTICE.error("`!icop unpractice` takes no arguments.")
    return UnpracticeCommand()


PRACTICE = CommandSpec(
    "practice",
    "!icop practice [TITLE]",
    "in a thread: make it a confirmed practice with this title",
    Permission.CORE_TEAM,
    _practice,
)
SUMMARY = CommandSpec(
    "summary",
    "!icop summary TEXT",
    "in a practice's thread: write its summary for the catalogue",
    Permission.CORE_TEAM,
    _summary,
)
UNPRACTICE = CommandSpec(
    "unpractice",
    "!icop unpractice",
    "in a practice's thread: withdraw it from the practices",
    Permission.CORE_TEAM,
    _unpractice,
)
SPECS = (PRACTICE, SUMMARY, UNPRACTICE)
