"""The charset corpus: whatever a mail claims about its bytes, the room gets readable text."""

import base64

import pytest

from tests.unit.email.samples import mail, mime, parse

JAPANESE = "来週の会議は木曜日です。"


def _part(data: bytes, content_type: str, encoding: str = "8bit") -> bytes:
    return mime(
        f"MIME-Version: 1.0\nContent-Type: {content_type}\nContent-Transfer-Encoding: {encoding}\n\n".encode()
        + data
    )


@pytest.mark.parametrize(
    ("data", "content_type", "encoding", "expected"),
    [
        ("Olá 👋 até já 🎉".encode(), "text/plain; charset=utf-8", "8bit", "Olá 👋 até já 🎉"),
        (
            base64.encodebytes("Olá 👋 até já 🎉".encode()),
            "text/plain; charset=UTF-8",
            "base64",
            "Olá 👋 até já 🎉",
        ),
        ("Ça coûte 5 €, dit Zoë".encode("cp1252"), "text/plain; charset=windows-1252", "8bit", None),
        ("Ça coûte cher, dit Zoë".encode("latin-1"), 'text/plain; charset="ISO-8859-1"', "8bit", None),
        # Windows-1252 labelled as Latin-1: the euro sign and curly quotes are what was meant.
        ("“Quoted” 5 €".encode("cp1252"), "text/plain; charset=iso-8859-1", "8bit", "“Quoted” 5 €"),
        (JAPANESE.encode("shift_jis"), "text/plain; charset=Shift_JIS", "8bit", JAPANESE),
        (JAPANESE.encode("iso2022_jp"), "text/plain; charset=ISO-2022-JP", "7bit", JAPANESE),
        # Undeclared 8-bit: UTF-8 first, then Windows-1252.
        ("Déjà vu".encode(), "text/plain", "8bit", "Déjà vu"),
        ("Déjà vu".encode("cp1252"), "text/plain", "8bit", "Déjà vu"),
        # A lying label: UTF-8 sent as us-ascii, Latin-1 sent as UTF-8.
        ("Gestão".encode(), "text/plain; charset=us-ascii", "8bit", "Gestão"),
        ("Gestão".encode("latin-1"), "text/plain; charset=utf-8", "8bit", "Gestão"),
        # A charset nobody knows.
        ("Gestão".encode(), "text/plain; charset=x-unknown-42", "8bit", "Gestão"),
        (b"caf\xc3\xa9", 'text/plain; charset="utf-8\'"', "8bit", "café"),
    ],
)
def test_body_charsets(data: bytes, content_type: str, encoding: str, expected: str | None) -> None:
    parsed = parse(_part(data, content_type, encoding))
    assert parsed.message.text == (expected or data.decode("cp1252"))
    assert parsed.message.full_text == parsed.message.text


def test_quoted_printable_utf8_with_soft_breaks() -> None:
    body = (
        "Lin=C3=A9a uno con una frase bastante larga que el cliente parti=C3=B3 en do=\n"
        "s l=C3=ADneas. =F0=9F=98=80\n"
    )
    parsed = parse(_part(body.encode(), "text/plain; charset=utf-8", "quoted-printable"))
    assert parsed.message.text == (
        "Linéa uno con una frase bastante larga que el cliente partió en dos líneas. 😀"
    )


def test_broken_base64_keeps_what_decodes() -> None:
    good = base64.b64encode(b"Hello, everyone").decode()
    parsed = parse(_part((good[:-2] + "\n").encode(), "text/plain; charset=utf-8", "base64"))
    assert parsed.message.text.startswith("Hello, every")


def test_html_charset_from_meta_when_the_header_has_none() -> None:
    html = '<html><head><meta charset="windows-1252"></head><body><p>Preço: 5 €</p></body></html>'
    parsed = parse(_part(html.encode("cp1252"), "text/html", "8bit"))
    assert parsed.message.text == "Preço: 5 €"


def _encoded_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=?UTF-8?B?UmU6IFtwbV0gR2VzdMOjbyBkZSByaXNjb3Mg8J+Ogg==?=", "Re: [pm] Gestão de riscos 🎂"),
        ("=?iso-8859-1?q?Re=3A_R=E9sum=E9_de_la_r=E9union?=", "Re: Résumé de la réunion"),
        ("=?windows-1252?Q?=93Kick-off=94?= notes", "“Kick-off” notes"),
        (_encoded_word("来週の会議", "ISO-2022-JP"), "来週の会議"),
        (_encoded_word("来週の会議", "shift_jis"), "来週の会議"),
        # Adjacent words are joined without the space between them; a character split across two
        # words (a common encoder bug) survives.
        ("=?utf-8?q?Gest=C3?= =?utf-8?q?=A3o?= de riscos", "Gestão de riscos"),
        ("=?utf-8?b?R2VzdMOjbw?=", "Gestão"),  # no padding
        ("=?utf-8?q?Broken?= plain =?bogus-charset?q?caf=C3=A9?=", "Broken plain café"),
        ("Plain subject\r\n with folding", "Plain subject with folding"),
        ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
    ],
)
def test_rfc_2047_subjects(header: str, expected: str) -> None:
    parsed = parse(mail("Hello", f"Subject: {header}\n"))
    assert parsed.message.subject == expected


def test_raw_8bit_subject_and_name() -> None:
    raw = mail("Hello", "Subject: Gestão de riscos\nFrom: João Souza <joao@example.org>\n")
    parsed = parse(raw)
    assert parsed.message.subject == "Gestão de riscos"
    assert parsed.message.sender_name == "João Souza"
    latin = raw.replace("Gestão".encode(), "Gestão".encode("latin-1"))
    assert parse(latin).message.subject == "Gestão de riscos"


@pytest.mark.parametrize(
    ("header", "name", "address"),
    [
        ("=?utf-8?q?Jo=C3=A3o_Souza?= <Joao@Example.ORG>", "João Souza", "joao@example.org"),
        ('"=?utf-8?q?Jo=C3=A3o_Souza?=" <joao@example.org>', "João Souza", "joao@example.org"),
        ('"Souza, Ana" <ana@example.org>', "Souza, Ana", "ana@example.org"),
        ("ana@example.org (Ana Souza)", "Ana Souza", "ana@example.org"),
        ("ANA@EXAMPLE.ORG", "", "ana@example.org"),
        ("=?utf-8?b?5bGx55Sw5aSq6YOO?= <taro@example.jp>", "山田太郎", "taro@example.jp"),
        ("Ana Souza <ana@example.org", "Ana Souza", "ana@example.org"),
    ],
)
def test_sender_names_and_addresses(header: str, name: str, address: str) -> None:
    parsed = parse(mail("Hello", f"From: {header}\n"))
    assert (parsed.message.sender_name, parsed.message.sender_address) == (name, address)
