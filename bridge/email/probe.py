"""Online checks of the IMAP mailbox and the SMTP server: connect, secure, log in, and say what failed."""

from __future__ import annotations

import aiosmtplib

from bridge.config.schema import ImapConfig, SmtpConfig
from bridge.config.secrets import SecretRef, SecretUnavailableError
from bridge.email.imap_session import ImapSessionError, close_quietly, open_imap
from bridge.probe import ProbeResult, describe_network_error


async def probe_imap(imap: ImapConfig, password: SecretRef | None, timeout: float = 10) -> ProbeResult:
    target = f"imap {imap.host}:{imap.effective_port}"
    try:
        secret = password.read() if password else ""
    except SecretUnavailableError as error:
        return ProbeResult(target, False, str(error))
    try:
        client = await open_imap(imap, secret, timeout=timeout)
    except ImapSessionError as error:
        return ProbeResult(target, False, str(error))
    except Exception as error:  # any failure is the verdict, never a traceback
        return ProbeResult(target, False, describe_network_error(error))
    idle = "IDLE" if client.has_capability("IDLE") else "no IDLE (will poll)"
    try:
        await client.logout()
    except Exception:  # the verdict is already known; a slow LOGOUT does not change it
        close_quietly(client)
    return ProbeResult(target, True, f"logged in as {imap.user}, {imap.mailbox} selected, {idle}")


async def probe_smtp(smtp: SmtpConfig, password: SecretRef | None, timeout: float = 10) -> ProbeResult:
    target = f"smtp {smtp.host}:{smtp.effective_port}"
    try:
        secret = password.read() if password else None
    except SecretUnavailableError as error:
        return ProbeResult(target, False, str(error))
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.effective_port,
        use_tls=smtp.security == "tls",
        start_tls=smtp.security == "starttls",
        timeout=timeout,
    )
    try:
        await client.connect()
        if smtp.user and secret is not None:
            await client.login(smtp.user, secret)
        detail = f"connected ({smtp.security})" + (f", logged in as {smtp.user}" if smtp.user else "")
        await client.quit()
        return ProbeResult(target, True, detail)
    except aiosmtplib.SMTPAuthenticationError:
        return ProbeResult(target, False, f"login as {smtp.user} refused")
    except Exception as error:
        return ProbeResult(target, False, describe_network_error(error))
    finally:
        if client.is_connected:
            client.close()
