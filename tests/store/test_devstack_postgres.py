"""The throwaway PostgreSQL cluster starts, answers, and leaves nothing behind when stopped."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bridge.devstack.postgres import PostgresCluster
from bridge.devstack.process import StackError
from tests.fixtures.required import missing

pytestmark = pytest.mark.postgres


async def test_a_throwaway_cluster_answers_then_vanishes() -> None:
    try:
        cluster = PostgresCluster()
        cluster.start()
    except StackError as error:
        missing(f"PostgreSQL server binaries: {error}")
    directory = cluster.directory
    assert directory is not None
    try:
        assert cluster.url.startswith("postgres://postgres@127.0.0.1:")
        assert directory.name.startswith("icop-pg-")
        assert oct(directory.stat().st_mode & 0o777) == "0o755"
        connection = await asyncpg.connect(cluster.url)
        try:
            assert await connection.fetchval("SHOW listen_addresses") == "127.0.0.1"
            assert await connection.fetchval("SHOW unix_socket_directories") == str(directory)
        finally:
            await connection.close()
        pid = int((directory / "data" / "postmaster.pid").read_text().splitlines()[0])
    finally:
        cluster.stop()
    assert not directory.exists()
    assert not _running(pid)
    cluster.stop()  # a second stop is harmless


def _running(pid: int) -> bool:
    """Alive and not a zombie (an init that does not reap leaves the stopped postmaster as one)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
