"""The subscription desk: every change a reader asks for, by mail, in the room or on the web, applied
and confirmed back on the channel it came from.

- A new subscription is double opt-in: a pending membership and a confirmation mail whose reply address
  (``LIST+confirm-CODE@``) and link both confirm it; the code is signed and expires after a week.
- A change from a member (frequency, delivery, followed tags, unsubscribe) is applied at once and
  confirmed by mail to the member's own address, so a forged request is seen by the person it names.
- Web forms answer the same page whether or not an address is known, so the form tells a stranger
  nothing about who is subscribed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.config import LoadedConfig
from bridge.config.schema import CommunityConfig
from bridge.core.digest.requests import MAIL_HELP, Request, RequestError, Verb
from bridge.core.model import DeliveryMode, MembershipState, Role
from bridge.digest.compose import request_address
from bridge.digest.links import CONFIRM_DETAIL, DigestLinks
from bridge.email.addresses import ListIdentity, list_domain, verp_address
from bridge.email.outbound import OutgoingNotice, as_smtp_bytes, compose_notice_mail
from bridge.email.smtp import SmtpError, SmtpSender
from bridge.rendering import Renderer
from bridge.store import ReaderRecord, RequestOutcome, SettingsChange, Store

log = logging.getLogger(__name__)

_WHEN = {"daily": "every day", "weekly": "every {weekday}", "monthly": "on the first {weekday} of each month"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the desk did, in a sentence for the room or a page."""

    done: bool
    message: str


class SubscriptionDesk:
    def __init__(
        self,
        loaded: LoadedConfig,
        store: Store,
        signing_key: bytes,
        smtp: SmtpSender,
        *,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.loaded = loaded
        self.store = store
        self.smtp = smtp
        self.links = DigestLinks(loaded.config.base_url, signing_key)
        self.renderer = renderer or Renderer()
        self.clock = clock

    def community(self, slug: str) -> CommunityConfig | None:
        return next((c for c in self.loaded.config.community if c.slug == slug), None)

    # -- mail -------------------------------------------------------------------------------------
    async def by_mail(
        self, config: CommunityConfig, sender: str, name: str, requests: list[Request | RequestError]
    ) -> None:
        """Obey the commands of one mail to ``LIST+request@`` (or a shortcut) and answer by mail."""
        record = await self._record(config)
        reader = await self.store.subscriptions.reader_by_email(record, sender)
        answers: list[str] = []
        for request in requests:
            if isinstance(request, RequestError):
                answers.append(f"“{request.line}”: {request.message}.")
                continue
            answer = await self._mail_command(config, record, sender, name, reader, request)
            if answer:
                answers.append(answer)
            reader = await self.store.subscriptions.reader_by_email(record, sender)
        if answers:
            await self._notice(
                config, sender, "Your request", "About your request", tuple(answers), help_lines=True
            )

    async def _mail_command(
        self,
        config: CommunityConfig,
        community_id: int,
        sender: str,
        name: str,
        reader: ReaderRecord | None,
        request: Request,
    ) -> str | None:
        if request.verb is Verb.HELP:
            return "Here is what you can ask."
        if request.verb is Verb.CONFIRM:
            return await self.confirm(config, request.code or "", via_mail_from=sender)
        if request.verb is Verb.SUBSCRIBE:
            change = SettingsChange(delivery=request.delivery, digest_frequency=request.frequency)
            if reader is not None and reader.state is not MembershipState.PENDING:
                return await self._apply(config, reader, _subscribe_change(reader, change), notify=False)
            await self.subscribe(config, sender, name, change)
            return None  # the confirmation mail is the answer
        if reader is None or reader.state is MembershipState.PENDING:
            if reader is not None and request.verb is Verb.UNSUBSCRIBE:
                await self.store.subscriptions.withdraw(reader.membership_id)
                return f"Your pending subscription to {config.name} is withdrawn."
            return f"{sender} is not subscribed to {config.name}: send “subscribe” first."
        if request.verb is Verb.UNSUBSCRIBE:
            return await self._apply(config, reader, SettingsChange(delivery=DeliveryMode.NONE), notify=False)
        if request.verb is Verb.DIGEST:
            return await self._apply(
                config, reader, digest_change(reader, request.frequency or "off"), notify=False
            )
        tags = set(reader.followed_tags)
        tags = tags | set(request.tags) if request.verb is Verb.FOLLOW else tags - set(request.tags)
        return await self._apply(
            config, reader, SettingsChange(followed_tags=tuple(sorted(tags))), notify=False
        )

    # -- the steps every channel shares ----------------------------------------------------------
    async def subscribe(self, config: CommunityConfig, email: str, name: str, change: SettingsChange) -> None:
        """A subscription request (by mail or the web form): a confirmation for a new address, a note
        with the settings link for someone already in the community."""
        record = await self._record(config)
        defaults = SettingsChange(
            delivery=change.delivery or DeliveryMode.DIGEST,
            digest_frequency=change.digest_frequency or _default_frequency(config),
            time_zone=change.time_zone,
            followed_tags=change.followed_tags,
        )
        membership, outcome = await self.store.subscriptions.request(
            record, email=email, name=name, change=defaults
        )
        now = self.clock()
        if outcome is RequestOutcome.MEMBER:
            await self._notice(
                config,
                email,
                f"You are already in {config.name}",
                f"You are already in {config.name}",
                (
                    f"Someone (perhaps you) asked to subscribe {email} to {config.name}, and this address "
                    "is already in. Nothing was changed.",
                ),
                actions=(("Change your settings", self.links.manage(config.slug, membership, now)),),
            )
            return
        code = self.links.confirm_code(membership, now)
        log.info("subscription requested", extra={"community": config.slug, "membership": membership})
        await self._notice(
            config,
            email,
            f"Confirm your subscription to {config.name} (confirm {code})",
            "Please confirm your subscription",
            (
                f"Someone (perhaps you) asked to subscribe {email} to {config.name}. To confirm, reply "
                "to this mail (the text does not matter) or follow the link below within a week.",
                "If it was not you, ignore this mail: nothing will be sent to you.",
            ),
            actions=(("Confirm my subscription", self.links.confirm(config.slug, code)),),
            reply_to=request_address(config.list_address, CONFIRM_DETAIL + code),
        )

    async def confirm(self, config: CommunityConfig, code: str, *, via_mail_from: str | None = None) -> str:
        """Confirm a pending subscription by its code; the answer for the page or the mail."""
        now = self.clock()
        membership = self.links.membership_to_confirm(code, now)
        record = await self._record(config)
        reader = await self.store.subscriptions.reader(membership) if membership is not None else None
        if reader is None or reader.community_id != record:
            return "This confirmation is not valid or has expired: subscribe again to get a new one."
        if via_mail_from is not None and (reader.email or "").casefold() != via_mail_from.casefold():
            return "This confirmation was sent to another address: reply from the address that got it."
        if not await self.store.subscriptions.confirm(reader.membership_id, now):
            if reader.state is MembershipState.ACTIVE:
                return f"{reader.email} is subscribed to {config.name} already."
            return "This confirmation is not valid any more: subscribe again to get a new one."
        log.info(
            "subscription confirmed", extra={"community": config.slug, "membership": reader.membership_id}
        )
        confirmed = await self.store.subscriptions.reader(reader.membership_id)
        assert confirmed is not None
        summary = self.describe(config, confirmed)
        if via_mail_from is None:
            await self._notice(
                config,
                confirmed.email or "",
                f"Welcome to {config.name}",
                "You are subscribed",
                (summary,),
                actions=(
                    ("Change your settings", self.links.manage(config.slug, confirmed.membership_id, now)),
                ),
            )
        return f"Welcome to {config.name}. {summary}"

    async def change(self, config: CommunityConfig, reader: ReaderRecord, change: SettingsChange) -> str:
        """A member's change from the settings page or the room: applied, confirmed by mail."""
        return await self._apply(config, reader, change, notify=True)

    async def unsubscribe(self, reader: ReaderRecord, *, digests_only: bool) -> str | None:
        """One-click unsubscribe: from a digest it stops that reader's digests; from list mail it stops
        list mail. Confirmed by mail. None when the membership is not in a configured community."""
        record = next((r for r in await self.store.communities.all() if r.id == reader.community_id), None)
        config = self.community(record.slug) if record is not None else None
        if config is None:
            return None
        if digests_only:
            change = digest_change(reader, "off")
        else:
            stays = DeliveryMode.DIGEST if reader.delivery is DeliveryMode.BOTH else DeliveryMode.NONE
            change = SettingsChange(delivery=stays if reader.delivery.each_post else reader.delivery)
        await self.store.subscriptions.change(reader.membership_id, change)
        what = "digests" if digests_only else "list mail"
        log.info(
            "unsubscribed by link",
            extra={"community": config.slug, "membership": reader.membership_id, "from": what},
        )
        after = await self.store.subscriptions.reader(reader.membership_id)
        assert after is not None
        settings = self.describe(config, after)
        message = f"{reader.email} will no longer receive the {what} of {config.name}. {settings}"
        await self._notice(
            config,
            reader.email or "",
            f"You are unsubscribed from {what}",
            f"No more {what}",
            (message,),
            actions=(
                ("Change your settings", self.links.manage(config.slug, reader.membership_id, self.clock())),
            ),
        )
        return message

    def describe(self, config: CommunityConfig, reader: ReaderRecord) -> str:
        """The reader's settings in one or two sentences."""
        parts: list[str] = []
        if reader.delivery.each_post and reader.role is not Role.READER:
            parts.append("You receive every post by mail.")
        if reader.wants_digest:
            weekday = config.digest.weekday.capitalize()
            when = _WHEN[reader.digest_frequency].format(weekday=weekday)
            zone = reader.time_zone or config.time_zone
            parts.append(
                f"Your {reader.digest_frequency} digest comes {when} at {config.digest.hour:02d}:00 ({zone})."
            )
        if not parts:
            parts.append(f"You receive no mail from {config.name}.")
        if reader.followed_tags:
            parts.append("You follow " + ", ".join(f"#{t}" for t in sorted(reader.followed_tags)) + ".")
        return " ".join(parts)

    async def _apply(
        self, config: CommunityConfig, reader: ReaderRecord, change: SettingsChange, *, notify: bool
    ) -> str:
        await self.store.subscriptions.change(reader.membership_id, change)
        after = await self.store.subscriptions.reader(reader.membership_id)
        assert after is not None
        log.info("subscription changed", extra={"community": config.slug, "membership": reader.membership_id})
        summary = f"Done. {self.describe(config, after)}"
        if notify and after.email:
            await self._notice(
                config,
                after.email,
                "Your settings changed",
                "Your settings changed",
                (summary,),
                actions=(
                    (
                        "Change your settings",
                        self.links.manage(config.slug, after.membership_id, self.clock()),
                    ),
                ),
            )
        return summary

    async def _record(self, config: CommunityConfig) -> int:
        record = await self.store.communities.by_slug(config.slug)
        if record is None:
            raise LookupError(f"community {config.slug} is not in the store yet")
        return record.id

    async def _notice(
        self,
        config: CommunityConfig,
        recipient: str,
        subject: str,
        title: str,
        paragraphs: tuple[str, ...],
        *,
        actions: tuple[tuple[str, str], ...] = (),
        reply_to: str | None = None,
        help_lines: bool = False,
    ) -> None:
        """A mail from the list's request address, marked automatic (RFC 3834) so no responder answers."""
        if not recipient:
            return
        request = request_address(config.list_address)
        domain = list_domain(config.list_address)
        notice = OutgoingNotice(
            community=ListIdentity(config.slug, config.list_address, config.prefix, config.name),
            recipient=recipient,
            subject=subject,
            title=title,
            message_id=f"icop-request.{secrets.token_hex(8)}@{domain}",
            paragraphs=paragraphs,
            items=tuple(line.format(request=request) for line in MAIL_HELP) if help_lines else (),
            actions=actions,
            from_address=request,
            reply_to=reply_to or request,
            date=self.clock(),
        )
        mail = compose_notice_mail(notice, renderer=self.renderer)
        try:
            await self.smtp.send(
                as_smtp_bytes(mail),
                envelope_from=verp_address(config.list_address, recipient),
                recipients=[recipient],
            )
        except SmtpError as error:
            # The change stands; only its confirmation is lost. Raising would hold every later mail of
            # the mailbox behind this one (the inbox retries a message until it is handled).
            log.warning(
                "could not send a subscription notice: %s",
                error,
                extra={"community": config.slug, "subject": subject},
            )


def digest_change(reader: ReaderRecord, frequency: str) -> SettingsChange:
    """``digest F``: that frequency, and digests on (added to every post for a member who had them);
    ``digest off``: no digest (every post stays for a member who had both)."""
    if frequency == "off":
        if reader.role is Role.READER or reader.delivery is DeliveryMode.DIGEST:
            return SettingsChange(delivery=DeliveryMode.NONE)
        if reader.delivery is DeliveryMode.BOTH:
            return SettingsChange(delivery=DeliveryMode.EACH)
        return SettingsChange()
    if reader.role is Role.READER:
        return SettingsChange(delivery=DeliveryMode.DIGEST, digest_frequency=frequency)
    delivery = DeliveryMode.BOTH if reader.delivery.each_post else DeliveryMode.DIGEST
    return SettingsChange(delivery=delivery, digest_frequency=frequency)


def _subscribe_change(reader: ReaderRecord, change: SettingsChange) -> SettingsChange:
    """``subscribe`` from someone already in: what they named, else digests at their frequency."""
    return SettingsChange(
        delivery=change.delivery or (DeliveryMode.BOTH if reader.delivery.each_post else DeliveryMode.DIGEST),
        digest_frequency=change.digest_frequency,
    )


def _default_frequency(config: CommunityConfig) -> str:
    return config.digest.frequency if config.digest.frequency != "never" else "weekly"
