"""What trusted ``Authentication-Results`` headers (RFC 8601) say about a mail's From domain.

Anyone can write an ``Authentication-Results`` header, so only those whose authserv-id names an MTA
the config trusts (``[mail] trusted_authserv_ids``) are believed; the rest are ignored. From the
believed ones comes one verdict for the From domain:

- ``FAIL`` when DMARC failed for it, or, without a DMARC result, when SPF failed for it and no DKIM
  signature of it passed (a DKIM signature that failed or no signature at all);
- ``PASS`` when DMARC, or an aligned DKIM signature, passed;
- ``UNKNOWN`` otherwise (no trusted header, nothing about this domain).

Pure: the relay hands in the header values, the From domain and the trusted ids.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

_PAIR = re.compile(r'([A-Za-z0-9_.-]+(?:/\d+)?)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s";]+)')

_SPF_FAILS = frozenset({"fail", "softfail"})
_DKIM_FAILS = frozenset({"fail", "neutral", "policy", "permerror", "none"})


class SenderVerdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One ``method=result`` of a header with its properties (``header.from``, ``smtp.mailfrom``...)."""

    method: str  # lowercased, without a version ("dkim", "spf", "dmarc", ...)
    result: str  # lowercased ("pass", "fail", "none", ...)
    properties: dict[str, str] = field(default_factory=dict)  # keys lowercased, values as written


@dataclass(frozen=True, slots=True)
class AuthenticationResults:
    authserv_id: str  # lowercased
    results: tuple[MethodResult, ...] = ()


@dataclass(frozen=True, slots=True)
class SenderCheck:
    verdict: SenderVerdict
    reason: str  # for the log and the convener's notice


def _without_comments(value: str) -> str:
    """Drop RFC 5322 comments ``( ... )``, nested, but not inside quoted strings."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            if char == '"':
                quoted = False
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            if char == '"':
                quoted = True
            out.append(char)
    return "".join(out)


def _split_semicolons(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_authentication_results(value: str) -> AuthenticationResults | None:
    """One header's authserv-id and results; None when not even an authserv-id can be read."""
    parts = _split_semicolons(" ".join(_without_comments(value).split()))
    head = parts[0].split()
    if not head or "=" in head[0]:
        return None
    results: list[MethodResult] = []
    for part in parts[1:]:
        pairs = _PAIR.findall(part)
        if not pairs:
            continue  # "none", or something unreadable: no result
        method, result = pairs[0]
        properties = {key.lower(): _unquote(val) for key, val in pairs[1:]}
        results.append(MethodResult(method.split("/")[0].lower(), _unquote(result).lower(), properties))
    return AuthenticationResults(head[0].lower(), tuple(results))


def _domain_of(value: str) -> str:
    """The domain of ``user@domain``, ``@domain`` or ``domain``, lowercased, without a trailing dot."""
    return _unquote(value).rpartition("@")[2].strip().strip("<>").rstrip(".").lower()


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    if not domain:
        return False
    return domain == from_domain or domain.endswith("." + from_domain) or from_domain.endswith("." + domain)


def _about(result: MethodResult, from_domain: str) -> bool:
    """Whether ``result`` speaks of ``from_domain`` (a result naming no domain is taken to)."""
    keys = {
        "dmarc": ("header.from",),
        "spf": ("smtp.mailfrom", "smtp.helo"),
        "dkim": ("header.d", "header.i"),
    }.get(result.method, ())
    named = [result.properties[k] for k in keys if k in result.properties]
    if not named:
        return True
    return any(_aligned(_domain_of(v), from_domain) for v in named)


def _verdict(header: AuthenticationResults, from_domain: str) -> SenderCheck:
    mine = [r for r in header.results if _about(r, from_domain)]
    dmarc = [r.result for r in mine if r.method == "dmarc"]
    spf = [r.result for r in mine if r.method == "spf"]
    dkim = [r.result for r in mine if r.method == "dkim"]
    where = f"{header.authserv_id}: "
    if "fail" in dmarc:
        return SenderCheck(SenderVerdict.FAIL, f"{where}dmarc=fail for {from_domain}")
    if "pass" in dmarc:
        return SenderCheck(SenderVerdict.PASS, f"{where}dmarc=pass for {from_domain}")
    if "pass" in dkim:
        return SenderCheck(SenderVerdict.PASS, f"{where}dkim=pass for {from_domain}")
    if any(r in _SPF_FAILS for r in spf) and dkim and all(r in _DKIM_FAILS for r in dkim):
        return SenderCheck(SenderVerdict.FAIL, f"{where}spf={spf[0]} and dkim={dkim[0]} for {from_domain}")
    return SenderCheck(SenderVerdict.UNKNOWN, f"{where}nothing decisive for {from_domain}")


def check_sender(
    header_values: Iterable[str], from_domain: str, trusted_authserv_ids: Collection[str]
) -> SenderCheck:
    """The verdict of the trusted headers among ``header_values`` on ``from_domain``.

    Any trusted header that fails the domain makes the verdict FAIL (a forger may add a passing header
    under a trusted name, never remove the real one); otherwise any pass makes it PASS.
    """
    trusted = {t.strip().lower() for t in trusted_authserv_ids if t.strip()}
    domain = from_domain.strip().rstrip(".").lower()
    checks: list[SenderCheck] = []
    for value in header_values:
        header = parse_authentication_results(value)
        if header is None or header.authserv_id not in trusted:
            continue
        checks.append(_verdict(header, domain))
    for wanted in (SenderVerdict.FAIL, SenderVerdict.PASS):
        for check in checks:
            if check.verdict is wanted:
                return check
    if checks:
        return checks[0]
    return SenderCheck(SenderVerdict.UNKNOWN, "no Authentication-Results from a trusted server")
