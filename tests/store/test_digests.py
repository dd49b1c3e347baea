"""Digest deliveries and readers on both engines: one digest per reader and slot whoever sends it,
leases taken over after a crash, retries, feedback, subscriptions, and the facts a digest is made of."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.model import DeliveryMode, DeliveryState, MembershipState, PracticeState, Role
from bridge.store import CommunityRecord, NewThread, RequestOutcome, SettingsChange, Store
from bridge.store.digest_sources import CommunityText, DigestSource
from bridge.store.models import Practice
from tests.store.conftest import T0, email_message, matrix_message

WEEK = (T0 - timedelta(days=7), T0)


async def test_one_digest_per_member_and_slot(store: Store, community: CommunityRecord) -> None:
    [ana, *_] = await store.communities.recipients(community.id)
    assert await store.digests.last(ana.membership_id) is None
    first = await store.digests.begin(ana.membership_id, *WEEK, worker="a", lease_until=T0)
    assert first is not None
    assert await store.digests.begin(ana.membership_id, *WEEK, worker="b") is None  # a second sender
    # Another sender that computed another start for the same slot is refused too: the slot decides.
    assert await store.digests.begin(ana.membership_id, T0 - timedelta(days=3), T0, worker="b") is None

    await store.digests.abandon(first)  # a dry run: nothing left
    retry = await store.digests.begin(ana.membership_id, *WEEK)
    assert retry is not None
    await store.digests.mark_sent(retry, "d1@lists.example.com", T0 + timedelta(minutes=1))
    assert await store.digests.begin(ana.membership_id, *WEEK) is None
    last = await store.digests.last(ana.membership_id)
    assert last is not None
    assert (last.state, last.period_end, last.message_id) == (DeliveryState.SENT, T0, "d1@lists.example.com")
    next_week = await store.digests.begin(ana.membership_id, T0, T0 + timedelta(days=7))
    assert next_week is not None
    assert await store.digests.last_ends([ana.membership_id, 999]) == {
        ana.membership_id: T0 + timedelta(days=7)
    }


async def test_a_dead_senders_claim_is_taken_over_once_its_lease_runs_out(
    store: Store, community: CommunityRecord
) -> None:
    [ana, *_] = await store.communities.recipients(community.id)
    lease = T0 + timedelta(minutes=5)
    claimed = await store.digests.begin(ana.membership_id, *WEEK, worker="dead", lease_until=lease)
    assert claimed is not None
    assert await store.digests.stale(community.id, T0 + timedelta(minutes=1)) == []
    assert not await store.digests.take_over(
        claimed, worker="b", now=T0 + timedelta(minutes=1), lease_until=lease
    )
    later = T0 + timedelta(minutes=6)
    [stale] = await store.digests.stale(community.id, later)
    assert stale.id == claimed
    # Two live senders see it at once: one wins.
    won = [
        await store.digests.take_over(claimed, worker=w, now=later, lease_until=later + timedelta(minutes=5))
        for w in ("b", "c")
    ]
    assert won == [True, False]
    await store.digests.retry_later(claimed, "smtp down", later + timedelta(minutes=1))
    [waiting] = await store.digests.stale(community.id, later + timedelta(minutes=2))
    assert (waiting.attempts, waiting.last_error) == (2, "smtp down")
    await store.digests.give_up(claimed, "550 no such user")
    assert await store.digests.stale(community.id, later + timedelta(hours=1)) == []
    dead = await store.digests.get(claimed)
    assert dead is not None
    assert dead.state is DeliveryState.DEAD


async def test_feedback_is_one_answer_per_digest_the_last_one_standing(
    store: Store, community: CommunityRecord
) -> None:
    members = await store.communities.recipients(community.id)
    ids = []
    for member in members:
        digest = await store.digests.begin(member.membership_id, *WEEK)
        assert digest is not None
        await store.digests.mark_sent(digest, f"d{digest}@x", T0)
        ids.append(digest)
    assert await store.digests.record_feedback(ids[0], False, T0)
    assert await store.digests.record_feedback(ids[0], True, T0 + timedelta(minutes=1))  # changed their mind
    assert await store.digests.record_feedback(ids[1], False, T0)
    assert not await store.digests.record_feedback(10_000, True, T0)
    counts = await store.digests.feedback_counts(community.id, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert (counts.digests, counts.useful, counts.not_useful) == (3, 1, 1)


async def test_a_self_subscription_is_pending_until_confirmed(
    store: Store, community: CommunityRecord
) -> None:
    subs = store.subscriptions
    change = SettingsChange(DeliveryMode.DIGEST, "daily", "Asia/Kolkata", ("Risk", "estimation"))
    membership, outcome = await subs.request(community.id, email="Dee@Example.net", name="Dee", change=change)
    assert outcome is RequestOutcome.NEW
    again, outcome = await subs.request(community.id, email="dee@example.net", name="Dee", change=change)
    assert (again, outcome) == (membership, RequestOutcome.PENDING)
    reader = await subs.reader(membership)
    assert reader is not None
    assert (reader.state, reader.role, reader.email) == (
        MembershipState.PENDING,
        Role.READER,
        "dee@example.net",
    )
    assert (reader.digest_frequency, reader.time_zone) == ("daily", "Asia/Kolkata")
    assert reader.followed_tags == {"risk", "estimation"}
    assert not reader.wants_digest  # pending: nothing until confirmed
    members = {m.email: m for m in await store.communities.members(community.id)}
    assert members["dee@example.net"].state is MembershipState.PENDING

    assert await subs.confirm(membership, T0)
    assert not await subs.confirm(membership, T0)  # confirming twice changes nothing
    reader = await subs.reader(membership)
    assert reader is not None
    assert reader.wants_digest
    assert reader.subscribed_at == T0

    # A roster member asking is a change of settings, not a new (pending) subscription.
    ana, outcome = await subs.request(community.id, email="ana@example.org", name="Ana", change=change)
    assert outcome is RequestOutcome.MEMBER
    assert (await subs.reader(ana)).state is MembershipState.ACTIVE  # type: ignore[union-attr]
    assert await subs.change(ana, SettingsChange(delivery=DeliveryMode.BOTH, followed_tags=()))
    ana_reader = await subs.reader_by_email(community.id, "ANA@example.org")
    assert ana_reader is not None
    assert (ana_reader.delivery, ana_reader.followed_tags, ana_reader.wants_digest) == (
        DeliveryMode.BOTH,
        frozenset(),
        True,
    )
    # Withdrawing works only while pending.
    pending, _ = await subs.request(community.id, email="eve@example.net", name="Eve", change=change)
    assert await subs.withdraw(pending)
    assert await subs.reader(pending) is None
    assert not await subs.withdraw(membership)
    readers = await subs.readers(community.id)
    assert [r.email for r in readers] == [
        "ana@example.org",
        "bo@example.org",
        "cy@example.org",
        "dee@example.net",
    ]
    assert [r.wants_digest for r in readers] == [True, False, True, True]  # Cy is a roster reader


async def test_the_digest_source_reads_a_period_and_the_one_before(
    store: Store, community: CommunityRecord
) -> None:
    start, end = WEEK
    old = await store.posts.ingest(
        email_message("<old@x>", "An old thread started before the week."),
        community_id=community.id,
        thread=NewThread("Old", "old"),
        author_id=None,
        now=start - timedelta(days=2),
    )
    await store.posts.ingest(
        matrix_message("$reply", "Still going this week."),
        community_id=community.id,
        thread=old.thread_id,
        author_id=None,
        parent_id=old.post_id,
        now=start + timedelta(days=1),
    )
    async with store.db.session() as conn:
        await Practice.create(
            community_id=community.id,
            thread_id=old.thread_id,
            title="Keep threads alive",
            state=PracticeState.CONFIRMED,
            created_at=start - timedelta(days=1),
            confirmed_at=start + timedelta(days=2),
            updated_at=start + timedelta(days=2),
            using_db=conn,
        )
    text = CommunityText("pm-practice", "PM", "Plan better.", "https://icop.example.com")
    source = await DigestSource.load(store.db, community.id, text, start - timedelta(days=7), end)
    period = source.period(start, end)
    [thread] = period.threads
    assert (thread.thread_id, thread.subject, thread.root_text) == (
        old.thread_id,
        "Old",
        "An old thread started before the week.",
    )
    assert [p.text for p in thread.posts] == ["Still going this week."]  # only the week's posts
    assert thread.practice is PracticeState.CONFIRMED
    assert [p.title for p in period.practices] == ["Keep threads alive"]
    before = source.period(start - timedelta(days=7), start)
    assert [t.thread_id for t in before.threads] == [old.thread_id]


async def test_claims_by_the_batch_win_only_free_slots(store: Store, community: CommunityRecord) -> None:
    members = [m.membership_id for m in await store.communities.recipients(community.id)]
    start, end = WEEK
    taken = await store.digests.begin(members[0], start, end, worker="other")
    assert taken is not None
    claims = [(m, start, end) for m in members]
    won = await store.digests.begin_many(claims, worker="run-1", lease_until=T0 + timedelta(minutes=10))
    assert sorted(won) == members[1:]  # the slot another sender holds is left out
    assert await store.digests.begin_many(claims, worker="run-2", lease_until=T0) == {}
    # Nothing new for the next slot: recorded as handled, not leased, so no run weighs it again.
    later = [(m, end, end + timedelta(days=7)) for m in members]
    handled = await store.digests.begin_many(
        later, worker="run-3", lease_until=T0, state=DeliveryState.CANCELLED
    )
    assert len(handled) == len(members)
    # Later, only run-1's unfinished claims are stale; the handled slots never are.
    stale = await store.digests.stale(community.id, end + timedelta(days=30))
    assert sorted(d.id for d in stale) == sorted(won.values())
    ends = await store.digests.last_ends(members)
    assert set(ends.values()) == {end + timedelta(days=7)}
