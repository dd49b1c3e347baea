"""SMTP with a commit point before the final dot, against a scripted aiosmtpd in the test's loop:
the commit runs while the server does not yet have the mail, a failing commit leaves the server
without it, and a refusal after the dot reaches the caller."""

from __future__ import annotations

import asyncio

import pytest

from bridge.config.schema import SmtpConfig
from bridge.email.smtp import SmtpSender, SmtpTemporaryError

from .local_smtp import local_smtp

MAIL = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n"


class Refused(Exception):
    pass


async def test_the_commit_runs_before_the_server_has_the_mail_and_a_failed_commit_sends_nothing() -> None:
    async with local_smtp() as server:
        sender = SmtpSender(SmtpConfig(host=server.host, port=server.port, security="none"), None)
        seen_at_commit: list[int] = []

        async def commit() -> None:
            seen_at_commit.append(len(server.handler.received))

        try:
            await sender.send_committed(
                MAIL, envelope_from="l@example.test", recipient="b@example.test", commit=commit
            )
            assert seen_at_commit == [0]  # the server had not accepted it when the store recorded it
            assert len(server.handler.received) == 1
            assert server.handler.received[0].content == MAIL.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

            async def failing() -> None:
                raise Refused

            with pytest.raises(Refused):
                await sender.send_committed(
                    MAIL, envelope_from="l@example.test", recipient="c@example.test", commit=failing
                )
            assert len(server.handler.received) == 1  # the server dropped the unfinished mail

            # The pool recovers: the next mail goes out on a fresh session.
            await sender.send_committed(
                MAIL, envelope_from="l@example.test", recipient="d@example.test", commit=commit
            )
            assert [e.rcpt_tos for e in server.handler.received] == [["b@example.test"], ["d@example.test"]]
        finally:
            await sender.close()


async def test_a_refusal_after_the_dot_reaches_the_caller_after_the_commit() -> None:
    async with local_smtp() as server:
        server.handler.data_reply = "451 4.3.0 try again later"
        sender = SmtpSender(SmtpConfig(host=server.host, port=server.port, security="none"), None)
        commits: list[str] = []

        async def commit() -> None:
            commits.append("marked")

        try:
            with pytest.raises(SmtpTemporaryError, match="451"):
                await sender.send_committed(
                    MAIL, envelope_from="l@example.test", recipient="b@example.test", commit=commit
                )
            assert commits == ["marked"]  # the caller must take its record back
        finally:
            await sender.close()


async def test_a_stop_during_the_commit_finishes_that_mail_then_stops() -> None:
    """SIGTERM cancels the sender while the store is recording the mail: the record completes, the
    mail is finished on the server, and the cancellation goes on: store and server agree."""
    async with local_smtp() as server:
        sender = SmtpSender(SmtpConfig(host=server.host, port=server.port, security="none"), None)
        recorded: list[str] = []
        started = asyncio.Event()

        async def slow_commit() -> None:
            started.set()
            await asyncio.sleep(0.3)
            recorded.append("sent")

        sending = asyncio.ensure_future(
            sender.send_committed(
                MAIL, envelope_from="l@example.test", recipient="b@example.test", commit=slow_commit
            )
        )
        try:
            await started.wait()
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending
            assert recorded == ["sent"]
            assert len(server.handler.received) == 1
        finally:
            await sender.close()
