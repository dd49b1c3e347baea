"""Open an authenticated IMAP session for the list mailbox, over TLS, STARTTLS or plain TCP.

aioimaplib speaks implicit TLS but has no STARTTLS command; many company mail servers only offer
STARTTLS on 143, so this module issues the command itself and upgrades the client's own transport with
``loop.start_tls`` before anything secret is sent. Both the online check and the inbound loop use it.
"""

from __future__ import annotations

import asyncio
import ssl

import aioimaplib

from bridge.config.schema import ImapConfig
from bridge.email.imap_responses import mailbox_name


class ImapSessionError(RuntimeError):
    """The mailbox could not be opened; the message says at which step and why."""


async def open_imap(
    imap: ImapConfig,
    password: str,
    *,
    timeout: float = 15.0,
    ssl_context: ssl.SSLContext | None = None,
) -> aioimaplib.IMAP4:
    """Connect, secure the connection as configured, log in and select the mailbox."""
    context = ssl_context or ssl.create_default_context()
    client: aioimaplib.IMAP4
    if imap.security == "tls":
        client = aioimaplib.IMAP4_SSL(
            host=imap.host, port=imap.effective_port, timeout=timeout, ssl_context=context
        )
    else:
        client = aioimaplib.IMAP4(host=imap.host, port=imap.effective_port, timeout=timeout)
    try:
        await client.wait_hello_from_server()
        if imap.security == "starttls":
            await _starttls(client, imap.host, context, timeout)
        response = await client.login(imap.user, password)
        if response.result != "OK":
            raise ImapSessionError(f"login as {imap.user} refused by {imap.host}")
        response = await client.select(mailbox_name(imap.mailbox))
        if response.result != "OK":
            raise ImapSessionError(f"mailbox {imap.mailbox!r} cannot be selected on {imap.host}")
    except BaseException:
        close_quietly(client)
        raise
    return client


async def _starttls(client: aioimaplib.IMAP4, host: str, context: ssl.SSLContext, timeout: float) -> None:
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        await asyncio.wait_for(protocol.capability(), timeout)
    if "STARTTLS" not in protocol.capabilities:
        raise ImapSessionError(f'{host} does not offer STARTTLS (set security = "tls" or "none")')
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    response = await asyncio.wait_for(protocol.execute(command), timeout)
    if response.result != "OK":
        raise ImapSessionError(f"{host} refused STARTTLS")
    loop = asyncio.get_running_loop()
    protocol.transport = await loop.start_tls(
        protocol.transport, protocol, context, server_hostname=host, ssl_handshake_timeout=timeout
    )
    # RFC 3501 §6.2.1: capabilities learnt before TLS must be discarded.
    await asyncio.wait_for(protocol.capability(), timeout)


def close_quietly(client: aioimaplib.IMAP4) -> None:
    """Drop the connection without a LOGOUT round trip (used on errors and shutdown)."""
    protocol = client.protocol
    if protocol is not None and protocol.transport is not None:
        protocol.transport.close()
