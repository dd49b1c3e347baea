"""Config loading: a valid config loads; each kind of broken config gets FILE:LINE: field: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_config

VALID = """\
base_url = "https://icop.example.com"
[database]
url = "sqlite://var/icop.sqlite3"
[matrix]
homeserver = "https://matrix.example.com"
user_id = "@icop:example.com"
access_token_env = "T_MATRIX"
[mail.imap]
host = "imap.example.com"
user = "lists@example.com"
password_env = "T_IMAP"
[mail.smtp]
host = "smtp.example.com"
[[community]]
slug = "pm-practice"
name = "Project Management Practice"
room = "#pm-practice:example.com"
list_address = "pm-practice@lists.example.com"
time_zone = "Europe/Dublin"
[[community.member]]
name = "Ana Souza"
email = "ana@example.org"
matrix = "@ana:example.com"
role = "convener"
time_zone = "America/Sao_Paulo"
[[community]]
slug = "data-quality"
name = "Data Quality Guild"
room = "!abcdef:example.com"
list_address = "dq@lists.example.com"
[[community.member]]
name = "Grace Okafor"
email = "grace@example.ng"
"""

ENV = {"T_MATRIX": "token-value", "T_IMAP": "imap-password"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "icop.toml"
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV if env is None else env)
    return [str(issue).removeprefix(f"{path}:") for issue in caught.value.issues]


def line_number(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``fragment``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[occurrence - 1]


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, VALID), ENV)
    config = loaded.config
    assert [c.slug for c in config.community] == ["pm-practice", "data-quality"]
    assert config.mail.imap.effective_port == 993
    assert config.mail.smtp.effective_port == 587
    assert config.community[0].prefix == "pm-practice"
    assert config.community[1].member[0].role == "member"
    assert loaded.database_url({}) == f"sqlite://{tmp_path / 'var' / 'icop.sqlite3'}"


def test_database_url_env_overrides_config(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, VALID), ENV)
    url = "postgres://icop@127.0.0.1:5432/icop"
    assert loaded.database_url({"ICOP_DATABASE_URL": url}) == url


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[3] / "config" / "example.toml"
    loaded = load_config(example, {})
    assert len(loaded.config.community) == 2
    assert all(c.member for c in loaded.config.community)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = VALID.replace('host = "smtp.example.com"', 'host = "smtp.example.com')
    [issue] = issues_of(tmp_path, text)
    assert issue.startswith(f"{line_number(text, 'smtp.example.com')}: toml: syntax error")


def test_wrong_type(tmp_path: Path) -> None:
    text = VALID.replace(
        '[mail.smtp]\nhost = "smtp.example.com"',
        '[mail.smtp]\nhost = "smtp.example.com"\nport = "submission"',
    )
    [issue] = issues_of(tmp_path, text)
    assert issue.startswith(f"{line_number(text, 'submission')}: mail.smtp.port: ")
    assert "integer" in issue


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = VALID.replace('list_address = "dq@', 'list_adress = "dq@')
    issues = issues_of(tmp_path, text)
    line = line_number(text, "list_adress")
    assert f"{line}: community[1].list_adress: unknown key; did you mean 'list_address'?" in issues
    assert any(": community[1].list_address: required key is missing" in i for i in issues)


def test_a_spelling_two_taxonomy_tags_claim_names_the_taxonomy(tmp_path: Path) -> None:
    """Aliases fold like hashtags: "Estimates" of one tag collides with the tag "estimates"."""
    text = VALID.replace(
        '[[community.member]]\nname = "Grace Okafor"',
        '[[community.taxonomy]]\ntag = "estimation"\nlabel = "Estimation"\naliases = ["Estimates"]\n'
        '[[community.taxonomy]]\ntag = "estimates"\nlabel = "Estimates"\n'
        '[[community.member]]\nname = "Grace Okafor"',
    )
    [issue] = issues_of(tmp_path, text)
    assert issue.startswith(f"{line_number(text, '[[community.taxonomy]]')}: community[1].taxonomy: ")
    assert "'estimates' of tag 'estimates' is already a spelling of tag 'estimation'" in issue


def test_unknown_top_level_table(tmp_path: Path) -> None:
    text = VALID + "[databse]\nurl = 'x'\n"
    issues = issues_of(tmp_path, text)
    assert f"{line_number(text, '[databse]')}: databse: unknown key; did you mean 'database'?" in issues


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            'email = "ana@example.org"',
            'email = "ana.example.org"',
            "community[0].member[0].email",
            "is not an email address",
        ),
        (
            'email = "grace@example.ng"',
            'email = "grace@exa mple.ng"',
            "community[1].member[0].email",
            "not a valid domain",
        ),
        (
            'matrix = "@ana:example.com"',
            'matrix = "ana:example.com"',
            "community[0].member[0].matrix",
            "is not a Matrix user id",
        ),
        (
            'user_id = "@icop:example.com"',
            'user_id = "@ICOP!:example.com"',
            "matrix.user_id",
            "is not a Matrix user id",
        ),
        (
            'time_zone = "Europe/Dublin"',
            'time_zone = "Europe/Dublyn"',
            "community[0].time_zone",
            "is not a known time zone",
        ),
        (
            'time_zone = "America/Sao_Paulo"',
            'time_zone = "GMT+3"',
            "community[0].member[0].time_zone",
            "is not a known time zone",
        ),
        (
            'room = "#pm-practice:example.com"',
            'room = "pm-practice:example.com"',
            "community[0].room",
            "is not a room",
        ),
        (
            'room = "#pm-practice:example.com"',
            'room = "#pm practice:example.com"',
            "community[0].room",
            "is not a room alias",
        ),
        (
            'room = "!abcdef:example.com"',
            'room = "!abcdef:bad_server!"',
            "community[1].room",
            "not a valid Matrix server name",
        ),
        (
            'role = "convener"',
            'role = "chair"',
            "community[0].member[0].role",
            "'convener', 'core', 'member' or 'reader'",
        ),
        (
            'slug = "pm-practice"',
            'slug = "PM Practice"',
            "community[0].slug",
            "is not a valid slug",
        ),
        (
            'homeserver = "https://matrix.example.com"',
            'homeserver = "matrix.example.com"',
            "matrix.homeserver",
            "is not an http(s) URL",
        ),
    ],
)
def test_invalid_values(tmp_path: Path, old: str, new: str, field: str, message: str) -> None:
    text = VALID.replace(old, new)
    assert text != VALID
    [issue] = issues_of(tmp_path, text)
    line = line_number(text, new)
    assert issue.startswith(f"{line}: {field}: "), issue
    assert message in issue


def test_duplicate_slug_points_at_the_second(tmp_path: Path) -> None:
    text = VALID.replace('slug = "data-quality"', 'slug = "pm-practice"')
    [issue] = issues_of(tmp_path, text)
    line = line_number(text, 'slug = "pm-practice"', occurrence=2)
    assert issue == (
        f"{line}: community[1].slug: duplicate slug 'pm-practice' "
        f"(first used at community[0].slug, line {line_number(text, 'slug = ')})"
    )


def test_duplicate_list_address_is_case_insensitive(tmp_path: Path) -> None:
    text = VALID.replace('"dq@lists.example.com"', '"PM-Practice@lists.example.com"')
    [issue] = issues_of(tmp_path, text)
    assert issue.startswith(
        f"{line_number(text, 'PM-Practice@')}: community[1].list_address: duplicate list address"
    )


def test_duplicate_member_within_a_community(tmp_path: Path) -> None:
    text = VALID + '[[community.member]]\nname = "Grace again"\nemail = "GRACE@example.ng"\n'
    [issue] = issues_of(tmp_path, text)
    assert issue.startswith(
        f"{line_number(text, 'GRACE@')}: community[1].member[1].email: duplicate member email"
    )


def test_unset_env_var(tmp_path: Path) -> None:
    [issue] = issues_of(tmp_path, VALID, env={"T_MATRIX": "x"})
    assert (
        issue
        == f"{line_number(VALID, 'T_IMAP')}: mail.imap.password_env: environment variable T_IMAP is not set"
    )


def test_missing_secret_file(tmp_path: Path) -> None:
    text = VALID.replace('access_token_env = "T_MATRIX"', 'access_token_file = "secrets/matrix-token"')
    [issue] = issues_of(tmp_path, text)
    assert issue == (
        f"{line_number(text, 'access_token_file')}: matrix.access_token_file: "
        f"secret file {tmp_path / 'secrets' / 'matrix-token'} does not exist"
    )


def test_secret_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "matrix-token").write_text("abc-token\n")
    text = VALID.replace('access_token_env = "T_MATRIX"', 'access_token_file = "secrets/matrix-token"')
    loaded = load_config(write(tmp_path, text), ENV)
    ref = loaded.secret(loaded.config.matrix.access_token_env, loaded.config.matrix.access_token_file)
    assert ref is not None
    assert ref.read() == "abc-token"


def test_missing_credential_and_required_table(tmp_path: Path) -> None:
    text = VALID.replace('access_token_env = "T_MATRIX"\n', "").replace(
        '[mail.smtp]\nhost = "smtp.example.com"\n', ""
    )
    issues = issues_of(tmp_path, text)
    assert any(i.startswith(f"{line_number(text, '[matrix]')}: matrix: give one credential") for i in issues)
    assert f"{line_number(text, '[mail.imap]')}: mail.smtp: required key is missing" in issues


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace('role = "convener"', 'role = "chair"').replace("Europe/Dublin", "Mars/Olympus")
    assert len(issues_of(tmp_path, text)) == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file does not exist"):
        load_config(tmp_path / "nope.toml", ENV)
