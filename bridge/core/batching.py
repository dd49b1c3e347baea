"""When a batch of chat messages is ready to go out as one mail (the batched relay policy).

Email readers should get a chat burst as one mail, not one mail per line, but not so late that the
conversation has moved on. The outbox keeps the pending rows; this module only decides, from their
times and ``now``, which batches are due, and when to look again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bridge.core.routing import RelayPolicy


class BatchReason(StrEnum):
    QUIET = "quiet"  # nothing new for the quiet period
    MAX_DELAY = "max_delay"  # the oldest message has waited long enough
    PER_MESSAGE = "per_message"  # the policy no longer batches: flush what is left


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One pending message of a batch, as the outbox knows it."""

    post_id: int
    batch_key: str
    created_at: datetime
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch ready to send: its items oldest first, and why it is ready now."""

    key: str
    items: tuple[BatchItem, ...]
    reason: BatchReason

    @property
    def post_ids(self) -> tuple[int, ...]:
        return tuple(item.post_id for item in self.items)

    @property
    def first_created_at(self) -> datetime:
        return self.items[0].created_at


def _group(items: Iterable[BatchItem]) -> list[tuple[str, tuple[BatchItem, ...]]]:
    groups: dict[str, list[BatchItem]] = {}
    for item in items:
        groups.setdefault(item.batch_key, []).append(item)
    ordered = [
        (key, tuple(sorted(members, key=lambda i: (i.created_at, i.post_id))))
        for key, members in groups.items()
    ]
    return sorted(ordered, key=lambda group: (group[1][0].created_at, group[0]))


def _quiet_at(items: tuple[BatchItem, ...], policy: RelayPolicy) -> datetime:
    """When the batch has been quiet long enough: the latest ``not_before`` of its rows, which ingest
    set to creation + quiet period (taken from the row, so a changed policy does not reorder the past)."""
    return max(
        item.not_before if item.not_before is not None else item.created_at + policy.quiet_period
        for item in items
    )


def _deadline(items: tuple[BatchItem, ...], policy: RelayPolicy) -> datetime:
    return items[0].created_at + policy.max_batch_delay


def _readiness(items: tuple[BatchItem, ...], now: datetime, policy: RelayPolicy) -> BatchReason | None:
    if not policy.batched:
        return BatchReason.PER_MESSAGE
    if now >= _quiet_at(items, policy):
        return BatchReason.QUIET
    if now >= _deadline(items, policy):
        return BatchReason.MAX_DELAY
    return None


def ready_batches(items: Iterable[BatchItem], now: datetime, policy: RelayPolicy) -> list[Batch]:
    """The batches due at ``now``, oldest first, each with its items in creation order.

    A batch is due once it has been quiet for the quiet period after its last item, or once its first
    item is ``max_batch_delay`` old. If the policy no longer batches, everything pending is due.
    """
    ready: list[Batch] = []
    for key, members in _group(items):
        reason = _readiness(members, now, policy)
        if reason is not None:
            ready.append(Batch(key=key, items=members, reason=reason))
    return ready


def next_batch_due(items: Iterable[BatchItem], policy: RelayPolicy) -> datetime | None:
    """The earliest moment a pending batch becomes due, so a scheduler can sleep until then; None when
    nothing is pending."""
    if not policy.batched:
        return min((item.created_at for item in items), default=None)
    moments = [min(_quiet_at(members, policy), _deadline(members, policy)) for _, members in _group(items)]
    return min(moments, default=None)
