"""The verdict of one online check (``icop check --online``): which server, ok or not, and why in one line."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProbeResult:
    target: str  # e.g. "matrix https://matrix.example.com", "imap imap.example.com:993"
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.target}: {self.detail}"


def describe_network_error(error: BaseException) -> str:
    """A one-line reason for a failed connection, without a traceback."""
    if isinstance(error.__cause__, OSError | TimeoutError):
        error = error.__cause__  # client libraries wrap the socket error; the socket error says why
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
