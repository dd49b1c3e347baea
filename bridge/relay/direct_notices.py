"""Notices mailed straight through SMTP, not through the outbox (whose rows belong to posts).

Bounce suspensions and parked messages tell people about something that is not a post; the notice is
sent with the null return path (a notice to a failing address must not bounce back into a score) and a
few quick retries while the server is briefly unavailable.
"""

from __future__ import annotations

import asyncio
import logging

from bridge.email.outbound import OutgoingNotice, as_smtp_bytes, compose_notice_mail
from bridge.email.smtp import SmtpPermanentError, SmtpSender, SmtpTemporaryError
from bridge.rendering import Renderer

log = logging.getLogger(__name__)


async def mail_notice(
    smtp: SmtpSender, notice: OutgoingNotice, renderer: Renderer, *, attempts: int, retry_delay: float
) -> bool:
    """Send ``notice``: True when sent, False when the server refused it for good (logged); raises the
    last ``SmtpTemporaryError`` when every attempt met a temporary failure."""
    data = as_smtp_bytes(compose_notice_mail(notice, renderer=renderer))
    for attempt in range(1, attempts + 1):
        try:
            await smtp.send(data, envelope_from="", recipients=[notice.recipient])
            return True
        except SmtpPermanentError as error:
            log.warning("notice to %s refused: %s", notice.recipient, error)
            return False
        except SmtpTemporaryError:
            if attempt == attempts:
                raise
            await asyncio.sleep(retry_delay * attempt)
    return False
