"""When batched chat is ready to be mailed."""

from datetime import UTC, datetime, timedelta

import pytest

from bridge.core.batching import Batch, BatchItem, BatchReason, next_batch_due, ready_batches
from bridge.core.routing import RelayMode, RelayPolicy

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
QUIET = timedelta(minutes=5)
MAX = timedelta(minutes=30)
POLICY = RelayPolicy(mode=RelayMode.BATCHED, quiet_period=QUIET, max_batch_delay=MAX)


def item(post_id: int, key: str, minute: float, *, not_before: bool = True) -> BatchItem:
    created = T0 + timedelta(minutes=minute)
    return BatchItem(post_id, key, created, created + QUIET if not_before else None)


@pytest.mark.parametrize(
    ("minutes", "now_minute", "reason"),
    [
        ([0], 4.99, None),
        ([0], 5, BatchReason.QUIET),
        ([0, 2, 4], 8, None),  # the last message is only 4 minutes old
        ([0, 2, 4], 9, BatchReason.QUIET),
        ([0, 4, 8, 12, 16, 20, 24, 28], 29, None),  # lively, but not yet 30 minutes
        ([0, 4, 8, 12, 16, 20, 24, 28], 30, BatchReason.MAX_DELAY),  # never quiet: flushed anyway
    ],
)
def test_readiness(minutes: list[float], now_minute: float, reason: BatchReason | None) -> None:
    items = [item(n, "room:!r", m) for n, m in enumerate(minutes)]
    ready = ready_batches(items, T0 + timedelta(minutes=now_minute), POLICY)
    if reason is None:
        assert ready == []
    else:
        assert len(ready) == 1
        assert ready[0].reason is reason
        assert ready[0].post_ids == tuple(range(len(minutes)))


def test_items_without_not_before_use_the_quiet_period() -> None:
    items = [item(1, "k", 0, not_before=False)]
    assert ready_batches(items, T0 + timedelta(minutes=4), POLICY) == []
    assert len(ready_batches(items, T0 + QUIET, POLICY)) == 1


def test_a_later_not_before_on_the_row_is_honoured() -> None:
    late = BatchItem(1, "k", T0, not_before=T0 + timedelta(minutes=12))
    assert ready_batches([late], T0 + timedelta(minutes=10), POLICY) == []
    assert ready_batches([late], T0 + timedelta(minutes=12), POLICY)[0].reason is BatchReason.QUIET


def test_batches_are_separate_per_key_and_ordered_by_creation() -> None:
    items = [
        item(3, "thread:9", 1),
        item(1, "room:!r", 0),
        item(4, "room:!r", 2),
        item(2, "thread:8", 0.5),
        item(5, "thread:7", 20),  # still settling
    ]
    ready = ready_batches(items, T0 + timedelta(minutes=8), POLICY)
    assert [batch.key for batch in ready] == ["room:!r", "thread:8", "thread:9"]
    assert ready[0].post_ids == (1, 4)
    assert ready[0].first_created_at == T0


def test_items_within_a_batch_are_in_creation_order() -> None:
    items = [item(3, "k", 2), item(1, "k", 0), item(2, "k", 1)]
    (batch,) = ready_batches(items, T0 + timedelta(minutes=10), POLICY)
    assert batch.post_ids == (1, 2, 3)
    assert [i.created_at for i in batch.items] == sorted(i.created_at for i in items)


def test_equal_times_are_ordered_by_post_id() -> None:
    items = [item(2, "k", 0), item(1, "k", 0)]
    (batch,) = ready_batches(items, T0 + QUIET, POLICY)
    assert batch.post_ids == (1, 2)


def test_per_message_policy_flushes_everything_pending() -> None:
    items = [item(1, "a", 0), item(2, "b", 1)]
    ready = ready_batches(items, T0, RelayPolicy())
    assert [b.reason for b in ready] == [BatchReason.PER_MESSAGE] * 2
    assert next_batch_due(items, RelayPolicy()) == T0


def test_nothing_pending() -> None:
    assert ready_batches([], T0, POLICY) == []
    assert next_batch_due([], POLICY) is None


@pytest.mark.parametrize(
    ("minutes", "due_minute"),
    [
        ([0], 5),
        ([0, 3], 8),
        ([0, 4, 8, 12, 16, 20, 24, 28], 30),  # the max delay comes before the quiet moment
    ],
)
def test_next_batch_due(minutes: list[float], due_minute: float) -> None:
    items = [item(n, "k", m) for n, m in enumerate(minutes)]
    due = next_batch_due(items, POLICY)
    assert due == T0 + timedelta(minutes=due_minute)
    assert ready_batches(items, due - timedelta(seconds=1), POLICY) == []
    assert ready_batches(items, due, POLICY) != []


def test_next_batch_due_is_the_earliest_batch() -> None:
    items = [item(1, "a", 10), item(2, "b", 0)]
    assert next_batch_due(items, POLICY) == T0 + QUIET


def test_batch_is_a_value() -> None:
    one = Batch("k", (item(1, "k", 0),), BatchReason.QUIET)
    assert one == Batch("k", (item(1, "k", 0),), BatchReason.QUIET)
