"""Who gets what: outbox rows for a new post."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.core.model import (
    Channel,
    DeliveryKind,
    DeliveryMode,
    DeliverySpec,
    MembershipState,
    Recipient,
    Role,
)
from bridge.core.routing import (
    RelayMode,
    RelayPolicy,
    batch_key,
    email_recipients,
    plan_deliveries,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROOM = "!room:example.com"
PER_MESSAGE = RelayPolicy()
BATCHED = RelayPolicy(
    mode=RelayMode.BATCHED, quiet_period=timedelta(minutes=5), max_batch_delay=timedelta(minutes=30)
)


def member(
    membership_id: int,
    *,
    email: str | None = "",
    role: Role = Role.MEMBER,
    state: MembershipState = MembershipState.ACTIVE,
    delivery: DeliveryMode = DeliveryMode.EACH,
    own: bool = False,
) -> Recipient:
    return Recipient(
        membership_id=membership_id,
        person_id=membership_id + 1000,
        email=f"m{membership_id}@example.org" if email == "" else email,
        matrix_id=f"@m{membership_id}:example.com",
        role=role,
        state=state,
        delivery=delivery,
        receive_own_posts=own,
    )


def emails(plan: list[DeliverySpec]) -> list[str]:
    return [spec.recipient for spec in plan if spec.channel is Channel.EMAIL]


def matrix(plan: list[DeliverySpec]) -> list[str]:
    return [spec.recipient for spec in plan if spec.channel is Channel.MATRIX]


@pytest.mark.parametrize(
    ("recipient", "gets_mail"),
    [
        (member(1), True),
        (member(1, role=Role.CONVENER), True),
        (member(1, role=Role.CORE), True),
        (member(1, role=Role.READER), False),  # readers read digests
        (member(1, state=MembershipState.SUSPENDED), False),
        (member(1, state=MembershipState.BANNED), False),
        (member(1, delivery=DeliveryMode.DIGEST), False),
        (member(1, delivery=DeliveryMode.NONE), False),
        (member(1, email=None), False),  # Matrix-only member
        (member(1, email="  "), False),
        (member(1, role=Role.READER, delivery=DeliveryMode.EACH), False),
        (member(1, role=Role.CORE, state=MembershipState.SUSPENDED), False),
    ],
)
@pytest.mark.parametrize("origin", [Channel.EMAIL, Channel.MATRIX])
def test_each_role_state_and_mode(recipient: Recipient, gets_mail: bool, origin: Channel) -> None:
    plan = plan_deliveries(origin, None, [recipient], ROOM, PER_MESSAGE, NOW)
    assert emails(plan) == (["m1@example.org"] if gets_mail else [])


def test_email_post_goes_to_the_room_once_and_to_members_by_mail() -> None:
    author = member(1)
    others = [author, member(2), member(3, delivery=DeliveryMode.DIGEST), member(4)]
    plan = plan_deliveries(Channel.EMAIL, author, others, ROOM, PER_MESSAGE, NOW)
    assert plan[0] == DeliverySpec(channel=Channel.MATRIX, recipient=ROOM)
    assert matrix(plan) == [ROOM]
    assert emails(plan) == ["m2@example.org", "m4@example.org"]
    assert [spec.membership_id for spec in plan[1:]] == [2, 4]
    assert all(spec.not_before is None and spec.batch_key is None for spec in plan)


def test_email_post_without_a_room_goes_only_by_mail() -> None:
    plan = plan_deliveries(Channel.EMAIL, None, [member(2)], None, PER_MESSAGE, NOW)
    assert matrix(plan) == []
    assert emails(plan) == ["m2@example.org"]


def test_matrix_post_never_goes_back_to_matrix() -> None:
    plan = plan_deliveries(Channel.MATRIX, member(1), [member(1), member(2)], ROOM, PER_MESSAGE, NOW)
    assert matrix(plan) == []
    assert emails(plan) == ["m2@example.org"]


@pytest.mark.parametrize("origin", [Channel.EMAIL, Channel.MATRIX])
@pytest.mark.parametrize(("own", "echoed"), [(False, False), (True, True)])
def test_own_post_echo(origin: Channel, own: bool, echoed: bool) -> None:
    author = member(1, own=own)
    plan = plan_deliveries(origin, author, [author, member(2)], ROOM, PER_MESSAGE, NOW)
    assert ("m1@example.org" in emails(plan)) is echoed
    assert "m2@example.org" in emails(plan)


def test_author_recognised_by_address_when_membership_differs() -> None:
    author = member(1, email="Ana@Example.org")
    same_person = member(9, email="ana@example.org")
    plan = plan_deliveries(Channel.EMAIL, author, [same_person], ROOM, PER_MESSAGE, NOW)
    assert emails(plan) == []


def test_each_address_gets_one_mail() -> None:
    twice = [member(1, email="ana@example.org"), member(2, email="ANA@example.org ")]
    assert [r.membership_id for r in email_recipients(twice, None)] == [1]


def test_order_follows_the_recipients() -> None:
    recipients = [member(5), member(3), member(4)]
    plan = plan_deliveries(Channel.MATRIX, None, recipients, ROOM, PER_MESSAGE, NOW)
    assert emails(plan) == ["m5@example.org", "m3@example.org", "m4@example.org"]


def test_delivery_kind_is_carried() -> None:
    plan = plan_deliveries(Channel.EMAIL, None, [member(2)], ROOM, PER_MESSAGE, NOW, kind=DeliveryKind.EDIT)
    assert {spec.kind for spec in plan} == {DeliveryKind.EDIT}


# Batched relay policy


def test_batched_matrix_timeline_message_waits_with_a_room_key() -> None:
    plan = plan_deliveries(Channel.MATRIX, None, [member(2), member(3)], ROOM, BATCHED, NOW, thread_id=7)
    assert {spec.not_before for spec in plan} == {NOW + timedelta(minutes=5)}
    assert {spec.batch_key for spec in plan} == {f"room:{ROOM}"}


def test_batched_matrix_thread_reply_is_keyed_by_thread() -> None:
    plan = plan_deliveries(
        Channel.MATRIX, None, [member(2)], ROOM, BATCHED, NOW, thread_id=7, thread_reply=True
    )
    assert plan[0].batch_key == "thread:7"
    assert plan[0].not_before == NOW + timedelta(minutes=5)


def test_batched_policy_does_not_delay_mail_from_email() -> None:
    plan = plan_deliveries(Channel.EMAIL, None, [member(2)], ROOM, BATCHED, NOW, thread_id=7)
    assert all(spec.not_before is None and spec.batch_key is None for spec in plan)
    assert matrix(plan) == [ROOM]


@pytest.mark.parametrize(
    ("thread_id", "thread_reply", "key"),
    [
        (7, True, "thread:7"),
        (7, False, f"room:{ROOM}"),
        (None, True, f"room:{ROOM}"),  # no thread known yet: the room's burst
        (None, False, f"room:{ROOM}"),
    ],
)
def test_batch_key(thread_id: int | None, thread_reply: bool, key: str) -> None:
    assert batch_key(ROOM, thread_id, thread_reply=thread_reply) == key


@pytest.mark.parametrize(
    ("quiet", "max_delay"),
    [(timedelta(minutes=-1), timedelta(minutes=1)), (timedelta(minutes=10), timedelta(minutes=5))],
)
def test_relay_policy_validates(quiet: timedelta, max_delay: timedelta) -> None:
    with pytest.raises(ValueError, match="quiet_period"):
        RelayPolicy(mode=RelayMode.BATCHED, quiet_period=quiet, max_batch_delay=max_delay)


def test_relay_policy_defaults_per_message() -> None:
    assert not PER_MESSAGE.batched
    assert BATCHED.batched
    assert replace(BATCHED, mode=RelayMode.PER_MESSAGE).batched is False
