"""``[tag]`` in a mail subject: the list convention older than hashtags.

Only the bracketed words at the front of the subject count (``[estimation] How do you size work?``),
after any ``Re:``/``Fwd:`` markers and without the list's own prefix (``[pm-practice]`` names the list,
not a topic). A group may hold several tags (``[estimation, risk]``); a group with spaces in a tag
(``[Project Kickoff]``) is a title, not a tag, and is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bridge.core.subjects import parse_subject
from bridge.core.tags.names import fold_tag, is_tag_name

_GROUP = re.compile(r"\[([^\[\]]*)\]\s*")
_SPLIT = re.compile(r"\s*[,;/|]\s*")


def tags_in_subject(subject: str | None, list_prefixes: Iterable[str] = ()) -> list[str]:
    """The tags the subject's leading ``[…]`` groups name, as written, each tag once."""
    rest = parse_subject(subject, list_prefixes).base
    found: list[str] = []
    seen: set[str] = set()
    while (group := _GROUP.match(rest)) is not None:
        rest = rest[group.end() :]
        words = [w.strip().lstrip("#") for w in _SPLIT.split(group[1].strip()) if w.strip()]
        if not words or any(" " in w for w in words):
            continue
        for word in words:
            name = fold_tag(word)
            if is_tag_name(name) and name not in seen:
                seen.add(name)
                found.append(word)
    return found
