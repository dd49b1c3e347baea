"""Failures sorted by what retrying can do: each case says which kind it gets and why."""

from __future__ import annotations

import email.errors
import sqlite3

import asyncpg
import pytest
from tortoise import exceptions as orm

from bridge.email.smtp import SmtpTemporaryError
from bridge.matrix.session import MatrixPermanentError, MatrixTemporaryError
from bridge.relay.failures import FailureKind, MessageFailure, classify_failure, describe_failure
from bridge.relay.faults import FAULTS_ENV, NO_FAULTS, Faults, FaultStage, InjectedFault

T, P, U = FailureKind.TRANSIENT, FailureKind.PERMANENT, FailureKind.UNEXPECTED


def wrapped(inner: BaseException, outer: type[Exception] = orm.OperationalError) -> Exception:
    """How drivers hand errors up: tortoise raises its own while handling the driver's."""
    try:
        try:
            raise inner
        except BaseException as error:
            raise outer(str(error))  # noqa: B904 - tortoise does the same: the driver's error is the context
    except Exception as raised:
        return raised


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError("connection refused"), T),  # the database or a server is down
        (TimeoutError(), T),
        (MatrixTemporaryError("502 from the homeserver"), T),
        (SmtpTemporaryError("421 try later"), T),
        (orm.DBConnectionError("gone"), T),
        (wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed")), T),  # 08003
        (wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock")), T),  # 40P01
        (wrapped(asyncpg.exceptions.LockNotAvailableError("lock")), T),  # 55P03
        (wrapped(asyncpg.exceptions.AdminShutdownError("shutdown")), T),  # 57P01
        (wrapped(sqlite3.OperationalError("database is locked")), T),
        (wrapped(asyncpg.exceptions.StringDataRightTruncationError("value too long")), P),  # 22001
        (wrapped(asyncpg.exceptions.CharacterNotInRepertoireError("NUL")), P),  # 22021
        (wrapped(asyncpg.exceptions.UniqueViolationError("dup"), orm.IntegrityError), P),
        (wrapped(sqlite3.IntegrityError("NOT NULL constraint failed")), P),
        (orm.ValidationError("subject: Length of ... 99875 > 998"), P),  # the real 64 KB subject
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), P),
        (ValueError("not a valid header"), P),
        (email.errors.HeaderParseError("bad header"), P),
        (MatrixPermanentError("404 media not found"), P),
        (RecursionError("maximum recursion depth exceeded"), P),
        (MessageFailure("unreadable event"), P),
        (KeyError("missing"), U),  # a bug: retried a few times, then parked
        (RuntimeError("boom"), U),
        (wrapped(asyncpg.exceptions.UndefinedColumnError("no column")), U),  # 42703: a bug too
        (wrapped(sqlite3.OperationalError("no such table: post")), U),
    ],
)
def test_each_failure_gets_its_kind(error: Exception, kind: FailureKind) -> None:
    assert classify_failure(error) is kind


def test_describe_failure_is_one_short_line() -> None:
    line = describe_failure(ValueError("a\nmultiline\n" + "x" * 1000))
    assert line.startswith("ValueError: a multiline xxx")
    assert len(line) == 500
    assert "\n" not in line
    assert describe_failure(RuntimeError()) == "RuntimeError"


def test_faults_come_only_from_the_environment_variable() -> None:
    assert not Faults.from_environ({}).active
    NO_FAULTS.check(FaultStage.PARSE, b"anything")  # no marker, nothing raised
    faults = Faults.from_environ({FAULTS_ENV: "parse=P1, store=S1,handler=H1"})
    assert faults.active
    faults.check(FaultStage.STORE, "no marker here")
    with pytest.raises(InjectedFault) as parse:
        faults.check(FaultStage.PARSE, b"...P1...")
    with pytest.raises(InjectedFault) as store:
        faults.check(FaultStage.STORE, "subject S1")
    with pytest.raises(InjectedFault) as handler:
        faults.check(FaultStage.HANDLER, "H1")
    assert [classify_failure(e.value) for e in (parse, store, handler)] == [P, P, U]
    for bad in ("parser=x", "store", "store="):
        with pytest.raises(ValueError, match=FAULTS_ENV):
            Faults.from_environ({FAULTS_ENV: bad})
