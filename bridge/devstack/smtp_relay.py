"""An SMTP server that hands every recipient to Dovecot's LMTP: the stack's SMTP side without root.

Postfix needs root to start; this relay gives the same contract (any recipient on 127.0.0.1 lands in its
own mailbox, ``+detail`` kept in ``Delivered-To``) for an unprivileged run. It runs as a child process,
``python -m bridge.devstack.smtp_relay --port P --lmtp-port L``, so the stack manages it like the
other servers, and its event loop never shares a thread with the code under test.

Each recipient gets its own LMTP transaction: ``smtplib.LMTP`` misreads the per-recipient replies of a
multi-recipient transaction, and Dovecot writes ``Delivered-To`` only when a transaction has one recipient.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import smtplib
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

LOG = logging.getLogger("bridge.devstack.smtp_relay")
HOSTNAME = "relay.example.test"


class LmtpHandOff:
    """aiosmtpd handler: deliver DATA to each recipient over LMTP, one transaction per recipient."""

    def __init__(self, lmtp_host: str, lmtp_port: int) -> None:
        self.lmtp_host = lmtp_host
        self.lmtp_port = lmtp_port

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        sender = envelope.mail_from or "<>"
        failures = []
        for recipient in envelope.rcpt_tos:
            try:
                await asyncio.to_thread(self._deliver, sender, recipient, content)
            except (OSError, smtplib.SMTPException) as error:
                LOG.warning("LMTP delivery to %s failed: %s", recipient, error)
                failures.append(recipient)
            else:
                LOG.info("delivered %d bytes from %s to %s", len(content), sender, recipient)
        if failures:
            return f"451 4.3.0 LMTP delivery failed for {', '.join(failures)}"
        return "250 2.0.0 delivered"

    def _deliver(self, sender: str, recipient: str, content: bytes) -> None:
        with smtplib.LMTP(self.lmtp_host, self.lmtp_port, local_hostname=HOSTNAME) as lmtp:
            lmtp.sendmail(sender, [recipient], content)


async def serve(host: str, port: int, lmtp_host: str, lmtp_port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    handler = LmtpHandOff(lmtp_host, lmtp_port)

    def smtp_session() -> SMTP:
        # A fixed hostname: aiosmtpd would otherwise ask the resolver for the FQDN (slow offline).
        return SMTP(handler, hostname=HOSTNAME, decode_data=False, data_size_limit=50_000_000)

    server = await loop.create_server(smtp_session, host, port)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    LOG.info("SMTP relay on %s:%d -> LMTP %s:%d", host, port, lmtp_host, lmtp_port)
    async with server:
        await stopping.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP to LMTP relay for the dev stack")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lmtp-host", default="127.0.0.1")
    parser.add_argument("--lmtp-port", type=int, required=True)
    args: Any = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    asyncio.run(serve(args.host, args.port, args.lmtp_host, args.lmtp_port))


if __name__ == "__main__":
    main()
