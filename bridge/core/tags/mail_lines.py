"""Command lines at the top of a mail from the core team: ``Tags:`` and ``Practice:``.

A convener or core member who answers by mail files the thread the way a room command would:

    Tags: estimation, risk -budget
    Practice: Planning poker for distributed teams

    The reply itself starts here…

Only the first lines of the new text count (the quoted history is already cut), each ``Name: value``;
the first line of another kind ends them. ``Tags:`` (or ``Tag:``) takes tags separated by commas or
spaces, ``#`` optional, ``-tag`` to remove one. ``Practice:`` confirms the thread as a practice, with
this title (empty: the thread's subject). The lines are taken out of the text that is relayed: they
are addressed to the bridge, not to the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^\s*(?P<name>tags?|practice)\s*:(?P<value>.*)$", re.IGNORECASE)
_TAG_SPLIT = re.compile(r"[\s,;]+")
MAX_LINES = 4


@dataclass(frozen=True, slots=True)
class MailCommands:
    """What the leading lines ask; ``taken`` is how many command lines there were, ``text`` the text
    after them (and after the blank lines that followed them)."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    practice: str | None = None  # a title ("" for the thread's subject); None: not asked
    taken: int = 0
    text: str = ""

    @property
    def any(self) -> bool:
        return bool(self.add or self.remove or self.practice is not None)


def read_mail_commands(text: str) -> MailCommands:
    """The ``Tags:``/``Practice:`` lines at the top of ``text``, and the text without them."""
    lines = text.splitlines()
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    add: list[str] = []
    remove: list[str] = []
    practice: str | None = None
    taken = 0
    while index < len(lines) and taken < MAX_LINES:
        match = _LINE.match(lines[index])
        if match is None:
            break
        value = match["value"].strip()
        if match["name"].lower().startswith("tag"):
            for word in _TAG_SPLIT.split(value):
                word = word.strip()
                if word.startswith("-") and word.strip("-#"):
                    remove.append(word.lstrip("-").lstrip("#"))
                elif word.strip("#-"):
                    add.append(word.lstrip("#"))
        else:
            practice = " ".join(value.split())
        index += 1
        taken += 1
    if not taken:
        return MailCommands(text=text)
    while index < len(lines) and not lines[index].strip():
        index += 1
    return MailCommands(tuple(add), tuple(remove), practice, taken, "\n".join(lines[index:]))
