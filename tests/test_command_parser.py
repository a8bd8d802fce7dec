"""What `/lepton <text>` means, for any text a person can type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.commands.parser import MAX_QUERY_CHARS, SUBCOMMANDS, parse_command


@pytest.mark.parametrize(
    ("text", "name", "argument"),
    [
        ("find tensorflow 2.0", "find", "tensorflow 2.0"),
        ("tensorflow 2.0", "find", "tensorflow 2.0"),
        ("FIND  vpn   linux", "find", "vpn linux"),
        ("who kubernetes", "who", "kubernetes"),
        ("forget-me", "forget-me", ""),
        ("", "help", ""),
        ("--help", "help", ""),
        ("find", "empty", ""),
        ("vpn", "find", "vpn"),
    ],
)
def test_commands(text: str, name: str, argument: str) -> None:
    command = parse_command(text)
    assert (command.name, command.argument) == (name, argument)


def test_a_typo_gets_help_not_a_search_for_the_typo() -> None:
    command = parse_command("stast")
    assert command.name == "help" and "`stats`" in (command.notice or "")


def test_admin_commands_are_marked() -> None:
    assert parse_command("stats").admin_only and parse_command("gaps").admin_only
    assert not parse_command("find stats").admin_only


@given(st.text(max_size=5000))
def test_any_text_gives_a_known_command_and_a_bounded_query(text: str) -> None:
    command = parse_command(text)
    assert command.name in {*SUBCOMMANDS, "help", "empty"}
    if command.name == "find":
        assert 0 < len(command.argument) <= MAX_QUERY_CHARS
        if len(" ".join(text.split())) > MAX_QUERY_CHARS + len("find "):
            assert command.notice


def test_a_subcommand_with_two_letters_swapped_is_a_typo_not_a_question() -> None:
    typo = parse_command("fnid tensorflow 2.0")
    assert typo.name == "help"
    assert (
        typo.notice == "`fnid` is not a Lepton command. Did you mean `/lepton find tensorflow 2.0`?"
    )
    assert parse_command("sruvey list").notice is not None
    for question in ("gap analysis template", "mind the gap", "fund approvals", "who kubernetes"):
        assert parse_command(question).name in {"find", "who"}, question


@pytest.mark.parametrize(
    "text",
    ["find --private vpn linux", "find -p vpn linux", "-p vpn linux", "--PRIVATE vpn  linux"],
)
def test_a_private_question_is_a_find_for_the_asker_alone(text: str) -> None:
    command = parse_command(text)
    assert (command.name, command.argument, command.private) == ("find", "vpn linux", True)


def test_private_flags_need_a_question_and_typos_get_help() -> None:
    assert parse_command("find -p").name == "empty"
    assert not parse_command("find vpn -p").private, "only before the question"
    for typo in ("--privte vpn", "find --prviate vpn"):
        command = parse_command(typo)
        assert command.name == "help"
        assert "Did you mean `--private`?" in (command.notice or ""), typo
    assert parse_command("-x vpn").notice == "`-x` is not a Lepton option."
