"""The config keys of DESIGN §6.2 are a contract: deployment scripts write them exactly as shown there.

The block below is that section's TOML, comments and all; it must load as it stands, and so must each
alternative its comments name (another credential reference, another security, no SMTP user, the other
values of every enumerated key). ``ICOP_DATABASE_URL`` overrides ``[database] url`` and is checked by
the same rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_config

DESIGN_CONFIG = """\
base_url = "https://icop.example.com"          # public URL used in links inside mail, digests and the archive
[database]
url = "sqlite://var/icop.sqlite3"              # or postgres://user@host:5432/db
[matrix]
homeserver = "https://matrix.example.com"
user_id = "@icop:example.com"
access_token_env = "ICOP_MATRIX_TOKEN"         # or access_token_file, password_env, password_file
[mail.imap]                                    # the mailbox that receives every list address
host = "imap.example.com"
port = 993
security = "tls"                               # tls | starttls | none
user = "lists@example.com"
password_env = "ICOP_IMAP_PASSWORD"
mailbox = "INBOX"
[mail.smtp]
host = "smtp.example.com"
port = 587
security = "starttls"
user = "lists@example.com"                     # optional: no user, no AUTH
password_env = "ICOP_SMTP_PASSWORD"
[web]
bind = "127.0.0.1:8080"
[[community]]
slug = "pm-practice"
name = "Project Management Practice"
room = "#pm-practice:example.com"              # alias or !room_id
list_address = "pm-practice@lists.example.com"
time_zone = "Europe/Dublin"
archive = "members"                            # members (default): sign-in needed | public
[community.digest]
frequency = "weekly"                           # default for new readers: daily | weekly | monthly | never
weekday = "monday"
hour = 8                                       # local hour, in each reader's own time zone
[[community.taxonomy]]
tag = "estimation"
label = "Estimation"
aliases = ["estimating", "estimates"]
[[community.member]]
name = "Ana Souza"
email = "ana@example.org"
matrix = "@ana:example.com"                    # optional
role = "convener"                              # convener | core | member | reader
time_zone = "America/Sao_Paulo"
delivery = "each"                              # each | digest | both | none
"""

ENV = {"ICOP_MATRIX_TOKEN": "t", "ICOP_IMAP_PASSWORD": "i", "ICOP_SMTP_PASSWORD": "s", "PW": "p"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "icop.toml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "secret").write_text("from-a-file\n", encoding="utf-8")
    return path


def test_the_design_block_loads_as_written(tmp_path: Path) -> None:
    loaded = load_config(_write(tmp_path, DESIGN_CONFIG), ENV)
    config = loaded.config
    assert str(config.base_url).rstrip("/") == "https://icop.example.com"
    assert loaded.database_url({}) == f"sqlite://{(tmp_path / 'var/icop.sqlite3').resolve()}"
    assert (config.mail.imap.port, config.mail.imap.security, config.mail.imap.mailbox) == (
        993,
        "tls",
        "INBOX",
    )
    assert (config.mail.smtp.port, config.mail.smtp.security, config.mail.smtp.user) == (
        587,
        "starttls",
        "lists@example.com",
    )
    assert config.web.bind == "127.0.0.1:8080"
    (community,) = config.community
    assert (community.slug, community.room, community.time_zone, community.archive) == (
        "pm-practice",
        "#pm-practice:example.com",
        "Europe/Dublin",
        "members",
    )
    assert (community.digest.frequency, community.digest.weekday, community.digest.hour) == (
        "weekly",
        "monday",
        8,
    )
    assert [(t.tag, t.label, t.aliases) for t in community.taxonomy] == [
        ("estimation", "Estimation", ["estimating", "estimates"])
    ]
    (ana,) = community.member
    assert (ana.email, ana.matrix, ana.role, ana.time_zone, ana.delivery) == (
        "ana@example.org",
        "@ana:example.com",
        "convener",
        "America/Sao_Paulo",
        "each",
    )


ALTERNATIVES = [
    ('access_token_env = "ICOP_MATRIX_TOKEN"', 'access_token_file = "secret"'),
    ('access_token_env = "ICOP_MATRIX_TOKEN"', 'password_env = "PW"'),
    ('access_token_env = "ICOP_MATRIX_TOKEN"', 'password_file = "secret"'),
    ('password_env = "ICOP_IMAP_PASSWORD"', 'password_file = "secret"'),
    ('password_env = "ICOP_SMTP_PASSWORD"', 'password_file = "secret"'),
    ('security = "tls"', 'security = "starttls"'),
    ('security = "tls"', 'security = "none"'),
    (
        'user = "lists@example.com"                     # optional: no user, no AUTH\n'
        'password_env = "ICOP_SMTP_PASSWORD"\n',
        "",
    ),
    ('url = "sqlite://var/icop.sqlite3"', 'url = "postgres://icop@db.example.com:5432/icop"'),
    ('room = "#pm-practice:example.com"', 'room = "!abcdef:example.com"'),
    ('archive = "members"', 'archive = "public"'),
    ('frequency = "weekly"', 'frequency = "daily"'),
    ('frequency = "weekly"', 'frequency = "monthly"'),
    ('frequency = "weekly"', 'frequency = "never"'),
    ('matrix = "@ana:example.com"', ""),
    *[('role = "convener"', f'role = "{role}"') for role in ("core", "member", "reader")],
    *[('delivery = "each"', f'delivery = "{mode}"') for mode in ("digest", "both", "none")],
]


@pytest.mark.parametrize(("old", "new"), ALTERNATIVES)
def test_every_alternative_the_design_names_loads(tmp_path: Path, old: str, new: str) -> None:
    assert old in DESIGN_CONFIG
    load_config(_write(tmp_path, DESIGN_CONFIG.replace(old, new, 1)), ENV)


def test_icop_database_url_overrides_the_config(tmp_path: Path) -> None:
    loaded = load_config(_write(tmp_path, DESIGN_CONFIG), ENV)
    url = "postgres://icop@127.0.0.1:5432/icop"
    assert loaded.database_url({"ICOP_DATABASE_URL": url}) == url


def test_a_bad_icop_database_url_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    path = _write(tmp_path, DESIGN_CONFIG)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {**ENV, "ICOP_DATABASE_URL": "mysql://db/icop"})
    (issue,) = caught.value.issues
    assert issue.field == "ICOP_DATABASE_URL"
    assert "'mysql://db/icop' must start with sqlite://, postgres:// or postgresql://" in str(issue)
    assert "\n" not in str(issue)
