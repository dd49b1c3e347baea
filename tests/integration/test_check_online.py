"""``icop check --online`` against the real stack: every server verified, a dead one named in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.devstack.community import prepare_community
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack

pytestmark = pytest.mark.servers


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(config), "check", "--online"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_online_check_passes_against_the_stack(stack: Stack, tmp_path: Path) -> None:
    community = prepare_community(stack, tmp_path, user_suffix="-online", web_port=free_port())
    done = check(community.config_path)
    assert done.returncode == 0, done.stderr
    assert f"ok   matrix {stack.homeserver_url}: logged in as {community.bot.user_id}" in done.stdout
    assert f"ok   matrix room {community.room_alias}: {community.room_id}" in done.stdout
    assert f"ok   imap 127.0.0.1:{stack.imap_port}: logged in as {community.list_address}" in done.stdout
    assert f"ok   smtp 127.0.0.1:{stack.smtp_port}: connected (none)" in done.stdout


def test_online_check_names_each_failing_server_in_one_line(stack: Stack, tmp_path: Path) -> None:
    community = prepare_community(stack, tmp_path, user_suffix="-offline", web_port=free_port())
    closed = free_port()
    text = community.config_path.read_text()
    text = text.replace(f"port = {stack.smtp_port}", f"port = {closed}")
    text = text.replace('password_file = "mail-password"', 'password_file = "wrong-password"')
    (tmp_path / "wrong-password").write_text("not-the-password\n")
    text = text.replace(f'room = "{community.room_alias}"', 'room = "#no-such-room:localhost"')
    community.config_path.write_text(text)
    done = check(community.config_path)
    assert done.returncode == 1
    failures = [line for line in done.stderr.splitlines() if line.startswith("FAIL")]
    assert failures == [
        "FAIL matrix room #no-such-room:localhost: alias does not resolve: "
        "Room alias #no-such-room:localhost not found",
        f"FAIL imap 127.0.0.1:{stack.imap_port}: login as {community.list_address} refused by 127.0.0.1",
        f"FAIL smtp 127.0.0.1:{closed}: connection refused (is the server running?)",
    ]
    assert "Traceback" not in done.stderr
