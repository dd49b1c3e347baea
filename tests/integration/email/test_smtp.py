"""SmtpSender against the stack's Postfix: reused sessions, delivery into mailboxes, refusals, outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

import pytest

from bridge.config.schema import SmtpConfig
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack
from bridge.email.smtp import SmtpPermanentError, SmtpSender, SmtpTemporaryError

from .conftest import message
from .tcp_link import TcpLink

SENDER = "list-bounces@lists.example.test"


def raw(mail: EmailMessage) -> bytes:
    return mail.as_bytes()


async def test_mails_go_out_over_reused_sessions_and_arrive(
    smtp_config: Callable[..., SmtpConfig],
    mail_address: Callable[..., str],
    read_mailbox: Callable[..., Awaitable[list[EmailMessage]]],
) -> None:
    readers = [mail_address("reader") for _ in range(3)]
    sender = SmtpSender(smtp_config(connections=2), None)
    count = 30
    try:
        sends = [
            sender.send(raw(message(reader, f"post {n}")), envelope_from=SENDER, recipients=[reader])
            for n in range(count)
            for reader in [readers[n % 3]]
        ]
        results = await asyncio.gather(*sends)
    finally:
        await sender.close()

    assert all(result.accepted and not result.refused for result in results)
    assert sender.stats.mails_sent == count
    assert sender.stats.connects == 2 < count
    assert sender.stats.reuses == count - 2
    for index, reader in enumerate(readers):
        received = await read_mailbox(reader, count=count // 3)
        assert sorted(str(mail["Subject"]) for mail in received) == sorted(
            f"post {n}" for n in range(index, count, 3)
        )


async def test_one_mail_to_several_recipients(
    smtp_config: Callable[..., SmtpConfig],
    mail_address: Callable[..., str],
    read_mailbox: Callable[..., Awaitable[list[EmailMessage]]],
) -> None:
    first, second = mail_address("ana"), mail_address("ben")
    sender = SmtpSender(smtp_config(), None)
    try:
        result = await sender.send(
            raw(message(f"{first}, {second}", "to both")), envelope_from=SENDER, recipients=[first, second]
        )
    finally:
        await sender.close()
    assert result.accepted == (first, second)
    assert "queued" in result.reply.lower() or result.reply
    for reader in (first, second):
        (mail,) = await read_mailbox(reader)
        assert mail["Subject"] == "to both"


async def test_a_refused_recipient_is_reported_and_the_others_still_get_it(
    smtp_config: Callable[..., SmtpConfig],
    mail_address: Callable[..., str],
    read_mailbox: Callable[..., Awaitable[list[EmailMessage]]],
) -> None:
    good = mail_address("ana")
    sender = SmtpSender(smtp_config(), None)
    try:
        result = await sender.send(
            raw(message(good, "partly")), envelope_from=SENDER, recipients=[good, "x@"]
        )
        # The session survives the refusal and is used again.
        await sender.send(raw(message(good, "again")), envelope_from=SENDER, recipients=[good])
    finally:
        await sender.close()
    assert result.accepted == (good,)
    assert result.refused["x@"].code == 501
    assert result.refused["x@"].permanent
    assert "syntax" in result.refused["x@"].text.lower()
    assert sender.stats.connects == 1
    assert len(await read_mailbox(good, count=2)) == 2


async def test_every_recipient_refused_with_5xx_is_permanent(
    smtp_config: Callable[..., SmtpConfig],
) -> None:
    sender = SmtpSender(smtp_config(), None)
    try:
        with pytest.raises(SmtpPermanentError) as raised:
            await sender.send(b"Subject: nobody\r\n\r\nx\r\n", envelope_from=SENDER, recipients=["x@"])
    finally:
        await sender.close()
    assert raised.value.reply is not None
    assert raised.value.reply.code == 501
    assert "5.1.3" in str(raised.value)
    assert set(raised.value.refused) == {"x@"}
    assert sender.stats.failures == 1


async def test_an_address_that_cannot_go_on_the_wire_is_permanent(
    smtp_config: Callable[..., SmtpConfig],
) -> None:
    sender = SmtpSender(smtp_config(), None)
    try:
        with pytest.raises(SmtpPermanentError, match="not permitted"):
            await sender.send(
                b"Subject: x\r\n\r\nx\r\n", envelope_from=SENDER, recipients=["a b@example.test"]
            )
    finally:
        await sender.close()


async def test_connection_refused_is_temporary(smtp_config: Callable[..., SmtpConfig]) -> None:
    sender = SmtpSender(smtp_config(port=free_port()), None)
    try:
        with pytest.raises(SmtpTemporaryError, match="connection refused"):
            await sender.send(b"Subject: x\r\n\r\nx\r\n", envelope_from=SENDER, recipients=["a@example.test"])
    finally:
        await sender.close()
    assert sender.stats.connects == 0


async def test_starttls_demanded_but_not_offered_is_temporary(smtp_config: Callable[..., SmtpConfig]) -> None:
    sender = SmtpSender(smtp_config(security="starttls"), None)
    try:
        with pytest.raises(SmtpTemporaryError, match="STARTTLS"):
            await sender.send(b"Subject: x\r\n\r\nx\r\n", envelope_from=SENDER, recipients=["a@example.test"])
    finally:
        await sender.close()


@pytest.fixture
def smtp_link(stack: Stack) -> TcpLink:
    return TcpLink(stack.smtp_host, stack.smtp_port)


async def test_a_session_closed_under_the_pool_is_replaced(
    smtp_config: Callable[..., SmtpConfig],
    smtp_link: TcpLink,
    mail_address: Callable[..., str],
    read_mailbox: Callable[..., Awaitable[list[EmailMessage]]],
) -> None:
    reader = mail_address("ana")
    await smtp_link.up()
    sender = SmtpSender(smtp_config(host=smtp_link.host, port=smtp_link.port, connections=1), None)
    try:
        await sender.send(raw(message(reader, "before")), envelope_from=SENDER, recipients=[reader])
        await smtp_link.cut()  # the server (or a NAT box) drops the idle session
        await sender.send(raw(message(reader, "after")), envelope_from=SENDER, recipients=[reader])
    finally:
        await sender.close()
        await smtp_link.down()
    assert sender.stats.connects == 2
    assert sender.stats.replaced == 1
    assert sorted(str(mail["Subject"]) for mail in await read_mailbox(reader, count=2)) == ["after", "before"]


async def test_send_rate_over_reused_sessions(
    smtp_config: Callable[..., SmtpConfig], mail_address: Callable[..., str]
) -> None:
    reader = mail_address("bulk")
    sender = SmtpSender(smtp_config(connections=2), None)
    count = 200
    body = raw(message(reader, "bulk"))
    began = time.monotonic()
    try:
        await asyncio.gather(
            *(sender.send(body, envelope_from=SENDER, recipients=[reader]) for _ in range(count))
        )
    finally:
        await sender.close()
    elapsed = time.monotonic() - began
    assert sender.stats.connects == 2
    print(f"{count} mails over 2 sessions: {elapsed:.2f} s, {count / elapsed:.0f} mails/s")
