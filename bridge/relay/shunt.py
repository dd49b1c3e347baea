"""The shunt (DESIGN §8, Mailman's shunt queue): a message that cannot be handled never blocks the others.

Both ingest loops hand every message through ``Shunt.handle``. When handling fails, the failure is sorted
(``bridge.relay.failures``): a transient one is raised again, so the loop retries that message in order
with backoff, as it must while a server or the database is down; a permanent one parks the message at
once; an unexpected one is raised again until it has failed ``repeats`` times in a row, then parked.
Parking stores the raw bytes and the reason in the store and returns normally, so the loop's cursor
moves on; ``on_parked`` wakes the work that tells the conveners (once) and re-processes on request.
If parking itself fails (the database went away), that failure propagates and the message is retried in
order like any transient failure: nothing is skipped without being kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from bridge.core.model import Channel
from bridge.relay.failures import FailureKind, classify_failure, describe_failure
from bridge.store import NewParked, ParkedMessages

log = logging.getLogger(__name__)

DEFAULT_REPEATS = 3
"""Attempts an unexpected failure gets before its message is parked (with the loops' backoff, ~3 s)."""


def mail_origin(raw: bytes) -> str:
    """What identifies a mail across replays, whatever its headers: the digest of its bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class Shunt:
    def __init__(
        self,
        parked: ParkedMessages,
        *,
        repeats: int = DEFAULT_REPEATS,
        on_parked: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.parked = parked
        self.repeats = repeats
        self.on_parked = on_parked
        self.clock = clock
        self._failures: dict[tuple[Channel, str], int] = {}

    async def handle(
        self,
        channel: Channel,
        origin: str,
        work: Callable[[], Awaitable[None]],
        describe: Callable[[], NewParked],
    ) -> bool:
        """Run ``work`` for one message: True when it was handled, False when the message was parked.

        ``describe`` builds what is parked, only called then (its reason, failure and attempts are filled
        in here). Raises when the loop should retry.
        """
        key = (channel, origin)
        try:
            await work()
        except Exception as error:
            kind = classify_failure(error)
            if kind is FailureKind.TRANSIENT:
                self._failures.pop(key, None)
                raise
            attempts = self._failures.get(key, 0) + 1
            if kind is FailureKind.UNEXPECTED and attempts < self.repeats:
                self._failures[key] = attempts
                raise
            await self._park(describe(), error, kind, attempts)
            self._failures.pop(key, None)
            return False
        self._failures.pop(key, None)
        return True

    async def _park(self, item: NewParked, error: Exception, kind: FailureKind, attempts: int) -> None:
        reason = describe_failure(error)
        item = replace(item, reason=reason, failure=kind.value, attempts=attempts)
        outcome = await self.parked.park(item, self.clock())
        log.error(
            "message parked: %s; the stream moves on (icop parked list)",
            reason,
            exc_info=kind is FailureKind.UNEXPECTED,
            extra={
                "parked": outcome.record.id,
                "channel": item.channel.value,
                "source": item.source,
                "position": item.position or item.origin,
                "failure": kind.value,
                "attempts": attempts,
                "again": not outcome.new,
            },
        )
        if outcome.new:
            self.on_parked()
