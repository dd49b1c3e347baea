"""An aiosmtpd server in the test's own loop, for replies Postfix will not give on demand.

4xx and 5xx at chosen steps, a session the server drops between two mails, AUTH, implicit TLS and
STARTTLS with a throw-away certificate: the SMTP client is tested against a real protocol peer that the
test scripts, started on port 0 and recording what it received.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USER, PASSWORD = "lists@example.test", "s3cret-pass"


@dataclass
class ScriptedHandler:
    """Accepts everything unless told otherwise; records each accepted mail's envelope."""

    received: list[Envelope] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    drop_before_mail: set[int] = field(default_factory=set)
    """Numbers of MAIL commands (1-based, over all sessions) on which the server hangs up instead."""
    sessions: int = 0
    _mails: int = 0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._mails += 1
        if self._mails in self.drop_before_mail:
            assert server.transport is not None
            server.transport.close()
            return "421 4.3.0 going away"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.received.append(envelope)
        return "250 2.0.0 queued as TEST"


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    valid = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=valid, handled=False)  # handled=False: aiosmtpd answers 535 itself


@dataclass
class LocalSmtp:
    handler: ScriptedHandler
    port: int
    host: str = "127.0.0.1"


@asynccontextmanager
async def local_smtp(
    *,
    implicit_tls: ssl.SSLContext | None = None,
    starttls: ssl.SSLContext | None = None,
    auth: bool = False,
) -> AsyncIterator[LocalSmtp]:
    handler = ScriptedHandler()
    loop = asyncio.get_running_loop()

    def session() -> SMTP:
        return SMTP(
            handler,
            hostname="smtp.example.test",
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=check_login if auth else None,
            # AUTH in the clear is allowed here (a test on 127.0.0.1), but not demanded: aiosmtpd
            # warns about demanding it without TLS.
            auth_require_tls=starttls is not None,
            auth_required=auth and starttls is not None,
            loop=loop,
        )

    server = await loop.create_server(session, "127.0.0.1", 0, ssl=implicit_tls)
    try:
        yield LocalSmtp(handler, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def make_certificate(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: (server context, client context that trusts it)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client
