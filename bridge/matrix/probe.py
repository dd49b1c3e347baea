"""Online check of the Matrix side: the homeserver answers, the credential works, every room resolves.

A password credential is checked by logging in and out again (no device is left behind); a token by
``whoami``. A room the bot has not joined yet is reported, not failed: ``icop run`` joins it (or waits
for an invite) when it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import nio

from bridge.config.schema import MatrixConfig
from bridge.config.secrets import SecretRef, SecretUnavailableError
from bridge.probe import ProbeResult, describe_network_error


def client_config(*, request_timeout: float = 60, max_timeouts: int | None = None) -> nio.AsyncClientConfig:
    """nio settings for the bridge: never sleep forever on 429 loops, bounded retries."""
    return nio.AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=max_timeouts,
        request_timeout=request_timeout,
        store_sync_tokens=False,
        encryption_enabled=False,
    )


async def probe_matrix(
    matrix: MatrixConfig,
    token: SecretRef | None,
    password: SecretRef | None,
    rooms: Sequence[str],
    timeout: float = 10,
) -> list[ProbeResult]:
    target = f"matrix {matrix.homeserver}"
    client = nio.AsyncClient(
        matrix.homeserver,
        matrix.user_id,
        config=client_config(request_timeout=timeout, max_timeouts=1),
    )
    try:
        return await asyncio.wait_for(
            _probe(client, matrix, token, password, rooms, target), timeout * (2 + len(rooms))
        )
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        return [ProbeResult(target, False, describe_network_error(error))]
    finally:
        await client.close()


async def _probe(
    client: nio.AsyncClient,
    matrix: MatrixConfig,
    token: SecretRef | None,
    password: SecretRef | None,
    rooms: Sequence[str],
    target: str,
) -> list[ProbeResult]:
    versions = await client.send("GET", "/_matrix/client/versions")
    if versions.status != 200:
        return [ProbeResult(target, False, f"not a Matrix homeserver (HTTP {versions.status})")]
    versions.release()
    logged_in_here = False
    try:
        if token is not None:
            client.access_token = token.read()
            whoami = await client.whoami()
            if isinstance(whoami, nio.WhoamiError):
                return [ProbeResult(target, False, f"access token refused: {whoami.message}")]
            if whoami.user_id != matrix.user_id:
                return [
                    ProbeResult(
                        target,
                        False,
                        f"the access token belongs to {whoami.user_id}, not {matrix.user_id}",
                    )
                ]
        elif password is not None:
            login = await client.login(password.read(), device_name=f"{matrix.device_name} (check)")
            if isinstance(login, nio.LoginError):
                return [ProbeResult(target, False, f"login as {matrix.user_id} refused: {login.message}")]
            logged_in_here = True
    except SecretUnavailableError as error:
        return [ProbeResult(target, False, str(error))]
    results = [ProbeResult(target, True, f"logged in as {matrix.user_id}")]
    joined = await client.joined_rooms()
    joined_ids = set(joined.rooms) if isinstance(joined, nio.JoinedRoomsResponse) else set()
    for room in rooms:
        results.append(await _probe_room(client, room, joined_ids))
    if logged_in_here:
        await client.logout()
    return results


async def _probe_room(client: nio.AsyncClient, room: str, joined: set[str]) -> ProbeResult:
    target = f"matrix room {room}"
    room_id = room
    if room.startswith("#"):
        resolved = await client.room_resolve_alias(room)
        if isinstance(resolved, nio.RoomResolveAliasError):
            return ProbeResult(target, False, f"alias does not resolve: {resolved.message}")
        room_id = resolved.room_id
    if room_id in joined:
        return ProbeResult(target, True, f"{room_id}, joined")
    return ProbeResult(target, True, f"{room_id}, not joined yet (icop run joins it or waits for an invite)")
