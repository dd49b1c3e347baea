"""Authentication-Results (RFC 8601): real-world shapes, several headers, untrusted ones ignored."""

from __future__ import annotations

import pytest

from bridge.core.authentication import (
    MethodResult,
    SenderVerdict,
    check_sender,
    parse_authentication_results,
)

TRUSTED = ["mx.example.com"]

GMAIL = (
    "mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=s1 header.b=AbCd;\r\n"
    "       spf=pass (google.com: domain of ana@example.org designates 192.0.2.1 as permitted sender)"
    " smtp.mailfrom=ana@example.org;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org"
)
MICROSOFT = (
    "spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=example.org; dkim=none (message not signed)"
    " header.d=none;dmarc=fail action=quarantine header.from=example.org;compauth=fail reason=000"
)
RSPAMD = (
    'mx.example.com; dkim=fail ("headers rsa verify failed") header.d=example.org header.s=dkim;'
    " spf=softfail (mx.example.com: 203.0.113.9 is neither permitted nor denied)"
    " smtp.mailfrom=ana@example.org;"
    " dmarc=none"
)


def test_a_gmail_header_is_parsed_with_comments_dropped() -> None:
    parsed = parse_authentication_results(GMAIL)
    assert parsed is not None
    assert parsed.authserv_id == "mx.google.com"
    assert [r.method for r in parsed.results] == ["dkim", "spf", "dmarc"]
    assert parsed.results[0] == MethodResult(
        "dkim", "pass", {"header.i": "@example.org", "header.s": "s1", "header.b": "AbCd"}
    )
    assert parsed.results[2].properties == {"header.from": "example.org"}


def test_a_version_quoted_values_and_none() -> None:
    parsed = parse_authentication_results('example.net 1; auth/1=pass smtp.auth="a;b@example.net"')
    assert parsed is not None
    assert parsed.authserv_id == "example.net"
    assert parsed.results == (MethodResult("auth", "pass", {"smtp.auth": "a;b@example.net"}),)
    empty = parse_authentication_results("mx.example.com; none")
    assert empty is not None
    assert empty.results == ()


@pytest.mark.parametrize("value", ["", "   ", "(only a comment)", "dkim=pass header.d=example.org"])
def test_unreadable_headers_are_none(value: str) -> None:
    assert parse_authentication_results(value) is None


def test_trusted_dmarc_fail_fails_the_domain() -> None:
    """Microsoft's result list behind a trusted authserv-id: dmarc=fail decides."""
    check = check_sender([f"mx.example.com; {MICROSOFT}"], "example.org", TRUSTED)
    assert check.verdict is SenderVerdict.FAIL
    assert "dmarc=fail" in check.reason


def test_spf_and_dkim_both_failing_without_dmarc_fails() -> None:
    check = check_sender([RSPAMD], "example.org", TRUSTED)
    assert check.verdict is SenderVerdict.FAIL
    assert "spf=softfail and dkim=fail" in check.reason


def test_spf_fail_alone_with_a_passing_signature_passes() -> None:
    value = "mx.example.com; spf=fail smtp.mailfrom=bounce@example.org; dkim=pass header.d=example.org"
    assert check_sender([value], "example.org", TRUSTED).verdict is SenderVerdict.PASS


def test_untrusted_headers_are_ignored() -> None:
    """A failing header from a server nobody trusts, or one forged with a lookalike name: unknown."""
    forged = "mx.example.com.evil.net; dmarc=fail header.from=example.org"
    check = check_sender([GMAIL.replace("dmarc=pass", "dmarc=fail"), forged], "example.org", TRUSTED)
    assert check.verdict is SenderVerdict.UNKNOWN
    assert check_sender([GMAIL], "example.org", []).verdict is SenderVerdict.UNKNOWN


def test_a_forged_passing_header_cannot_hide_a_trusted_fail() -> None:
    passing = "MX.Example.COM; dmarc=pass header.from=example.org"
    failing = "mx.example.com; dmarc=fail header.from=example.org"
    assert check_sender([passing, failing], "example.org", TRUSTED).verdict is SenderVerdict.FAIL


def test_results_about_another_domain_say_nothing_about_from() -> None:
    """A DMARC fail for the list's own domain, an SPF fail for a forwarder: unknown for example.org."""
    value = (
        "mx.example.com; dmarc=fail header.from=lists.example.com;"
        " spf=fail smtp.mailfrom=fwd@forwarder.net; dkim=none"
    )
    assert check_sender([value], "example.org", TRUSTED).verdict is SenderVerdict.UNKNOWN


def test_subdomain_signatures_align_relaxed() -> None:
    value = "mx.example.com; dkim=pass header.d=mail.example.org; dmarc=none"
    assert check_sender([value], "example.org", TRUSTED).verdict is SenderVerdict.PASS


def test_no_headers_is_unknown() -> None:
    check = check_sender([], "example.org", TRUSTED)
    assert check.verdict is SenderVerdict.UNKNOWN
    assert "no Authentication-Results" in check.reason
