"""Why handling a message failed, sorted by what retrying can do about it (DESIGN §8).

- ``TRANSIENT``: a server or the database unreachable, a timeout, a lock, a serialisation conflict.
  Retrying in order is right: the message is fine and every later one would fail the same way.
- ``PERMANENT``: the message itself breaks something (a parser, a constraint, a validation, a value
  the code refuses). Retrying gives the same answer: the message is parked and the stream moves on.
- ``UNEXPECTED``: anything else, a bug most likely. It is retried a few times, since it may be a
  transient failure nobody foresaw, then parked like a permanent one.

The exception and its causes (``__cause__``, ``__context__``) are read in turn; the first that tells
decides. Drivers wrap their errors (tortoise's ``OperationalError`` around asyncpg's or sqlite3's), so
the wrapped error is what tells: PostgreSQL by its SQLSTATE class, SQLite by its message.
"""

from __future__ import annotations

import email.errors
import sqlite3
from enum import StrEnum

import pydantic
from tortoise import exceptions as orm

from bridge.email.smtp import SmtpTemporaryError
from bridge.matrix.session import MatrixPermanentError, MatrixTemporaryError
from bridge.store.database import DatabaseOpenError


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNEXPECTED = "unexpected"


class MessageFailure(Exception):
    """Raised by the relay for a message it knows it cannot handle, with the kind it is."""

    def __init__(self, reason: str, kind: FailureKind = FailureKind.PERMANENT) -> None:
        super().__init__(reason)
        self.kind = kind


# PostgreSQL SQLSTATE classes (Appendix A): connection, transaction rollback (deadlock, serialisation),
# insufficient resources, operator intervention (shutdown), system error; and "lock not available".
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_TRANSIENT_SQLSTATES = frozenset({"55P03", "55006"})
# Data exceptions (a value too long, a bad encoding, NUL in text) and integrity constraint violations.
_PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23"})
_SQLITE_TRANSIENT_WORDS = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")

_MAX_CHAIN = 12


def classify_failure(error: BaseException) -> FailureKind:
    """The kind of ``error``, from the first exception in its chain that tells."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        kind = _kind_of(current)
        if kind is not None:
            return kind
        current = current.__cause__ or current.__context__
    return FailureKind.UNEXPECTED


def describe_failure(error: BaseException, limit: int = 500) -> str:
    """One line for the log, the parked list and the conveners: the type and the message, shortened."""
    text = " ".join(str(error).split())
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _kind_of(error: BaseException) -> FailureKind | None:
    if isinstance(error, MessageFailure):
        return error.kind
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return _postgres_kind(sqlstate)
    if isinstance(error, sqlite3.Error):
        return _sqlite_kind(error)
    if isinstance(
        error, MatrixTemporaryError | SmtpTemporaryError | DatabaseOpenError | orm.DBConnectionError
    ):
        return FailureKind.TRANSIENT
    if isinstance(error, OSError | TimeoutError | ConnectionError):
        return FailureKind.TRANSIENT
    if isinstance(
        error,
        orm.IntegrityError
        | orm.ValidationError
        | orm.FieldError
        | orm.ParamsError
        | pydantic.ValidationError
        | email.errors.MessageError
        | MatrixPermanentError
        | ValueError  # UnicodeError, binascii.Error and every "this value is not acceptable"
        | RecursionError,  # a structure nested deeper than any parser goes
    ):
        return FailureKind.PERMANENT
    return None


def _postgres_kind(sqlstate: str) -> FailureKind | None:
    if sqlstate in _TRANSIENT_SQLSTATES or sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES:
        return FailureKind.TRANSIENT
    if sqlstate[:2] in _PERMANENT_SQLSTATE_CLASSES:
        return FailureKind.PERMANENT
    return None


def _sqlite_kind(error: sqlite3.Error) -> FailureKind | None:
    if isinstance(error, sqlite3.IntegrityError | sqlite3.DataError):
        return FailureKind.PERMANENT
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        if any(word in message for word in _SQLITE_TRANSIENT_WORDS):
            return FailureKind.TRANSIENT
    return None
