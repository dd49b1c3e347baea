"""``!icop search QUERY`` in the room: the archive's best threads for the query, with their links.

Any member who takes part may search (the archive holds what members wrote); the query language is
DESIGN §6.4, parsed by ``bridge.core.query`` when the search runs, so a malformed query is answered with
the position of its mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.core.commands.base import CommandError, CommandSpec, Permission


@dataclass(frozen=True, slots=True)
class SearchCommand:
    query: str


def _search(rest: str) -> SearchCommand | CommandError:
    query = rest.strip()
    if not query:
        return SEARCH.error("`!icop search` needs a query, e.g. `!icop search risk register from:ana`.")
    return SearchCommand(query)


SEARCH = CommandSpec(
    "search",
    "!icop search QUERY",
    'search the archive: words, "phrases", -word, OR, from:, tag:, before:/after:',
    Permission.MEMBERS,
    _search,
)
SPECS = (SEARCH,)
