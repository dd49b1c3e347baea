"""What a bounce does to a membership: a score that rises with failures and fades with time, and a
suspension, announced to the member and the conveners, once it passes the threshold.

The policy (documented in the README and the config schema):

- a permanent failure (``Action: failed`` with a 5.x.x status, or a free-text failure) weighs 1.0; a
  transient one (failed with a 4.x.x status) weighs 0.5; a delay warning or a success report weighs 0.
  A bounce whose report cannot be read at all still came back to the member's VERP address: it
  weighs as a transient failure, since we know the mail did not arrive but not why.
- the score decays continuously: it halves every ``bounce_score_half_life_days`` without bounces
  (Mailman resets a score gone stale; a half-life does the same gradually, so an address that bounces
  once a month never adds up to a suspension, one that bounces daily does).
- when the decayed score plus the new weight reaches ``bounce_threshold`` the membership is suspended
  (state ``suspended``, reason ``bounces``): routing skips non-active members, so list mail stops.
  The member gets one last notice (sent with the null return path, so it cannot bounce back into
  the count) and each convener a mail notice; the room gets an ``m.notice``. ``icop members
  reset-bounces`` clears the score and lifts the suspension.

Notices are sent straight through SMTP with a few quick retries rather than through the outbox, whose
rows belong to posts; the suspension itself is stored first, so a failed notice loses nothing but the
notice, and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bridge.config.schema import MailConfig
from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.message_ids import post_message_id
from bridge.core.model import MembershipState, Role
from bridge.email.bounces import BounceParse, BounceReport, Severity, parse_bounce
from bridge.email.outbound import OutgoingNotice
from bridge.email.smtp import SmtpSender, SmtpTemporaryError
from bridge.relay.community import CommunityContext
from bridge.relay.direct_notices import mail_notice
from bridge.rendering import Renderer
from bridge.store import MemberRecord, Store
from bridge.store.communities import BOUNCES_REASON

log = logging.getLogger(__name__)

PERMANENT_WEIGHT = 1.0
TRANSIENT_WEIGHT = 0.5
UNREADABLE_WEIGHT = TRANSIENT_WEIGHT
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class BouncePolicy:
    """The numbers of bounce handling; pure arithmetic, no I/O."""

    threshold: float = 5.0
    half_life_days: float = 7.0

    def weight(self, report: BounceReport | None) -> float:
        if report is None:
            return UNREADABLE_WEIGHT
        return {Severity.PERMANENT: PERMANENT_WEIGHT, Severity.TRANSIENT: TRANSIENT_WEIGHT}.get(
            report.severity, 0.0
        )

    def decayed(self, score: float, last_bounce_at: datetime | None, now: datetime) -> float:
        """``score`` as it stands at ``now``: halved for every half-life since the last bounce."""
        if last_bounce_at is None or score <= 0:
            return max(score, 0.0)
        days = max((now - last_bounce_at).total_seconds(), 0.0) / SECONDS_PER_DAY
        return float(score * 0.5 ** (days / self.half_life_days))

    def crossed(self, score: float) -> bool:
        return score >= self.threshold


def bounce_policy(mail: MailConfig) -> BouncePolicy:
    return BouncePolicy(threshold=mail.bounce_threshold, half_life_days=mail.bounce_score_half_life_days)


@dataclass(frozen=True, slots=True)
class BounceOutcome:
    """What one bounce did: to whom, how much it weighed, the score after it, whether it suspended."""

    email: str
    format: str
    report: BounceReport | None
    weight: float
    score: float
    suspended: bool


class BounceNotices(Protocol):
    """Who is told when a membership is suspended for bounces."""

    async def suspended(
        self,
        community: CommunityContext,
        member: MemberRecord,
        conveners: Sequence[MemberRecord],
        outcome: BounceOutcome,
    ) -> None: ...


class BounceHandler:
    """Scores one bounce against the member its VERP address names and suspends past the threshold."""

    def __init__(
        self,
        store: Store,
        policy: BouncePolicy,
        notices: BounceNotices | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.policy = policy
        self.notices = notices
        self.clock = clock

    async def handle(
        self, community: CommunityContext, raw: bytes, verp_recipient: str | None
    ) -> BounceOutcome | None:
        """Count a bounce; None when it names no member of ``community`` (logged, nothing changed)."""
        parsed = parse_bounce(raw)
        member = await self._member(community, verp_recipient, parsed)
        if member is None or member.email is None:
            log.info(
                "bounce for no known member",
                extra={"community": community.slug, "to": verp_recipient or "", "format": parsed.format},
            )
            return None
        now = self.clock()
        report = parsed.worst(member.email)
        weight = self.policy.weight(report)
        current = self.policy.decayed(member.bounce_score, member.last_bounce_at, now)
        if weight == 0:
            outcome = BounceOutcome(member.email, parsed.format, report, 0.0, current, False)
            log.info("delivery delayed for %s (not counted)", member.email, extra=_extra(community, outcome))
            return outcome
        score = round(current + weight, 3)  # kept to 3 decimals: seconds of decay do not matter
        await self.store.communities.set_bounce_score(member.membership_id, score, now)
        suspend = member.state is MembershipState.ACTIVE and self.policy.crossed(score)
        outcome = BounceOutcome(member.email, parsed.format, report, weight, score, suspend)
        log.warning("bounce from %s", member.email, extra=_extra(community, outcome))
        if suspend:
            await self.store.communities.set_state(
                member.membership_id, MembershipState.SUSPENDED, reason=BOUNCES_REASON, by="bounces"
            )
            log.warning(
                "list mail to %s suspended: bounce score %.2f reached %.2f",
                member.email,
                score,
                self.policy.threshold,
                extra=_extra(community, outcome),
            )
            if self.notices is not None:
                members = await self.store.communities.members(community.id)
                conveners = [m for m in members if m.role is Role.CONVENER and m.email]
                await self.notices.suspended(community, member, conveners, outcome)
        return outcome

    async def _member(
        self, community: CommunityContext, verp_recipient: str | None, parsed: BounceParse
    ) -> MemberRecord | None:
        """The VERP address names the member; failing that, a single recipient the report names."""
        named = [r.recipient for r in parsed.reports if r.recipient]
        candidates = [verp_recipient] if verp_recipient else list(dict.fromkeys(named))[:1]
        for address in candidates:
            assert address is not None
            person = await self.store.communities.person_by_email(address)
            found = await self.store.communities.member(community.id, person.id) if person else None
            if found is not None:
                return await self.store.communities.member_record(found.membership_id)
        return None


def _extra(community: CommunityContext, outcome: BounceOutcome) -> dict[str, object]:
    report = outcome.report
    return {
        "community": community.slug,
        "member": outcome.email,
        "bounce_format": outcome.format,
        "bounce_status": report.status if report else None,
        "bounce_weight": outcome.weight,
        "bounce_score": outcome.score,
    }


# -- notices -------------------------------------------------------------------------------------

RoomNotice = Callable[[str, dict[str, object], str], Awaitable[object]]
"""Send ``content`` to room ``room_id`` with transaction id ``txn_id`` (``MatrixSender.send``)."""


class MailAndRoomNotices:
    """Tells the member and each convener by mail, and the room by an ``m.notice``."""

    def __init__(
        self,
        smtp: SmtpSender,
        room_notice: RoomNotice | None = None,
        *,
        renderer: Renderer | None = None,
        attempts: int = 3,
        retry_delay: float = 2.0,
    ) -> None:
        self.smtp = smtp
        self.room_notice = room_notice
        self.renderer = renderer or Renderer()
        self.attempts = attempts
        self.retry_delay = retry_delay

    async def suspended(
        self,
        community: CommunityContext,
        member: MemberRecord,
        conveners: Sequence[MemberRecord],
        outcome: BounceOutcome,
    ) -> None:
        assert member.email is not None
        stamp = int(datetime.now(UTC).timestamp())
        why = _why(outcome)
        list_address = community.config.list_address
        to_member = OutgoingNotice(
            community=community.identity,
            recipient=member.email,
            subject="Your list mail is paused",
            title="List mail to you is paused",
            message_id=post_message_id(member.membership_id, community.domain, kind="bounce", revision=stamp),
            paragraphs=(
                f"Mail from {list_address} to {member.email} keeps coming back undelivered ({why}), "
                "so the list has stopped sending to this address.",
                "Once the address works again, ask a convener of the list to resume your mail.",
            ),
        )
        await self._mail(to_member)
        for convener in conveners:
            assert convener.email is not None
            await self._mail(
                OutgoingNotice(
                    community=community.identity,
                    recipient=convener.email,
                    subject=f"List mail to {member.name} is paused",
                    title="A member's mail is paused after bounces",
                    message_id=post_message_id(
                        member.membership_id, community.domain, kind="bounce-convener", revision=stamp
                    ),
                    paragraphs=(
                        f"Mail to {member.name} <{member.email}> kept bouncing ({why}); their bounce "
                        f"score reached {outcome.score:.1f}, so list mail to them is suspended.",
                        "When the address works again: icop members reset-bounces "
                        f"{member.email} --community {community.slug}",
                    ),
                )
            )
        if self.room_notice is not None and community.room_id is not None:
            body = (
                f"List mail to {member.name} <{member.email}> is suspended: it kept bouncing ({why}, "
                f"bounce score {outcome.score:.1f}). A convener can resume it with "
                f"`icop members reset-bounces {member.email} --community {community.slug}`."
            )
            content: dict[str, object] = {
                "msgtype": "m.notice",
                "body": body,
                ORIGIN_MARKER_KEY: {"notice": "bounces", "membership": member.membership_id},
            }
            try:
                await self.room_notice(
                    community.room_id, content, f"icop.bounce.{member.membership_id}.{stamp}"
                )
            except Exception as error:  # a notice must not fail the mailbox loop; the log keeps it
                log.warning("could not post the bounce notice in the room: %s", error)

    async def _mail(self, notice: OutgoingNotice) -> None:
        try:
            await mail_notice(
                self.smtp, notice, self.renderer, attempts=self.attempts, retry_delay=self.retry_delay
            )
        except SmtpTemporaryError as error:
            log.warning(
                "bounce notice to %s not sent after %d attempts: %s", notice.recipient, self.attempts, error
            )


def _why(outcome: BounceOutcome) -> str:
    report = outcome.report
    if report is None:
        return "the last report could not be read"
    code = f"{report.status} " if report.status else ""
    detail = report.diagnostic or report.action.value
    return f"{code}{detail}".strip()
