"""The store: tortoise models behind small repositories, committed migrations, SQLite or PostgreSQL.

``Store`` bundles the repositories of one open ``Database`` for the composition root; each repository
can also be built on its own from the database.
"""

from __future__ import annotations

from bridge.store.archive import Archive
from bridge.store.communities import Communities
from bridge.store.database import Database, DatabaseOpenError, DatabaseUrlError, Dialect, Transaction
from bridge.store.digests import DigestRecord, Digests, FeedbackCounts
from bridge.store.keyvalue import Cursors, Settings
from bridge.store.meetings import MeetingReminders, ReminderRecord
from bridge.store.migrations import SchemaTooNewError, current_version, latest_version, upgrade
from bridge.store.outbox import Outbox, RetryPolicy
from bridge.store.overview import CommunityOverview, Overviews, TeamMember
from bridge.store.parked import NewParked, ParkedMessages, ParkedRecord
from bridge.store.posts import Posts
from bridge.store.practices import CatalogueEntry, PracticeRecord, Practices
from bridge.store.reactions import Reactions
from bridge.store.records import (
    CommunityRecord,
    IngestResult,
    MemberRecord,
    NewThread,
    OutboxEntry,
    PersonRecord,
    PostRecord,
    PostRef,
    RawMessage,
    RosterSync,
    ThreadRecord,
)
from bridge.store.report_mails import ReportMailRecord, ReportMails, TeamRecipient
from bridge.store.search import Search, SearchHit
from bridge.store.stories import NewStory, Stories, StoryRecord
from bridge.store.subscriptions import ReaderRecord, RequestOutcome, SettingsChange, Subscriptions
from bridge.store.tags import AppliedTag, NewTag, Tags, TagUsage
from bridge.store.web_sessions import WebSessions
from bridge.store.welcomes import WelcomeRecord, Welcomes


class Store:
    """Every repository over one database."""

    def __init__(self, db: Database, *, retry_policy: RetryPolicy | None = None) -> None:
        self.db = db
        self.communities = Communities(db)
        self.posts = Posts(db)
        self.reactions = Reactions(db)
        self.outbox = Outbox(db, retry_policy)
        self.cursors = Cursors(db)
        self.digests = Digests(db)
        self.subscriptions = Subscriptions(db)
        self.settings = Settings(db)
        self.tags = Tags(db)
        self.practices = Practices(db)
        self.archive = Archive(db)
        self.web_sessions = WebSessions(db)
        self.parked = ParkedMessages(db)
        self.search = Search(db)
        self.stories = Stories(db)
        self.meetings = MeetingReminders(db)
        self.welcomes = Welcomes(db)
        self.overviews = Overviews(db)
        self.report_mails = ReportMails(db)


__all__ = [
    "AppliedTag",
    "Archive",
    "CatalogueEntry",
    "Communities",
    "CommunityOverview",
    "CommunityRecord",
    "Cursors",
    "Database",
    "DatabaseOpenError",
    "DatabaseUrlError",
    "Dialect",
    "DigestRecord",
    "Digests",
    "FeedbackCounts",
    "IngestResult",
    "MeetingReminders",
    "MemberRecord",
    "NewParked",
    "NewStory",
    "NewTag",
    "NewThread",
    "Outbox",
    "OutboxEntry",
    "Overviews",
    "ParkedMessages",
    "ParkedRecord",
    "PersonRecord",
    "PostRecord",
    "PostRef",
    "Posts",
    "PracticeRecord",
    "Practices",
    "RawMessage",
    "Reactions",
    "ReaderRecord",
    "ReminderRecord",
    "ReportMailRecord",
    "ReportMails",
    "RequestOutcome",
    "RetryPolicy",
    "RosterSync",
    "SchemaTooNewError",
    "Search",
    "SearchHit",
    "Settings",
    "SettingsChange",
    "Store",
    "Stories",
    "StoryRecord",
    "Subscriptions",
    "TagUsage",
    "Tags",
    "TeamMember",
    "TeamRecipient",
    "ThreadRecord",
    "Transaction",
    "WebSessions",
    "WelcomeRecord",
    "Welcomes",
    "current_version",
    "latest_version",
    "upgrade",
]
