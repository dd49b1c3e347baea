"""The monthly report run: every community's conveners and core team get last month's report, once.

One run, for each community that sends reports (``monthly_report``): find the month that is due
(``bridge.core.report_schedule``), the active conveners and core members with an address who take mail
and were members when the month's report fell due (someone who joins later, or a community first
started later, starts with the next month), claim their (membership, month) rows, take over the claims
whose lease ran out (a sender that died, a retry that is due), compute the month and the five before it
once, and send each claimed mail with ``send_committed``: recorded as sent just before the server can
accept it, so no kill sends it twice. A temporary SMTP failure retries with backoff; a permanent one,
or the eighth failure, parks the mail as dead (``bridge.email.claimed_send``). The daemon runs this
every minute under a lease (``bridge.convener.component``); the claims alone would already keep each
mail to one sender.
"""

from __future__ import annotations

import calendar
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bridge.config import LoadedConfig
from bridge.config.schema import CommunityConfig
from bridge.convener.history import reports_over
from bridge.convener.monthly_mail import MonthlyIssue, MonthlyMail, month_label, report_message_id
from bridge.core.links import report_url
from bridge.core.report_schedule import ReportMonth, due_month, months_up_to
from bridge.email.addresses import list_domain, verp_address
from bridge.email.claimed_send import LEASE, Outcome, send_claimed
from bridge.email.smtp import SmtpSender
from bridge.store import CommunityRecord, Store
from bridge.store.report_mails import TeamRecipient

log = logging.getLogger(__name__)

TREND_MONTHS = 6


@dataclass(slots=True)
class MonthlyRun:
    """What one run did; ``lines`` say it per mail."""

    sent: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)


class MonthlyReports:
    def __init__(
        self,
        loaded: LoadedConfig,
        store: Store,
        smtp: SmtpSender | None,
        *,
        worker: str = "icop",
        mail: MonthlyMail | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.loaded = loaded
        self.store = store
        self.smtp = smtp
        self.worker = worker
        self.mail = mail or MonthlyMail()
        self.clock = clock

    async def send_due(self, now: datetime) -> MonthlyRun:
        run = MonthlyRun()
        for config in self.loaded.config.community:
            if not config.monthly_report:
                continue
            record = await self.store.communities.by_slug(config.slug)
            if record is not None:
                await self._community(config, record, now, run)
        return run

    async def _community(
        self, config: CommunityConfig, record: CommunityRecord, now: datetime, run: MonthlyRun
    ) -> None:
        zone, hour = ZoneInfo(config.time_zone), config.digest.hour
        month = due_month(now, zone, hour)
        mails = self.store.report_mails
        team = {r.membership_id: r for r in await mails.recipients(record.id, joined_by=month.send_at)}
        worker = f"{self.worker}:{secrets.token_hex(6)}"
        lease = self.clock() + LEASE
        claimed = await mails.claim(record.id, month.start, month.end, team, worker=worker, lease_until=lease)
        for stale in await mails.stale(record.id, now):
            if stale.period_start != month.start:
                await mails.give_up(stale.id, "a later month's report is due instead")
            elif stale.membership_id not in team:
                await mails.give_up(stale.id, "no longer on the team, or takes no mail")
            elif await mails.take_over(stale.id, worker=worker, now=now, lease_until=lease):
                claimed[stale.membership_id] = stale.id
        if not claimed:
            return
        issue = await self._issue(config, record, month, zone, hour)
        for membership_id in [m for m in team if m in claimed]:  # conveners first, then the core team
            line = await self._send(config, issue, team[membership_id], claimed[membership_id], run)
            run.lines.append(line)
            log.info("%s", line)

    async def _issue(
        self, config: CommunityConfig, record: CommunityRecord, month: ReportMonth, zone: ZoneInfo, hour: int
    ) -> MonthlyIssue:
        months = months_up_to(month, TREND_MONTHS, zone, hour)
        reports = await reports_over(
            self.store.db, record.id, config.slug, config.time_zone, [(m.start, m.end) for m in months]
        )
        last_day = month.month.replace(day=calendar.monthrange(month.month.year, month.month.month)[1])
        return MonthlyIssue(
            slug=config.slug,
            name=config.name,
            subject_prefix=config.prefix,
            list_address=config.list_address,
            months=months,
            reports=reports,
            report_url=report_url(self.loaded.config.base_url, config.slug, month.month, last_day),
        )

    async def _send(
        self,
        config: CommunityConfig,
        issue: MonthlyIssue,
        recipient: TeamRecipient,
        mail_id: int,
        run: MonthlyRun,
    ) -> str:
        what = f"{config.slug} {month_label(issue.months[-1])} report to {recipient.email}"
        message_id = report_message_id(mail_id, list_domain(config.list_address))
        raw = self.mail.compose(
            issue,
            name=recipient.name,
            address=recipient.email,
            role=recipient.role,
            message_id=message_id,
            date=self.clock(),
        )
        outcome, error = await send_claimed(
            self.smtp,
            self.store.report_mails,
            mail_id,
            raw,
            message_id=message_id,
            envelope_from=verp_address(config.list_address, recipient.email),
            recipient=recipient.email,
            clock=self.clock,
        )
        if outcome is not Outcome.SENT:
            run.failed += 1
            return f"monthly report {outcome}: {what}: {error}"
        run.sent += 1
        return f"monthly report sent: {what}"
