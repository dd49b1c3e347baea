"""``!icop practice``, ``!icop summary`` and ``!icop unpractice`` in a thread, for the core team.

The answers link to the thread in the archive, the page a reader of the catalogue lands on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bridge.core.commands.practices import PracticeCommand, SummaryCommand, UnpracticeCommand
from bridge.core.links import thread_url
from bridge.core.model import PracticeState
from bridge.relay.room_commands import NOT_IN_A_THREAD, CommandRequest


class PracticeCommands:
    commands: tuple[type, ...] = (PracticeCommand, SummaryCommand, UnpracticeCommand)

    def __init__(self, base_url: str, clock: Callable[[], datetime]) -> None:
        self.base_url = base_url
        self.clock = clock

    async def answer(self, request: CommandRequest) -> str:
        thread_id = await request.thread_id()
        if thread_id is None:
            return NOT_IN_A_THREAD
        store, community, command = request.store, request.community, request.command
        url = thread_url(self.base_url, community.slug, thread_id)
        existing = await store.practices.of_thread(thread_id)
        if isinstance(command, PracticeCommand):
            thread = await store.posts.thread(thread_id)
            title = (
                command.title or (existing.title if existing else "") or (thread.subject if thread else "")
            )
            practice, new = await store.practices.confirm(
                community.id, thread_id, title, request.by, now=self.clock()
            )
            if not new:
                return f"Renamed this practice: “{practice.title}”. {url}"
            hint = "" if practice.summary else " `!icop summary TEXT` writes its summary for the catalogue."
            return (
                f"This thread is now a practice of {community.config.name}: “{practice.title}”.{hint} {url}"
            )
        if isinstance(command, SummaryCommand):
            if existing is None:
                return "This thread is not a practice yet: `!icop practice TITLE` makes it one."
            rewritten = bool(existing.summary)
            await store.practices.set_summary(thread_id, command.text, now=self.clock(), by=request.by)
            state = "" if existing.state is PracticeState.CONFIRMED else " It is still only proposed."
            return f"{'Rewrote' if rewritten else 'Wrote'} the summary of “{existing.title}”.{state} {url}"
        assert isinstance(command, UnpracticeCommand)
        if existing is None or not await store.practices.withdraw(thread_id, by=request.by):
            return "This thread is not a practice."
        return f"“{existing.title}” is no longer a practice (the thread and its tags stay)."
