"""SmtpSender against a scripted aiosmtpd in the test's loop: 4xx/5xx at each step, a session dropped
between two mails, AUTH, implicit TLS and STARTTLS."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from bridge.config.schema import Security, SmtpConfig
from bridge.email.smtp import SmtpPermanentError, SmtpSender, SmtpTemporaryError
from tests.fixtures.required import missing

from .local_smtp import PASSWORD, USER, LocalSmtp, local_smtp, make_certificate

MAIL = b"From: list@example.test\r\nSubject: hello\r\n\r\nhello\r\n"
SENDER = "list-bounces@example.test"


def config_for(server: LocalSmtp, security: Security = "none", **keys: object) -> SmtpConfig:
    return SmtpConfig.model_validate({"host": server.host, "port": server.port, "security": security, **keys})


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    if shutil.which("openssl") is None:
        missing("openssl, to make a test certificate (scripts/bootstrap installs it)")
    return make_certificate(Path(tmp_path_factory.mktemp("tls")))


async def test_4xx_for_the_only_recipient_is_temporary() -> None:
    async with local_smtp() as server:
        server.handler.rcpt_replies["ana@example.test"] = "452 4.2.2 mailbox full"
        sender = SmtpSender(config_for(server), None)
        try:
            with pytest.raises(SmtpTemporaryError) as raised:
                await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        finally:
            await sender.close()
    assert raised.value.refused["ana@example.test"].code == 452
    assert "mailbox full" in str(raised.value)


async def test_mixed_refusals_are_temporary_while_any_could_still_succeed() -> None:
    async with local_smtp() as server:
        server.handler.rcpt_replies.update(
            {"a@example.test": "550 5.1.1 no such user", "b@example.test": "451 4.3.0 later"}
        )
        sender = SmtpSender(config_for(server), None)
        try:
            with pytest.raises(SmtpTemporaryError) as raised:
                await sender.send(MAIL, envelope_from=SENDER, recipients=["a@example.test", "b@example.test"])
        finally:
            await sender.close()
    refused = raised.value.refused
    assert (refused["a@example.test"].permanent, refused["b@example.test"].permanent) == (True, False)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("554 5.6.0 message content rejected", SmtpPermanentError),
        ("451 4.7.1 greylisted", SmtpTemporaryError),
    ],
)
async def test_a_refused_message_carries_the_server_reply(reply: str, kind: type[Exception]) -> None:
    async with local_smtp() as server:
        server.handler.data_reply = reply
        sender = SmtpSender(config_for(server), None)
        try:
            with pytest.raises(kind) as raised:
                await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
            server.handler.data_reply = None
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])  # session reused
        finally:
            await sender.close()
    assert str(raised.value).endswith(reply)
    assert sender.stats.connects == 1


async def test_a_session_dropped_as_the_next_mail_starts_is_retried_once_on_a_new_one() -> None:
    async with local_smtp() as server:
        server.handler.drop_before_mail.add(2)  # the server hangs up on the pooled session's next MAIL
        sender = SmtpSender(config_for(server), None)
        try:
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        finally:
            await sender.close()
    assert len(server.handler.received) == 2
    assert (sender.stats.connects, sender.stats.replaced, sender.stats.reuses) == (2, 1, 0)


async def test_a_fresh_session_dropped_is_not_retried() -> None:
    async with local_smtp() as server:
        server.handler.drop_before_mail.add(1)
        sender = SmtpSender(config_for(server), None)
        try:
            with pytest.raises(SmtpTemporaryError):
                await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        finally:
            await sender.close()
    assert sender.stats.connects == 1


async def test_an_idle_session_is_checked_before_reuse() -> None:
    async with local_smtp() as server:
        sender = SmtpSender(config_for(server), None, check_idle_after=0)
        try:
            for _ in range(3):
                await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        finally:
            await sender.close()
    assert (sender.stats.connects, sender.stats.reuses) == (1, 2)


async def test_auth_when_a_user_is_configured() -> None:
    async with local_smtp(auth=True) as server:
        sender = SmtpSender(config_for(server, user=USER, password_env="SMTP_PASSWORD"), PASSWORD)
        wrong = SmtpSender(config_for(server, user=USER, password_env="SMTP_PASSWORD"), "wrong")
        try:
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
            with pytest.raises(SmtpTemporaryError, match="login refused"):
                await wrong.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        finally:
            await sender.close()
            await wrong.close()
    assert len(server.handler.received) == 1


async def test_starttls_then_auth(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    async with local_smtp(starttls=server_context, auth=True) as server:
        config = config_for(server, "starttls", user=USER, password_env="SMTP_PASSWORD")
        sender = SmtpSender(config, PASSWORD, ssl_context=client_context)
        try:
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ben@example.test"])
        finally:
            await sender.close()
    assert [envelope.rcpt_tos for envelope in server.handler.received] == [
        ["ana@example.test"],
        ["ben@example.test"],
    ]
    assert sender.stats.connects == 1


async def test_implicit_tls(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    async with local_smtp(implicit_tls=server_context) as server:
        sender = SmtpSender(config_for(server, "tls"), None, ssl_context=client_context)
        try:
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        finally:
            await sender.close()
    assert len(server.handler.received) == 1


async def test_an_untrusted_certificate_is_temporary(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, _ = tls
    async with local_smtp(implicit_tls=server_context) as server:
        sender = SmtpSender(config_for(server, "tls"), None)  # the system's trust store
        try:
            with pytest.raises(SmtpTemporaryError, match=r"TLS|certificate"):
                await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        finally:
            await sender.close()


async def test_a_closed_sender_refuses_temporarily() -> None:
    async with local_smtp() as server:
        sender = SmtpSender(config_for(server), None)
        await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
        await sender.close()
        with pytest.raises(SmtpTemporaryError, match="closed"):
            await sender.send(MAIL, envelope_from=SENDER, recipients=["ana@example.test"])
