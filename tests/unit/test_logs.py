"""Logging: secrets are masked everywhere, and no log call can break the code path that makes it."""

from __future__ import annotations

import ast
import io
import json
import logging
from pathlib import Path

import pytest

from bridge.logs import MASK, configure_logging

RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def test_no_log_call_uses_a_reserved_field_name() -> None:
    """``extra={"thread": ...}`` raises KeyError inside logging, after the work it reports was done."""
    offenders = []
    for path in Path(__file__).parents[2].joinpath("bridge").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "extra" and isinstance(node.value, ast.Dict):
                offenders += [
                    f"{path}:{key.lineno}: {key.value}"
                    for key in node.value.keys
                    if isinstance(key, ast.Constant) and key.value in RESERVED
                ]
    assert offenders == []


@pytest.fixture
def restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_masked_in_messages_fields_and_tracebacks(fmt: str) -> None:
    stream = io.StringIO()
    redactor = configure_logging("info", fmt, stream)
    redactor.add("s3cret-token")
    log = logging.getLogger("bridge.test")
    log.info("login with %s", "s3cret-token", extra={"url": "https://x/?access_token=s3cret-token"})
    try:
        raise RuntimeError("refused: s3cret-token")
    except RuntimeError:
        log.exception("failed")
    output = stream.getvalue()
    assert "s3cret-token" not in output
    assert output.count(MASK) >= 3
    if fmt == "json":
        first = json.loads(output.splitlines()[0])
        assert first["msg"] == f"login with {MASK}"
        assert first["url"] == f"https://x/?access_token={MASK}"
