"""Filing posts in the archive: tags and practice proposals, in the transaction that stores the post.

``ArchiveFiling`` is what ingest (live or imported), an approval, an edit and a deletion call. It reads
the post with the core's rules (``bridge.core.tags``) and writes the outcome through the repositories,
joining the caller's transaction, so a post is never stored without its tags nor its tags without the
post. What people are told goes through the outbox in the same transaction (``bridge.relay.notices``):
a proposed practice (the room, in the thread; core members who only use mail, by mail) and the tags a
new thread's keywords suggest (the room, in the thread, under ``keyword_tags = "offer"``).

A post carrying ``#story`` tells a value story: it is kept beside the post (``bridge.store.stories``),
cited to the thread its words link to, else its own; an edit retells or withdraws it, a deletion
withdraws it.

A core member's mail may start with ``Tags:`` / ``Practice:`` lines (``mail_lines``): they are taken
out of the text before it is stored and relayed, and obeyed as the room commands would be.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from bridge.core.commands import Permission, permits
from bridge.core.model import Channel, DeliveryKind, DeliverySpec, InboundMessage, Recipient, TagSource
from bridge.core.stories import cited_thread, story_words
from bridge.core.tags.filing import (
    AUTOMATIC_SOURCES,
    FiledTag,
    KeywordMode,
    PostTags,
    edit_changes,
    read_post_tags,
)
from bridge.core.tags.mail_lines import MailCommands, read_mail_commands
from bridge.core.tags.taxonomy import Suggestion
from bridge.formatting.tag_text import readable_text, strip_leading_lines
from bridge.relay.community import CommunityContext
from bridge.store import NewStory, NewTag, PostRecord, Store, TagUsage, Transaction
from bridge.store.outbox import create_deliveries

log = logging.getLogger(__name__)

PRACTICE_NOTICE = 2
"""Notice revision (``bridge.relay.notices``): the thread of this post was proposed as a practice."""
SUGGESTION_NOTICE = 3
"""Notice revision: the taxonomy's keywords suggest tags for the thread this post started."""


@dataclass(frozen=True, slots=True)
class Writing:
    """The words of a post the filing reads: its text, sanitised HTML, subject and author (the
    address, and the name, person and channel a story is kept with)."""

    text: str
    html: str | None
    subject: str | None
    author: str
    author_name: str = ""
    channel: Channel = Channel.EMAIL
    author_id: int | None = None

    @classmethod
    def of_message(cls, message: InboundMessage, author_id: int | None = None) -> Writing:
        return cls(
            message.text,
            message.html,
            message.subject,
            message.sender_address,
            message.sender_name,
            message.channel,
            author_id,
        )

    @classmethod
    def of_post(cls, post: PostRecord) -> Writing:
        return cls(
            post.text,
            post.html,
            post.subject,
            post.author_address,
            post.author_name,
            post.origin_channel,
            post.author_id,
        )

    def body(self) -> str:
        """The author's words: HTML says best what is code or a quote, when there is HTML."""
        return readable_text(self.html) if self.html else self.text


@dataclass(frozen=True, slots=True)
class Filed:
    """What filing one post did (for the log and for answers)."""

    tagged: tuple[str, ...] = ()  # names new on the thread
    untagged: tuple[str, ...] = ()
    proposed: bool = False
    confirmed: bool = False
    notices: int = 0  # outbox rows queued to tell people
    story: bool = False  # the post tells a value story, now kept


def take_mail_commands(
    message: InboundMessage, author: Recipient | None
) -> tuple[InboundMessage, MailCommands]:
    """A core member's mail without its leading ``Tags:``/``Practice:`` lines, and what they ask.

    Anyone else's mail is left as written: the lines are then part of what they said.
    """
    none = MailCommands(text=message.text)
    if message.channel is not Channel.EMAIL or author is None:
        return message, none
    if not permits(Permission.CORE_TEAM, author.role, author.state):
        return message, none
    commands = read_mail_commands(message.text)
    if not commands.any:
        return message, none
    full = read_mail_commands(message.full_text) if message.full_text else None
    return (
        replace(
            message,
            text=commands.text,
            html=strip_leading_lines(message.html, commands.taken) if message.html else None,
            full_text=full.text if full is not None and full.taken == commands.taken else message.full_text,
        ),
        commands,
    )


def read_tags(community: CommunityContext, writing: Writing, thread_subject: str | None) -> PostTags:
    """The core's reading of a post with its community's taxonomy and keyword choice."""
    return read_post_tags(
        writing.body(),
        community.taxonomy,
        subject=writing.subject,
        thread_subject=thread_subject,
        list_prefixes=[community.config.prefix],
        keywords=community.keyword_mode,
    )


def suggestions(community: CommunityContext, writing: Writing) -> list[Suggestion]:
    """The tags the taxonomy's keywords suggest for the thread a post starts, as it reads now."""
    return list(
        read_post_tags(
            writing.body(),
            community.taxonomy,
            subject=writing.subject,
            list_prefixes=[community.config.prefix],
            keywords=KeywordMode.OFFER,
        ).suggested
    )


async def tag_overview(store: Store, community: CommunityContext) -> list[TagUsage]:
    """The community's tags as people should see them: every taxonomy tag (with the config's label,
    used or not) and every free tag in use, most used first."""
    usage = {u.name: u for u in await store.tags.usage(community.id)}
    for definition in community.taxonomy.definitions:
        found = usage.get(definition.tag)
        usage[definition.tag] = TagUsage(
            definition.tag,
            definition.label,
            definition.description,
            found.threads if found else 0,
            found.practices if found else 0,
        )
    listed = [u for u in usage.values() if u.threads or community.taxonomy.definition(u.name)]
    return sorted(listed, key=lambda u: (-u.threads, u.name))


class ArchiveFiling:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def file_new_post(
        self,
        community: CommunityContext,
        *,
        post_id: int,
        thread_id: int,
        new_thread: bool,
        writing: Writing,
        now: datetime,
        tx: Transaction,
        commands: MailCommands | None = None,
        notify: bool = True,
    ) -> Filed:
        """File a visible post just stored (or just approved) in ``tx``; ``notify`` False (an import:
        history is never announced) files tags and proposals without telling anyone."""
        # The thread's subject matters for a reply's [tags], a proposal's title and a Practice: line;
        # most posts need none of them, and ingest is the relay's hot path.
        needs_subject = (writing.subject and not new_thread) or (commands is not None and commands.any)
        subject = await self._subject(thread_id, tx) if needs_subject else ""
        found = read_tags(community, writing, None if new_thread else subject)
        tagged = await self.store.tags.file_post(
            community.id,
            thread_id,
            post_id,
            self._new_tags(community, found.tags, writing.author),
            now=now,
            tx=tx,
        )
        filed = Filed(tagged=tuple(tagged))
        if commands is not None and commands.any:
            filed = await self._obey(community, thread_id, subject, commands, writing.author, now, tx, filed)
        if found.practice and not filed.confirmed:
            title = subject or await self._subject(thread_id, tx)
            proposed = await self.store.practices.propose(
                community.id, thread_id, title, writing.author, now=now, tx=tx
            )
            if proposed and notify:
                told = await self._tell_core_team(community, post_id, now, tx)
                filed = replace(filed, proposed=True, notices=told)
        if notify and new_thread and found.suggested and community.room_id:
            notice = DeliverySpec(Channel.MATRIX, community.room_id, DeliveryKind.NOTICE)
            await create_deliveries(post_id, [notice], revision=SUGGESTION_NOTICE, now=now, tx=tx)
            filed = replace(filed, notices=filed.notices + 1)
        if found.story:
            told = await self._keep_story(community, post_id, thread_id, writing, now, tx)
            filed = replace(filed, story=told)
        return filed

    async def obey(
        self,
        community: CommunityContext,
        thread_id: int,
        commands: MailCommands,
        author: str,
        *,
        now: datetime,
        tx: Transaction,
    ) -> Filed:
        """A core member's mail that holds only ``Tags:``/``Practice:`` lines: obeyed on the thread it
        answers; there is no post to store or relay."""
        subject = await self._subject(thread_id, tx)
        return await self._obey(community, thread_id, subject, commands, author, now, tx, Filed())

    async def refile_edit(
        self,
        community: CommunityContext,
        post: PostRecord,
        *,
        text: str,
        html: str | None,
        now: datetime,
        tx: Transaction,
    ) -> Filed:
        """An edit re-reads the post: a hashtag removed takes back what it filed (not what a person
        filed), one added files, ``#practice`` added proposes and removed withdraws the proposal."""
        before = read_tags(community, Writing.of_post(post), None)
        after = read_tags(community, replace(Writing.of_post(post), text=text, html=html), None)
        changes = edit_changes(before, after)
        untagged = await self.store.tags.unfile_post(post.thread_id, post.id, changes.removed, tx=tx)
        tagged = await self.store.tags.file_post(
            community.id,
            post.thread_id,
            post.id,
            self._new_tags(community, changes.added, post.author_address),
            now=now,
            tx=tx,
        )
        filed = Filed(tuple(tagged), tuple(untagged))
        if changes.practice_added:
            title = await self._subject(post.thread_id, tx)
            if await self.store.practices.propose(
                community.id, post.thread_id, title, post.author_address, now=now, tx=tx
            ):
                told = await self._tell_core_team(community, post.id, now, tx)
                filed = replace(filed, proposed=True, notices=told)
        elif changes.practice_removed:
            await self.store.practices.withdraw(post.thread_id, proposed_by=post.author_address, tx=tx)
        if after.story:
            edited = replace(Writing.of_post(post), text=text, html=html)
            words = story_words(edited.body())
            cited = await self._cited(community, edited, post.thread_id, tx)
            if not await self.store.stories.retell(post.id, words, cited, now=now, tx=tx):
                await self._keep_story(community, post.id, post.thread_id, edited, now, tx)
            filed = replace(filed, story=True)
        elif before.story:
            await self.store.stories.withdraw(post.id, tx=tx)
        return filed

    async def unfile_deleted(self, post: PostRecord, *, tx: Transaction) -> Filed:
        """A deleted post takes back what its text filed, and its author's practice proposal."""
        names = [t.name for t in await self.store.tags.of_post(post.id) if t.source in AUTOMATIC_SOURCES]
        untagged = await self.store.tags.unfile_post(post.thread_id, post.id, names, tx=tx)
        await self.store.practices.withdraw(post.thread_id, proposed_by=post.author_address, tx=tx)
        await self.store.stories.withdraw(post.id, tx=tx)
        return Filed(untagged=tuple(untagged))

    async def _keep_story(
        self,
        community: CommunityContext,
        post_id: int,
        thread_id: int,
        writing: Writing,
        now: datetime,
        tx: Transaction,
    ) -> bool:
        """Keep the value story a post tells, cited to the thread its words link to, else its own."""
        story = NewStory(
            community_id=community.id,
            thread_id=await self._cited(community, writing, thread_id, tx),
            post_id=post_id,
            author_id=writing.author_id,
            author_name=writing.author_name or writing.author,
            author_address=writing.author,
            channel=writing.channel,
            text=story_words(writing.body()),
        )
        kept = await self.store.stories.record(story, now=now, tx=tx)
        if kept:
            log.info(
                "value story kept",
                extra={"community": community.slug, "post": post_id, "thread_id": story.thread_id},
            )
        return kept

    async def _cited(
        self, community: CommunityContext, writing: Writing, thread_id: int, tx: Transaction
    ) -> int:
        """The thread a story's words link to, when it is one of this community's; else its own."""
        cited = cited_thread(writing.text, community.slug, thread_id)
        if cited != thread_id:
            thread = await self.store.posts.thread(cited, tx=tx)
            if thread is None or thread.community_id != community.id:
                return thread_id
        return cited

    async def _subject(self, thread_id: int, tx: Transaction) -> str:
        thread = await self.store.posts.thread(thread_id, tx=tx)
        return thread.subject if thread is not None else ""

    def _new_tags(self, community: CommunityContext, tags: tuple[FiledTag, ...], author: str) -> list[NewTag]:
        return [
            NewTag(
                name=tag.name,
                source=tag.source,
                label=community.taxonomy.label(tag.name)
                if community.taxonomy.definition(tag.name)
                else tag.written,
                applied_by=None if tag.source is TagSource.KEYWORD else author,
            )
            for tag in tags
        ]

    async def _obey(
        self,
        community: CommunityContext,
        thread_id: int,
        subject: str,
        commands: MailCommands,
        author: str,
        now: datetime,
        tx: Transaction,
        filed: Filed,
    ) -> Filed:
        taxonomy = community.taxonomy
        add = [
            NewTag(
                name,
                TagSource.MAIL_COMMAND,
                label=taxonomy.label(name) if taxonomy.definition(name) else w,
                applied_by=author,
            )
            for w in commands.add
            if (name := taxonomy.resolve(w)) is not None
        ]
        remove = [name for w in commands.remove if (name := taxonomy.resolve(w)) is not None]
        tagged = await self.store.tags.tag_thread(community.id, thread_id, add, now=now, tx=tx)
        untagged = (
            await self.store.tags.untag_thread(thread_id, remove, by=author, now=now, tx=tx) if remove else []
        )
        confirmed = False
        if commands.practice is not None:
            await self.store.practices.confirm(
                community.id, thread_id, commands.practice or subject, author, now=now, tx=tx
            )
            confirmed = True
        log.info(
            "mail commands obeyed",
            extra={
                "community": community.slug,
                "thread_id": thread_id,
                "by": author,
                "tagged": ",".join(tagged),
                "untagged": ",".join(untagged),
                "practice": confirmed,
            },
        )
        return Filed(
            tuple(dict.fromkeys([*filed.tagged, *tagged])), tuple(untagged), filed.proposed, confirmed
        )

    async def _tell_core_team(
        self, community: CommunityContext, post_id: int, now: datetime, tx: Transaction
    ) -> int:
        """The room (in the thread) and, by mail, the core members who do not chat."""
        specs = []
        if community.room_id:
            specs.append(DeliverySpec(Channel.MATRIX, community.room_id, DeliveryKind.NOTICE))
        for member in await self.store.communities.recipients(community.id):
            if (
                permits(Permission.CORE_TEAM, member.role, member.state)
                and member.email
                and not member.matrix_id
            ):
                specs.append(
                    DeliverySpec(
                        Channel.EMAIL, member.email, DeliveryKind.NOTICE, membership_id=member.membership_id
                    )
                )
        await create_deliveries(post_id, specs, revision=PRACTICE_NOTICE, now=now, tx=tx)
        return len(specs)
