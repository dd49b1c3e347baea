"""A demo community on a running local stack: Matrix users, a public room, a config file for the bridge.

Used by ``make demo`` and by the end-to-end tests, so both exercise exactly the config a convener
would write. Everything is created through the servers' own APIs (Synapse's client-server API, the
stack's mail accounts); nothing here touches the bridge's internals.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser

DEMO_PASSWORD = "demo-password"
LIST_DOMAIN = "lists.example.test"


@dataclass(frozen=True, slots=True)
class DemoMember:
    name: str
    email: str
    role: str = "member"
    matrix: MatrixUser | None = None
    time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Companion:
    """A second, public community on the same daemon (chat only: its list mailbox is not read)."""

    slug: str
    name: str
    room_alias: str
    room_id: str
    members: tuple[str, ...]  # keys into DemoCommunity.members


@dataclass(frozen=True)
class DemoCommunity:
    """What the demo set up: where the config is, who the members are, which room and list."""

    config_path: Path
    database_path: Path
    slug: str
    room_alias: str
    room_id: str
    list_address: str
    bot: MatrixUser
    members: dict[str, DemoMember] = field(default_factory=dict)
    archive: str = "members"
    companion: Companion | None = None
    moderators_room_id: str | None = None

    def member(self, key: str) -> DemoMember:
        return self.members[key]


def prepare_community(
    stack: Stack,
    directory: Path,
    *,
    slug: str = "pm-practice",
    name: str = "Project Management Practice",
    relay_policy: str = "per_message",
    batch_quiet_seconds: float = 5,
    user_suffix: str = "",
    web_port: int = 0,
    extra_config: str = "",
    community_config: str = "",
    archive: str = "members",
    public_companion: bool = False,
    moderators_room: bool = False,
    welcome: bool = False,
) -> DemoCommunity:
    """Register the bot and two chat members, create the room, write ``directory/icop.toml``.

    ``extra_config`` is added at the top level, ``community_config`` at the end of the community's
    table (e.g. ``[[community.taxonomy]]`` entries). ``archive`` is the community's archive setting;
    ``public_companion`` adds a second community with a public archive and a room of its own, whose
    roster adds Bo, who convenes it and belongs to no other community. Welcomes are off unless
    ``welcome``: the scripted conversations of the demo, the benchmark and the tests count the mail each
    member receives.
    """
    directory.mkdir(parents=True, exist_ok=True)
    bot = stack.register_user(f"icop{user_suffix}", DEMO_PASSWORD)
    ana = stack.register_user(f"ana{user_suffix}", DEMO_PASSWORD)
    kenji = stack.register_user(f"kenji{user_suffix}", DEMO_PASSWORD)
    alias_name = f"{slug}{user_suffix}"
    room_alias = f"#{alias_name}:{stack.server_name}"
    room_id = _create_public_room(stack.homeserver_url, ana.access_token, alias_name, name)
    _join(stack.homeserver_url, kenji.access_token, room_id)
    moderators_room_id = None
    if moderators_room:  # private: Ana (convener) and Kenji (core) read it; the bridge is invited
        moderators_room_id = _create_private_room(
            stack.homeserver_url, ana.access_token, f"{name} moderators", [kenji.user_id, bot.user_id]
        )
        _join(stack.homeserver_url, kenji.access_token, moderators_room_id)
    list_address = f"{slug}{user_suffix}@{LIST_DOMAIN}"
    members = {
        "ana": DemoMember(
            "Ana Souza", f"ana{user_suffix}@example.test", "convener", ana, "America/Sao_Paulo"
        ),
        "kenji": DemoMember(
            "Kenji Watanabe", f"kenji{user_suffix}@example.test", "core", kenji, "Asia/Tokyo"
        ),
        "siobhan": DemoMember(
            "Siobhán Murphy", f"siobhan{user_suffix}@example.test", "member", None, "Europe/Dublin"
        ),
        "priya": DemoMember(
            "Priya Raman", f"priya{user_suffix}@example.test", "member", None, "Asia/Kolkata"
        ),
    }
    companion = None
    if public_companion:
        companion_alias = f"open-data{user_suffix}"
        companion_room = _create_public_room(
            stack.homeserver_url, ana.access_token, companion_alias, "Open Data"
        )
        _join(stack.homeserver_url, kenji.access_token, companion_room)
        members["bo"] = DemoMember(
            "Bo Lind", f"bo{user_suffix}@example.test", "convener", None, "Europe/Stockholm"
        )
        companion = Companion(
            "open-data",
            "Open Data Circle",
            f"#{companion_alias}:{stack.server_name}",
            companion_room,
            ("ana", "kenji", "bo"),
        )
    token_file = directory / "matrix-token"
    token_file.write_text(bot.access_token + "\n")
    token_file.chmod(0o600)
    mail_password = directory / "mail-password"
    mail_password.write_text(stack.mail_password + "\n")
    database = directory / "icop.sqlite3"
    config = directory / "icop.toml"
    config.write_text(
        _config_text(
            stack=stack,
            bot=bot,
            slug=slug,
            name=name,
            room=room_alias,
            list_address=list_address,
            members=members,
            relay_policy=relay_policy,
            batch_quiet_seconds=batch_quiet_seconds,
            web_port=web_port,
            extra=extra_config,
            community_extra=community_config,
            archive=archive,
            companion=companion,
            list_domain=LIST_DOMAIN,
            user_suffix=user_suffix,
            moderators_room_id=moderators_room_id,
            welcome=welcome,
        )
    )
    return DemoCommunity(
        config_path=config,
        database_path=database,
        slug=slug,
        room_alias=room_alias,
        room_id=room_id,
        list_address=list_address,
        bot=bot,
        members=members,
        archive=archive,
        companion=companion,
        moderators_room_id=moderators_room_id,
    )


def _roster(members: list[DemoMember]) -> str:
    return "".join(
        f"\n[[community.member]]\nname = {json.dumps(m.name)}\nemail = {json.dumps(m.email)}\n"
        f"role = {json.dumps(m.role)}\ntime_zone = {json.dumps(m.time_zone)}\n"
        + (f"matrix = {json.dumps(m.matrix.user_id)}\n" if m.matrix else "")
        for m in members
    )


def _config_text(
    *,
    stack: Stack,
    bot: MatrixUser,
    slug: str,
    name: str,
    room: str,
    list_address: str,
    members: dict[str, DemoMember],
    relay_policy: str,
    batch_quiet_seconds: float,
    web_port: int,
    extra: str,
    community_extra: str,
    archive: str,
    companion: Companion | None,
    list_domain: str,
    user_suffix: str,
    moderators_room_id: str | None = None,
    welcome: bool = False,
) -> str:
    roster = _roster([m for key, m in members.items() if key != "bo"])
    second = ""
    if companion is not None:
        second = f"""
[[community]]
slug = "{companion.slug}"
name = "{companion.name}"
description = "Open to everyone: how we publish and reuse open data."
room = "{companion.room_alias}"
list_address = "{companion.slug}{user_suffix}@{list_domain}"
time_zone = "America/New_York"
archive = "public"
welcome = {"true" if welcome else "false"}
{_roster([members[key] for key in companion.members])}"""
    port = web_port or 8080
    return f"""# A demo community on the local stack (written by bridge.devstack.community).
base_url = "http://127.0.0.1:{port}"
{extra}
[database]
url = "sqlite://icop.sqlite3"

[matrix]
homeserver = "{stack.homeserver_url}"
user_id = "{bot.user_id}"
access_token_file = "matrix-token"
sync_timeout_seconds = 5

[mail.imap]
host = "{stack.imap_host}"
port = {stack.imap_port}
security = "none"
user = "{list_address}"
password_file = "mail-password"
poll_interval_seconds = 2

[mail.smtp]
host = "{stack.smtp_host}"
port = {stack.smtp_port}
security = "none"

[web]
bind = "127.0.0.1:{port}"

[outbox]
backoff_base_seconds = 1
backoff_max_seconds = 10

[[community]]
slug = "{slug}"
name = "{name}"
room = "{room}"
list_address = "{list_address}"
time_zone = "Europe/Dublin"
relay_policy = "{relay_policy}"
batch_quiet_seconds = {batch_quiet_seconds}
batch_max_delay_seconds = {max(batch_quiet_seconds * 6, 30)}
archive = "{archive}"
description = "Project leads from every region compare how they plan, estimate and run reviews."
welcome = {"true" if welcome else "false"}
{f'moderators_room = "{moderators_room_id}"' if moderators_room_id else ""}
{community_extra}
{roster}{second}"""


def _client_api(homeserver: str, token: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (a URL of the local stack)
        f"{homeserver}/_matrix/client/v3{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def room_messages(homeserver: str, token: str, room_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The room's latest ``m.room.message`` events, oldest first, as Synapse serves them to ``token``."""
    room = urllib.parse.quote(room_id)
    request = urllib.request.Request(  # noqa: S310 (a URL of the local stack)
        f"{homeserver}/_matrix/client/v3/rooms/{room}/messages?dir=b&limit={limit}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        chunk: list[dict[str, Any]] = json.loads(response.read())["chunk"]
    return [event for event in reversed(chunk) if event["type"] == "m.room.message"]


def _create_public_room(homeserver: str, token: str, alias_name: str, name: str) -> str:
    answer = _client_api(
        homeserver,
        token,
        "POST",
        "/createRoom",
        {"preset": "public_chat", "room_alias_name": alias_name, "name": name, "visibility": "public"},
    )
    return str(answer["room_id"])


def _create_private_room(homeserver: str, token: str, name: str, invite: list[str]) -> str:
    answer = _client_api(
        homeserver, token, "POST", "/createRoom", {"preset": "private_chat", "name": name, "invite": invite}
    )
    return str(answer["room_id"])


def _join(homeserver: str, token: str, room_id: str) -> None:
    _client_api(homeserver, token, "POST", f"/join/{urllib.parse.quote(room_id)}", {})
