"""ImapInbox against the stack's Dovecot: order, exactly-once hand-over, cursor, IDLE, polling, marking."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from bridge.config.schema import ImapConfig
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack
from bridge.email.inbox import Backoff, ImapInbox, InboxCursor

from .conftest import Deliver, MemoryCursor, Recorder, RunInbox, SendMail, eventually, flags_in, message
from .tcp_link import TcpLink


async def test_mail_waiting_before_start_is_handed_once_in_uid_order(
    stack: Stack,
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    deliver: Deliver,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    await deliver(address, "first", "second", "third")
    config = imap_config(address)
    cursor, handle = MemoryCursor(), Recorder()

    async with run_inbox(config, cursor=cursor, handle=handle) as inbox:
        await handle.wait_for(3)
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")

    assert handle.subjects == ["first", "second", "third"]
    assert handle.uids == [1, 2, 3]
    uidvalidity = handle.mails[0].uidvalidity
    assert cursor.saves[-3:] == [InboxCursor(uidvalidity, uid) for uid in (1, 2, 3)]
    assert all(mail.internal_date is not None for mail in handle.mails)
    assert all("\\Seen" not in mail.flags for mail in handle.mails)  # fetched with BODY.PEEK
    assert inbox.stats.messages_fetched == 3
    flags = await flags_in(config, stack.mail_password)
    assert all("\\Seen" in flags[uid] for uid in (1, 2, 3)), flags


async def test_new_mail_is_announced_by_idle(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    send_mail: SendMail,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    handle = Recorder()
    latencies = []
    async with run_inbox(imap_config(address), cursor=MemoryCursor(), handle=handle) as inbox:
        for number in range(3):
            await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")
            sent = time.monotonic()
            await send_mail(message(address, f"while idling {number}"))
            await handle.wait_for(number + 1)
            latencies.append(time.monotonic() - sent)

    assert handle.subjects == [f"while idling {number}" for number in range(3)]
    assert inbox.stats.idle_wakeups == 3
    assert inbox.stats.polls == 0
    assert inbox.stats.connects == 1
    assert max(latencies) < 3.0, latencies  # Dovecot announces after ~0.5 s; polling would take 60 s
    print(f"SMTP -> handle over IDLE: {', '.join(f'{s * 1000:.0f} ms' for s in latencies)}")


async def test_failing_handle_holds_the_message_and_hands_it_again(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    deliver: Deliver,
    mail_address: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = mail_address("list")
    await deliver(address, "one", "two", "three")
    cursor, handle = MemoryCursor(), Recorder()
    handle.fail_on["two"] = 1

    async with run_inbox(imap_config(address), cursor=cursor, handle=handle) as inbox:
        await handle.wait_for(3)

    assert handle.failures == [2]
    assert handle.subjects == ["one", "two", "three"]  # two again, nothing skipped, no duplicate
    assert [saved.last_uid for saved in cursor.saves if saved.last_uid] == [1, 2, 3]
    assert inbox.stats.handle_failures == 1
    warnings = [r for r in caplog.records if r.name == "bridge.email.inbox" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "UID 2" in warnings[0].getMessage()
    assert "store unavailable for two" in warnings[0].getMessage()


async def test_a_message_that_keeps_failing_is_reported_loudly_and_still_retried(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    deliver: Deliver,
    mail_address: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = mail_address("list")
    await deliver(address, "poison", "after")
    cursor, handle = MemoryCursor(), Recorder()
    handle.fail_on["poison"] = 4

    async with run_inbox(imap_config(address), cursor=cursor, handle=handle, stuck_after=3):
        await handle.wait_for(2)

    assert handle.failures == [1, 1, 1, 1]
    assert handle.subjects == ["poison", "after"]
    errors = [r for r in caplog.records if r.name == "bridge.email.inbox" and r.levelno >= logging.ERROR]
    assert len(errors) == 2  # the third and the fourth failure
    assert "UID 1 has failed 3 times" in errors[0].getMessage()
    assert "every later message waits" in errors[0].getMessage()


async def test_restart_from_a_saved_cursor_fetches_only_newer_mail(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    deliver: Deliver,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    config = imap_config(address)
    await deliver(address, "old 1", "old 2")
    cursor, first = MemoryCursor(), Recorder()
    async with run_inbox(config, cursor=cursor, handle=first):
        await first.wait_for(2)
    await deliver(address, "new")

    second = Recorder()
    async with run_inbox(config, cursor=MemoryCursor(cursor.cursor), handle=second) as inbox:
        await second.wait_for(1)
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")

    assert second.subjects == ["new"]
    assert second.uids == [3]
    assert inbox.stats.messages_fetched == 1


async def test_processed_mail_is_moved_when_configured(
    stack: Stack,
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    deliver: Deliver,
    send_mail: SendMail,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    config = imap_config(address, processed="move", processed_mailbox="Lists Done")
    await deliver(address, "a", "b")
    handle = Recorder()

    async with run_inbox(config, cursor=MemoryCursor(), handle=handle) as inbox:
        await handle.wait_for(2)
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")
        await send_mail(message(address, "c"))
        await handle.wait_for(3)
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")

    assert handle.subjects == ["a", "b", "c"]
    assert await flags_in(config, stack.mail_password) == {}
    moved = await flags_in(config, stack.mail_password, "Lists Done")
    assert len(moved) == 3


async def test_changed_uidvalidity_replays_the_mailbox_from_the_start(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    deliver: Deliver,
    mail_address: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = mail_address("list")
    await deliver(address, "x", "y")
    # A cursor from before the mailbox was rebuilt: same numbers, another UIDVALIDITY.
    cursor, handle = MemoryCursor(InboxCursor(uidvalidity=7, last_uid=2)), Recorder()

    async with run_inbox(imap_config(address), cursor=cursor, handle=handle) as inbox:
        await handle.wait_for(2)

    assert handle.subjects == ["x", "y"]
    uidvalidity = handle.mails[0].uidvalidity
    assert uidvalidity != 7
    assert cursor.cursor == InboxCursor(uidvalidity, 2)
    assert inbox.stats.replays == 1
    assert any("UIDVALIDITY changed from 7" in r.getMessage() for r in caplog.records)


async def test_polling_when_idle_is_off(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    send_mail: SendMail,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    config = imap_config(address, idle=False, poll_interval_seconds=0.2)
    handle = Recorder()

    async with run_inbox(config, cursor=MemoryCursor(), handle=handle) as inbox:
        await eventually(lambda: inbox.stats.polls >= 2, what="two polls")
        await send_mail(message(address, "polled"))
        await handle.wait_for(1)

    assert handle.subjects == ["polled"]
    assert inbox.stats.idle_wakeups == 0
    assert inbox.stats.waiting_with is None  # stopped


async def test_idle_is_renewed_and_still_delivers(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    send_mail: SendMail,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    handle = Recorder()
    options = {"cursor": MemoryCursor(), "handle": handle, "idle_renew_seconds": 0.2}
    async with run_inbox(imap_config(address), **options) as inbox:
        await asyncio.sleep(0.7)  # three renewals or so
        await send_mail(message(address, "after renewals"))
        await handle.wait_for(1)

    assert handle.subjects == ["after renewals"]
    assert inbox.stats.connects == 1


async def test_unreachable_server_is_retried_with_backoff_and_logged_once(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    mail_address: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.email.inbox")
    config = imap_config(mail_address("list"), port=free_port())  # nothing listens there
    async with run_inbox(config, cursor=MemoryCursor(), handle=Recorder()) as inbox:
        await eventually(lambda: inbox.stats.connect_failures >= 5, what="five attempts")
    lines = [r for r in caplog.records if r.name == "bridge.email.inbox" and r.levelno >= logging.INFO]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "unreachable: connection refused" in lines[0].getMessage()
    assert inbox.stats.connects == 0


async def test_server_outage_then_recovery(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    imap_link: TcpLink,
    send_mail: SendMail,
    mail_address: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.email.inbox")
    address = mail_address("list")
    config = imap_config(address, host=imap_link.host, port=imap_link.port)
    handle = Recorder()
    async with run_inbox(config, cursor=MemoryCursor(), handle=handle) as inbox:
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")
        await imap_link.down()
        await eventually(lambda: inbox.stats.connect_failures >= 3, what="failed reconnects")
        await send_mail(message(address, "during the outage"))
        await imap_link.up()
        await handle.wait_for(1)
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle again")

    assert handle.subjects == ["during the outage"]
    messages = [r.getMessage() for r in caplog.records if r.name == "bridge.email.inbox"]
    assert sum("connection lost" in line for line in messages) == 1
    assert sum("back after" in line for line in messages) == 1
    assert not any("unreachable" in line for line in messages)  # the outage was already reported


async def test_connection_cut_while_idling_is_reconnected(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    imap_link: TcpLink,
    send_mail: SendMail,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    config = imap_config(address, host=imap_link.host, port=imap_link.port)
    handle = Recorder()
    async with run_inbox(config, cursor=MemoryCursor(), handle=handle) as inbox:
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")
        cut = time.monotonic()
        await imap_link.cut()
        await eventually(lambda: inbox.stats.connects == 2, what="reconnect")
        reconnect = time.monotonic() - cut
        await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle again")
        await send_mail(message(address, "after the cut"))
        await handle.wait_for(1)

    assert handle.subjects == ["after the cut"]
    assert reconnect < 3.0  # noticed at once, not at the next IDLE renewal
    assert inbox.stats.idle_wakeups == 1


async def test_cancelling_the_task_closes_the_connection(
    stack: Stack,
    imap_config: Callable[..., ImapConfig],
    imap_link: TcpLink,
    mail_address: Callable[..., str],
) -> None:
    config = imap_config(mail_address("list"), host=imap_link.host, port=imap_link.port)
    inbox = ImapInbox(config, stack.mail_password, cursor=MemoryCursor(), handle=Recorder())
    task = asyncio.create_task(inbox.run())
    await eventually(lambda: inbox.stats.waiting_with == "idle", what="idle")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The client side is gone: the link's connection ends without the test cutting it.
    await eventually(lambda: not imap_link.open_connections, what="connection closed", timeout=2)


async def test_stop_during_a_retry_pause_returns_at_once(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    deliver: Deliver,
    mail_address: Callable[..., str],
) -> None:
    address = mail_address("list")
    await deliver(address, "never stored")
    cursor, handle = MemoryCursor(), Recorder()
    handle.fail_on["never stored"] = 1000
    slow = Backoff(first=30, longest=60)
    async with run_inbox(imap_config(address), cursor=cursor, handle=handle, retry=slow):
        await eventually(lambda: len(handle.failures) == 1, what="a failure")
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 2
    assert cursor.cursor is not None
    assert cursor.cursor.last_uid == 0  # still before the message: it is read again next time


async def test_a_missing_mailbox_is_reported_once_and_retried(
    imap_config: Callable[..., ImapConfig],
    run_inbox: RunInbox,
    mail_address: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.email.inbox")
    config = imap_config(mail_address("list"), mailbox="Lists")  # not created yet
    async with run_inbox(config, cursor=MemoryCursor(), handle=Recorder()) as inbox:
        await eventually(lambda: inbox.stats.connect_failures >= 3, what="three attempts")
    lines = [r.getMessage() for r in caplog.records if r.name == "bridge.email.inbox"]
    assert len(lines) == 1, lines
    assert "'Lists' cannot be selected" in lines[0]
