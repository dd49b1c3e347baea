"""The typed config schema: every key a convener may write, its default and what it means.

The core keys are a contract (DESIGN §6) that deployment scripts write; keys beyond them are documented
here and in ``config/example.toml``. Unknown keys are errors, so a typo never silently does nothing.
Secrets are never values here, only references: ``*_env`` names an environment variable, ``*_file`` a file.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.config import validators
from bridge.core.meeting_series import Cadence, MeetingSeries
from bridge.core.tags.taxonomy import TagDefinition, Taxonomy

EmailAddress = Annotated[str, AfterValidator(validators.email_address)]
MatrixUserId = Annotated[str, AfterValidator(validators.matrix_user_id)]
MatrixRoom = Annotated[str, AfterValidator(validators.matrix_room)]
TimeZone = Annotated[str, AfterValidator(validators.time_zone)]
Slug = Annotated[str, AfterValidator(validators.slug)]
HttpUrl = Annotated[str, AfterValidator(validators.http_url)]
BindAddress = Annotated[str, AfterValidator(validators.bind_address)]
Network = Annotated[str, AfterValidator(validators.network)]
Port = Annotated[int, Field(gt=0, lt=65536)]
Seconds = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """Base of every config table: unknown keys are errors and field docstrings are the documentation."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


DATABASE_SCHEMES = ("sqlite://", "postgres://", "postgresql://")


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot name a store, or None (the same rule for the config and ICOP_DATABASE_URL)."""
    if url.startswith(DATABASE_SCHEMES):
        return None
    return f"database url {url!r} must start with sqlite://, postgres:// or postgresql://"


class DatabaseConfig(Section):
    url: str = "sqlite://var/icop.sqlite3"
    """``sqlite://PATH`` (relative to the config file's folder) or ``postgres://user@host:port/db``.
    The environment variable ICOP_DATABASE_URL overrides it."""

    @model_validator(mode="after")
    def _known_scheme(self) -> DatabaseConfig:
        problem = database_url_problem(self.url)
        if problem:
            raise ValueError(problem)
        return self


class MatrixConfig(Section):
    homeserver: HttpUrl
    """Client-server API base URL of the homeserver, e.g. https://matrix.example.com."""
    user_id: MatrixUserId
    """The bridge's own Matrix account, e.g. @icop:example.com."""
    access_token_env: str | None = None
    """Environment variable holding an access token for user_id."""
    access_token_file: str | None = None
    """File holding an access token for user_id."""
    password_env: str | None = None
    """Environment variable holding the password; used once to log in, the token is kept in the store."""
    password_file: str | None = None
    """File holding the password (see password_env)."""
    device_name: str = "icop-bridge"
    """Device display name used when logging in with a password."""
    sync_timeout_seconds: Seconds = 30
    """Long-poll timeout of each /sync request."""

    @model_validator(mode="after")
    def _one_credential(self) -> MatrixConfig:
        refs = [
            self.access_token_env,
            self.access_token_file,
            self.password_env,
            self.password_file,
        ]
        if not any(refs):
            raise ValueError(
                "give one credential: access_token_env, access_token_file, password_env or password_file"
            )
        return self


Security = Literal["tls", "starttls", "none"]


class ImapConfig(Section):
    host: str
    """IMAP server of the mailbox that receives every list address."""
    port: Port | None = None
    """Defaults to 993 with security = "tls", else 143."""
    security: Security = "tls"
    """tls (implicit TLS), starttls, or none (only on a trusted network such as 127.0.0.1)."""
    user: str
    """Login name of the mailbox."""
    password_env: str | None = None
    """Environment variable holding the IMAP password."""
    password_file: str | None = None
    """File holding the IMAP password."""
    mailbox: str = "INBOX"
    """Folder to read list mail from."""
    idle: bool = True
    """Use IMAP IDLE when the server offers it; otherwise poll."""
    poll_interval_seconds: Seconds = 60
    """How often to poll when IDLE is off or unavailable."""
    processed: Literal["flag", "move"] = "flag"
    """What to do with a message once its post is stored: set the \\Seen flag or move it."""
    processed_mailbox: str = "icop-processed"
    """Folder processed messages are moved to when processed = "move"."""

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)

    @model_validator(mode="after")
    def _password(self) -> ImapConfig:
        if not (self.password_env or self.password_file):
            raise ValueError("give password_env or password_file")
        return self


class SmtpConfig(Section):
    host: str
    """SMTP submission server used for every outgoing mail."""
    port: Port | None = None
    """Defaults to 465 with security = "tls", 587 with "starttls", 25 with "none"."""
    security: Security = "starttls"
    """tls (implicit TLS), starttls, or none."""
    user: str | None = None
    """Login name; without it no AUTH is attempted."""
    password_env: str | None = None
    """Environment variable holding the SMTP password."""
    password_file: str | None = None
    """File holding the SMTP password."""
    timeout_seconds: Seconds = 30
    """Timeout of each SMTP command."""
    connections: Annotated[int, Field(ge=1, le=32)] = 2
    """How many SMTP connections deliver in parallel (each reused for many mails)."""

    @property
    def effective_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587, "none": 25}[self.security]

    @model_validator(mode="after")
    def _password_with_user(self) -> SmtpConfig:
        if self.user and not (self.password_env or self.password_file):
            raise ValueError("user is set: give password_env or password_file as well")
        return self


class MailConfig(Section):
    imap: ImapConfig
    """The mailbox that receives every list address."""
    smtp: SmtpConfig
    """The server that sends every outgoing mail."""
    trusted_authserv_ids: list[str] = []
    """authserv-ids (RFC 8601) of the receiving MTAs whose ``Authentication-Results`` headers are
    believed, e.g. ``["mx.example.com"]``. A member's mail that such a header says failed DMARC (or SPF
    and DKIM both) for its From domain is held for a convener, unless it came through the member's own
    signed reply address. Empty (the default): no such header is believed and From is not gated."""
    bounce_threshold: Annotated[float, Field(gt=0)] = 5.0
    """Bounce score at which a member's list mail is suspended (a permanent failure adds 1.0, a
    transient one 0.5, a delay warning nothing); the member and the conveners are told."""
    bounce_score_half_life_days: Annotated[float, Field(gt=0)] = 7.0
    """Days after which a bounce score has halved when no further bounce came (continuous decay)."""


class WebConfig(Section):
    bind: BindAddress = "127.0.0.1:8080"
    """host:port of the web server (archive pages, subscription and unsubscribe endpoints)."""
    metrics_allow: list[Network] = ["127.0.0.0/8", "::1/128"]
    """Networks whose clients may read /metrics (the Prometheus scraper's); others get 403. A reverse
    proxy on this host makes every visitor look local: keep it from forwarding /metrics. /healthz is
    open to all (it shows states, never addresses or figures)."""
    session_days: Annotated[int, Field(ge=1, le=365)] = 30
    """How long an archive sign-in lasts before the member is asked to sign in again. Sessions are
    kept in the store, so signing out (or deleting the session) ends them at once."""
    sign_in_requests_per_hour: Annotated[int, Field(ge=1, le=100)] = 5
    """Sign-in links sent to one person per hour, and sign-in requests accepted from one client
    address per hour (ten times this); beyond it the same answer is shown and nothing is sent."""


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    """Log level; `icop --log-level` overrides it."""
    format: Literal["text", "json"] = "text"
    """text: one readable line per event; json: one JSON object per line for log collectors."""


class SigningConfig(Section):
    key_env: str | None = None
    """Environment variable holding the key that signs reply addresses and unsubscribe links.
    Without key_env/key_file a random key is generated once and kept in the store."""
    key_file: str | None = None
    """File holding that key."""


class OutboxConfig(Section):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 12
    """Attempts before a delivery is parked as dead (visible in `icop outbox list`)."""
    backoff_base_seconds: Seconds = 5
    """First retry delay; each further retry doubles it."""
    backoff_max_seconds: Seconds = 3600
    """Longest delay between two attempts."""


class TaxonomyTag(Section):
    tag: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    """The tag as written after # (lowercase, digits, hyphens)."""
    label: str
    """Human name shown in the archive and digests."""
    description: str = ""
    """What discussions belong under this tag."""
    aliases: list[str] = []
    """Other hashtags that mean the same (they are filed under tag). Case, diacritics, hyphens and
    underscores never matter: ``#Estimação``, ``#estimacao`` and ``#ESTIMACAO`` are one spelling."""
    keywords: list[str] = []
    """Words or phrases that suggest this tag when a post contains them (whole words, case and
    diacritics folded), e.g. ``["story points", "planning poker"]``; see ``keyword_tags``."""


class DigestConfig(Section):
    frequency: Literal["daily", "weekly", "monthly", "never"] = "weekly"
    """Default digest frequency for new readers (each reader may choose their own)."""
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    """Day weekly digests go out, in each reader's own time zone."""
    hour: Annotated[int, Field(ge=0, le=23)] = 8
    """Local hour digests go out, in each reader's own time zone (an hour the clocks skip that day moves
    to the next valid time; an hour that happens twice sends once). Monthly digests go out on the first
    ``weekday`` of the month."""
    quiet_note: bool = False
    """When a period had no discussion and no new practice: false (the default) sends nothing; true
    sends readers a short "quiet week" note instead."""


class MeetingConfig(Section):
    """A recurring meeting of the community: reminders go to the room and by mail with an invitation."""

    id: Slug
    """Short name of the series (lowercase, digits, hyphens); it names its invitations, so keep it stable."""
    title: Annotated[str, Field(min_length=1)]
    """What the meeting is called in reminders, invitations and the digest."""
    cadence: Literal["weekly", "fortnightly", "monthly"] = "weekly"
    """How often it meets; monthly means the same weekday of the same week of the month as ``first``."""
    first: date
    """The date of the first meeting (a TOML date, e.g. 2027-01-12), in ``time_zone``."""
    slots: Annotated[list[time], Field(min_length=1)]
    """Local start times ("15:00"), taken in turn, one per meeting: several times rotate the
    out-of-hours burden between regions (``icop meetings suggest`` proposes fair sets)."""
    time_zone: TimeZone | None = None
    """Zone of ``first`` and ``slots``; defaults to the community's."""
    duration_minutes: Annotated[int, Field(ge=15, le=480)] = 60
    """Length of each meeting."""
    call_url: HttpUrl | None = None
    """Where to join (a video call link); shown in reminders and invitations."""
    description: str = ""
    """What the meeting is for; shown in reminders and invitations."""
    reminder_hours: Annotated[list[Annotated[float, Field(gt=0, le=24 * 14)]], Field(max_length=4)] = [24.0]
    """How long before each meeting a reminder goes to the room and to members by mail (with an
    iCalendar invitation); an empty list sends none."""


class MemberConfig(Section):
    name: Annotated[str, Field(min_length=1)]
    """Display name."""
    email: EmailAddress
    """Address the member writes from and receives list mail at."""
    matrix: MatrixUserId | None = None
    """Matrix user id, when the member also chats."""
    role: Literal["convener", "core", "member", "reader"] = "member"
    """convener | core | member | reader (readers receive digests only)."""
    time_zone: TimeZone | None = None
    """The member's IANA time zone; defaults to the community's."""
    delivery: Literal["each", "digest", "both", "none"] = "each"
    """each: every post by mail; digest: digests only; both: every post and the digests; none: no mail
    (chat only). Readers never get posts one by one: for them each means digests. Only the first sync
    uses it: the member's own later choice (by mail, room or web) is kept."""
    digest: Literal["daily", "weekly", "monthly", "never"] | None = None
    """The member's digest frequency when first synced; defaults to the community's [community.digest]
    frequency."""
    receive_own_posts: bool = False
    """Also mail the member a copy of their own posts."""


class CommunityConfig(Section):
    slug: Slug
    """Short id used in URLs, List-Id and the CLI (lowercase, digits, hyphens)."""
    name: Annotated[str, Field(min_length=1)]
    """The community's name as members know it."""
    room: MatrixRoom
    """Matrix room alias (#name:server) or id (!id:server)."""
    moderators_room: MatrixRoom | None = None
    """A Matrix room only the conveners and core team read (alias or id; invite the bridge to it): held
    posts and parked messages are told there in full, and `!icop` commands there answer with the
    details. The community's own room only ever learns that a post is held (its number and channel).
    Without it, the details go by mail only."""
    list_address: EmailAddress
    """The list's email address; mail to it (or to list+TOKEN@) is the community's."""
    time_zone: TimeZone = "UTC"
    """Default time zone for members and meeting times."""
    description: str = ""
    """One or two sentences shown in the archive and digests."""
    archive: Literal["members", "public"] = "members"
    """Who may read the web archive: members (signed in as a member of this community) or public
    (anyone, without signing in). Members-only pages answer anyone else without content."""
    subject_prefix: str | None = None
    """Subject tag for list mail, without brackets; defaults to the slug."""
    relay_policy: Literal["per_message", "batched"] = "per_message"
    """per_message: every chat message becomes one email; batched: a chat burst becomes one email."""
    batch_quiet_seconds: Seconds = 300
    """With batched: send once the chat has been quiet this long."""
    batch_max_delay_seconds: Seconds = 3600
    """With batched: never hold a message longer than this."""
    non_member_policy: Literal["hold", "relay", "ignore"] = "hold"
    """What happens to posts from people outside the roster: hold for the convener, relay, or ignore."""
    max_attachment_bytes: Annotated[int, Field(ge=0)] = 10_000_000
    """Attachments larger than this are relayed as a link instead of a file."""
    digest: DigestConfig = DigestConfig()
    """Digest defaults for this community."""
    monthly_report: bool = True
    """Mail the value report of each calendar month (UTC) to the community's active conveners and core
    team, on the 1st at the digest hour in the community's time zone, linking to /c/SLUG/report.
    Members whose delivery is none get no mail; false sends nobody the report (the page stays)."""
    taxonomy: list[TaxonomyTag] = []
    """The convener's tags for filing discussions."""
    free_tags: bool = True
    """File hashtags that are not in the taxonomy as tags of their own (as Discourse and Mastodon
    do). false: only the taxonomy's tags and aliases are filed; other hashtags stay plain text."""
    keyword_tags: Literal["offer", "apply", "off"] = "offer"
    """What a taxonomy keyword found in a post does. offer: the bridge suggests the tag in the room
    when a thread starts (and ``!icop tags`` lists suggestions); a core member files it with
    ``!icop tag``. apply: the tag is filed at once (source "keyword"). off: keywords are ignored."""
    max_posts_per_hour: Annotated[int, Field(ge=1)] | None = None
    """A member's posts (both channels) beyond this many in an hour are held for a convener, never
    dropped; the member is told once, the conveners are told of the first such post in the hour.
    Conveners and the core team have no limit. Unset: no limit."""
    welcome: bool = True
    """Welcome each newcomer once, on their channel: a member added here or subscribed by mail (a
    mail), a member who only chats or anyone joining the room (a notice in the room). Members who were
    there before this version count as welcomed."""
    member: list[MemberConfig] = []
    """The roster: conveners, core team, members and readers."""
    meeting: list[MeetingConfig] = []
    """Recurring meetings, one [[community.meeting]] table each."""

    @property
    def prefix(self) -> str:
        return self.subject_prefix if self.subject_prefix is not None else self.slug

    @field_validator("taxonomy")
    @classmethod
    def _one_spelling_per_tag(cls, taxonomy: list[TaxonomyTag]) -> list[TaxonomyTag]:
        _definitions(taxonomy)  # raises TaxonomyError (a ValueError) for a spelling two tags claim
        return taxonomy


def build_taxonomy(community: CommunityConfig) -> Taxonomy:
    """The core's taxonomy of one community's config."""
    return _definitions(community.taxonomy, free_tags=community.free_tags)


def build_meeting_series(community: CommunityConfig) -> tuple[MeetingSeries, ...]:
    """The core's meeting series of one community's config, each with its reminders."""
    return tuple(
        MeetingSeries(
            key=m.id,
            title=m.title,
            cadence=Cadence(m.cadence),
            first=m.first,
            slots=tuple(m.slots),
            time_zone=m.time_zone or community.time_zone,
            duration=timedelta(minutes=m.duration_minutes),
            call_url=m.call_url,
            description=m.description,
            reminders=tuple(timedelta(hours=h) for h in m.reminder_hours),
        )
        for m in community.meeting
    )


def _definitions(taxonomy: list[TaxonomyTag], *, free_tags: bool = True) -> Taxonomy:
    return Taxonomy(
        (TagDefinition(t.tag, t.label, t.description, tuple(t.aliases), tuple(t.keywords)) for t in taxonomy),
        free_tags=free_tags,
    )


class Config(Section):
    base_url: HttpUrl = "http://127.0.0.1:8080"
    """Public URL of the web server, used in links inside mail and digests."""
    database: DatabaseConfig = DatabaseConfig()
    """Where the store lives."""
    matrix: MatrixConfig
    """The bridge's Matrix account."""
    mail: MailConfig
    """The list mailbox (IMAP) and the outgoing server (SMTP)."""
    web: WebConfig = WebConfig()
    """The web server."""
    logging: LoggingConfig = LoggingConfig()
    """Logging."""
    signing: SigningConfig = SigningConfig()
    """The key for signed reply addresses and links."""
    outbox: OutboxConfig = OutboxConfig()
    """Retries of outgoing deliveries."""
    community: Annotated[list[CommunityConfig], Field(min_length=1)]
    """The communities this bridge serves, one [[community]] table each."""
