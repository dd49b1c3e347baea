"""Room moderation commands: every spelling a convener may type, and what each one gets."""

from __future__ import annotations

import pytest

from bridge.core.commands import CommandError, is_command, parse_command
from bridge.core.commands.help import HelpCommand
from bridge.core.commands.moderation import CommandName, ModerationCommand, may_moderate
from bridge.core.model import MembershipState, Role


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!icop held", ModerationCommand(CommandName.HELD)),
        ("  !ICOP   Held  ", ModerationCommand(CommandName.HELD)),
        ("!icop", HelpCommand()),
        ("!icop help", HelpCommand()),
        ("!icop approve 12", ModerationCommand(CommandName.APPROVE, 12)),
        ("!icop approve #12", ModerationCommand(CommandName.APPROVE, 12)),
        ("!icop reject 7", ModerationCommand(CommandName.REJECT, 7)),
        ("!icop reject 7 off topic,  sorry", ModerationCommand(CommandName.REJECT, 7, "off topic, sorry")),
        ("!icop reject 7 line one\nline two", ModerationCommand(CommandName.REJECT, 7, "line one line two")),
        ("!icop ban 3", ModerationCommand(CommandName.BAN, 3)),
        ("!icop ban 3 spam", ModerationCommand(CommandName.BAN, 3, "spam")),
    ],
)
def test_well_formed_commands_are_parsed(text: str, expected: object) -> None:
    """Each gets its command, the post number and the reason with its whitespace tidied."""
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    ["hello", "", "   ", "icop held", "!icopheld", "please run !icop held", "> !icop held"],
)
def test_ordinary_messages_are_not_commands(text: str) -> None:
    """They get None: the relay treats them as posts."""
    assert parse_command(text) is None
    assert not is_command(text)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("!icop approve", "needs the number"),
        ("!icop approve twelve", "got 'twelve'"),
        ("!icop reject -1", "got '-1'"),
        ("!icop ban", "needs the number"),
        ("!icop approve 4 because", "takes only the number"),
        ("!icop held 4", "takes no arguments"),
    ],
)
def test_malformed_commands_get_an_answer_not_silence(text: str, hint: str) -> None:
    """They get a CommandError whose message names the problem and lists the commands."""
    assert is_command(text)
    result = parse_command(text)
    assert isinstance(result, CommandError)
    assert hint in result.message
    assert "!icop held" in result.message


def test_an_unknown_verb_is_a_command_answered_with_its_name() -> None:
    """It gets a CommandError naming the verb; the room adds the commands the asker may use."""
    result = parse_command("!icop delete 4")
    assert isinstance(result, CommandError)
    assert result.message == "Unknown command `delete`."


@pytest.mark.parametrize(
    ("role", "state", "allowed"),
    [
        (Role.CONVENER, MembershipState.ACTIVE, True),
        (Role.CORE, MembershipState.ACTIVE, True),
        (Role.MEMBER, MembershipState.ACTIVE, False),
        (Role.READER, MembershipState.ACTIVE, False),
        (Role.CONVENER, MembershipState.SUSPENDED, False),
        (None, None, False),
    ],
)
def test_who_may_moderate(role: Role | None, state: MembershipState | None, allowed: bool) -> None:
    assert may_moderate(role, state) is allowed
