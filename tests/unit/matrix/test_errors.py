"""Refused requests become exceptions the outbox can act on: retry later, or park."""

from __future__ import annotations

import pytest

from bridge.config.schema import MatrixConfig
from bridge.matrix.session import (
    MatrixAuthError,
    MatrixPermanentError,
    MatrixSession,
    MatrixTemporaryError,
    StoredLogin,
    error_from_status,
)


@pytest.mark.parametrize(
    ("status", "errcode", "kind"),
    [
        (500, "M_UNKNOWN", MatrixTemporaryError),
        (502, None, MatrixTemporaryError),
        (None, None, MatrixTemporaryError),
        (429, "M_LIMIT_EXCEEDED", MatrixTemporaryError),
        (400, "M_LIMIT_EXCEEDED", MatrixTemporaryError),
        (401, "M_UNKNOWN_TOKEN", MatrixAuthError),
        (403, "M_UNKNOWN_TOKEN", MatrixAuthError),
        (403, "M_FORBIDDEN", MatrixPermanentError),
        (400, "M_BAD_JSON", MatrixPermanentError),
        (404, "M_NOT_FOUND", MatrixPermanentError),
        (413, "M_TOO_LARGE", MatrixPermanentError),
    ],
)
def test_error_kinds(status: int | None, errcode: str | None, kind: type[Exception]) -> None:
    error = error_from_status("send to !r:x", status, errcode, "because", retry_after=2.0)
    assert type(error) is kind
    assert str(error).startswith("send to !r:x: ")
    assert "\n" not in str(error)


def test_auth_errors_are_temporary_for_deliveries() -> None:
    assert issubclass(MatrixAuthError, MatrixTemporaryError)
    assert not issubclass(MatrixPermanentError, MatrixTemporaryError)


def test_retry_after_is_kept() -> None:
    error = error_from_status("x", 429, "M_LIMIT_EXCEEDED", "slow down", retry_after=1.5)
    assert isinstance(error, MatrixTemporaryError)
    assert error.retry_after == 1.5
    assert (error.http_status, error.errcode) == (429, "M_LIMIT_EXCEEDED")


def test_stored_login_never_shows_its_token() -> None:
    login = StoredLogin("https://m.example.com", "@icop:example.com", "DEV", "syt_secret_token")
    assert "syt_secret_token" not in repr(login)
    assert "syt_secret_token" not in str(login)


async def test_session_needs_exactly_one_credential() -> None:
    config = MatrixConfig(homeserver="https://m.example.com", user_id="@icop:example.com", password_env="X")
    with pytest.raises(ValueError, match="exactly one"):
        MatrixSession(config)
    with pytest.raises(ValueError, match="exactly one"):
        MatrixSession(config, access_token="a", password="b")
    session = MatrixSession(config, password="pw")
    assert session.user_id == "@icop:example.com"
    await session.close()
