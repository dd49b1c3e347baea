"""Mail bytes decoded whatever the charset label says."""

import pytest

from bridge.formatting.charset import decode_bytes, python_codec

GREETING = "Olá, café às 10h — até já 😀"


@pytest.mark.parametrize(
    ("data", "declared", "text"),
    [
        (GREETING.encode("utf-8"), "utf-8", GREETING),
        (GREETING.encode("utf-8"), "UTF8", GREETING),
        (GREETING.encode("utf-8"), '"utf-8"', GREETING),
        ("Grüße aus Köln".encode("iso-8859-1"), "iso-8859-1", "Grüße aus Köln"),
        ("Grüße aus Köln".encode("iso-8859-1"), "latin1", "Grüße aus Köln"),
        ("“quoted” – €5".encode("cp1252"), "windows-1252", "“quoted” – €5"),
        ("日本語のメール".encode("shift_jis"), "shift_jis", "日本語のメール"),
        ("日本語のメール".encode("iso2022_jp"), "iso-2022-jp", "日本語のメール"),
        ("Привет".encode("koi8-r"), "koi8-r", "Привет"),
        ("中文邮件".encode("gb2312"), "gb2312", "中文邮件"),
        (b"plain ascii", "us-ascii", "plain ascii"),
        (b"", "utf-8", ""),
    ],
)
def test_declared_charset_is_used(data: bytes, declared: str, text: str) -> None:
    assert decode_bytes(data, declared) == text


@pytest.mark.parametrize("declared", ["us-ascii", "iso-8859-1", "windows-1252"])
def test_utf8_under_a_lying_western_label_is_read_as_utf8(declared: str) -> None:
    assert decode_bytes(GREETING.encode("utf-8"), declared) == GREETING


def test_latin1_label_on_windows_bytes_gives_windows_punctuation() -> None:
    assert decode_bytes("“smart” quotes".encode("cp1252"), "iso-8859-1") == "“smart” quotes"


def test_ascii_label_on_8bit_latin_bytes_falls_back_to_windows_1252() -> None:
    assert decode_bytes("naïve café".encode("cp1252"), "us-ascii") == "naïve café"


def test_utf8_label_on_latin1_bytes_falls_back_to_windows_1252() -> None:
    assert decode_bytes("señor".encode("latin-1"), "utf-8") == "señor"


@pytest.mark.parametrize("declared", [None, ""])
def test_undeclared_bytes_try_utf8_then_windows_1252(declared: str | None) -> None:
    assert decode_bytes(GREETING.encode("utf-8"), declared) == GREETING
    assert decode_bytes("déjà vu".encode("cp1252"), declared) == "déjà vu"


@pytest.mark.parametrize(
    "declared", ["x-unknown", "unknown-8bit", "klingon-1", "base64", "rot13", "unicode-escape", "undefined"]
)
def test_unknown_or_non_text_charsets_fall_back(declared: str) -> None:
    assert decode_bytes("Zürich".encode(), declared) == "Zürich"
    assert decode_bytes(b"\\u0041 plain", declared) == "\\u0041 plain"


def test_windows_superset_of_shift_jis_is_used_for_vendor_characters() -> None:
    numbered = "①②"  # NEC row 13: only in cp932, sent labelled shift_jis
    assert decode_bytes(numbered.encode("cp932"), "shift_jis") == numbered


def test_byte_order_marks_win_over_the_label() -> None:
    assert decode_bytes(b"\xef\xbb\xbfhello", "iso-8859-1") == "hello"
    assert decode_bytes("hi ✓".encode("utf-16"), None) == "hi ✓"


def test_undecodable_bytes_become_replacement_characters() -> None:
    assert decode_bytes(b"ok \x81\x8d\x8f\x90\x9d \xff\xfe\xfa", "utf-8").startswith("ok ")
    assert "\ufffd" in decode_bytes(b"\x81\x8d\x8f\x90\x9d", None)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("UTF-8", "utf-8"),
        (" Windows-1252 ", "cp1252"),
        ("ks_c_5601-1987", "cp949"),
        ("iso-8859-8-i", "iso8859-8"),
        ("x-unknown", None),
        ("hex", None),
        (None, None),
    ],
)
def test_python_codec_names(label: str | None, codec: str | None) -> None:
    assert python_codec(label) == codec
