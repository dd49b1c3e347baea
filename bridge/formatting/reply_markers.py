"""The words mail clients put around quoted history, in the languages our members write.

Shared by the plain-text and the HTML reply trimmers in ``quotes``, so both recognise the
same attribution lines ("On … wrote:", "Am … schrieb …:"), Outlook header blocks,
signature separators and mobile signatures.
"""

from __future__ import annotations

import re

_LEADS = r"(?:on|am|le|el|em|op|il|den|på|w\s+dniu|dne)"
_VERBS = (
    r"(?:wrote|writes|schrieb|a\s+écrit|escribió|escreveu|escribiu|schreef|ha\s+scritto|"
    r"skrev|napisał|napsal|kirjoitti|írta)"
)
# German and Dutch put the verb before the name: "Am … schrieb Ana <a@b>:".
_ATTRIBUTION = re.compile(rf"^\s*{_LEADS}\b.{{0,300}}\b{_VERBS}\b.{{0,200}}:\s*$", re.IGNORECASE)
_BARE_ATTRIBUTION = re.compile(rf"^.{{0,200}}[@0-9].{{0,200}}\b{_VERBS}\s*:\s*$", re.IGNORECASE)

_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|mensagem original|messaggio originale|oorspronkelijk bericht|"
    r"originalmeddelande|oprindelig meddelelse|opprinnelig melding)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD_MARKER = re.compile(
    r"-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|"
    r"mensaje reenviado|mensagem encaminhada)\s*-{2,}|begin forwarded message:",
    re.IGNORECASE,
)
_FIELD = r"\s*\*{{0,2}}\s*({names})\s*\*{{0,2}}\s*:"
_FROM_FIELD = re.compile("^" + _FIELD.format(names="from|von|de|da|van|från|fra|od"), re.IGNORECASE)
_DATE_FIELD = re.compile(
    _FIELD.format(
        names="sent|date|gesendet|datum|envoyé|enviado|enviada|data|inviato|verzonden|skickat|sendt|odesláno"
    ),
    re.IGNORECASE,
)
_SUBJECT_FIELD = re.compile(
    _FIELD.format(names="subject|betreff|objet|asunto|assunto|oggetto|onderwerp|ämne|emne|předmět"),
    re.IGNORECASE,
)
_SEPARATOR_LINE = re.compile(r"^\s*[_\-=]{8,}\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"""^\s*(?:
        sent\ from\ my\ [\w\ .,'’\-]{1,40}
      | sent\ (?:from|with|via)\ (?:outlook|mail|yahoo\ mail|gmail|proton\s?mail|aol|
            samsung\ email|blackberry|spark|airmail)\b[\w\ .,'’\-]{0,40}
      | get\ outlook\ for\ (?:ios|android)
      | von\ meinem\ [\w\ .\-]{1,40}\ gesendet
      | gesendet\ von\ meinem\ [\w\ .\-]{1,40}
      | envoyé\ de\ mon\ [\w\ .\-]{1,40}
      | enviado\ desde\ mi\ [\w\ .\-]{1,40}
      | enviado\ do\ meu\ [\w\ .\-]{1,40}
      | inviato\ da\ [\w\ .\-]{1,40}
      | verzonden\ (?:vanaf|met)\ mijn\ [\w\ .\-]{1,40}
    )\s*(?:<[^<>\s]*>|\[[^\[\]\s]*\]|\(?https?://\S+\)?)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)

SIGNATURE_SEPARATOR = "-- "
"""RFC 3676, section 4.3: dash, dash, space, alone on a line."""

_WHITESPACE = re.compile(r"\s+")
_DATE_OR_ADDRESS = re.compile(r"\b\d{4}\b|\b\d{1,2}[:.]\d{2}\b|\S@\S")


def normalize_space(text: str) -> str:
    return _WHITESPACE.sub(" ", text.replace("\xa0", " ")).strip()


def is_attribution(text: str) -> bool:
    """Either kind of attribution below."""
    return is_dated_attribution(text) or is_bare_attribution(text)


def is_dated_attribution(text: str) -> bool:
    """ "On Tue, 3 Mar 2026 at 10:00, Ana <a@b> wrote:" and its translations."""
    text = normalize_space(text)
    return len(text) < 500 and bool(_ATTRIBUTION.match(text))


def is_bare_attribution(text: str) -> bool:
    """ "Ana <a@b> wrote:": ends in the verb and carries an address or a date."""
    text = normalize_space(text)
    return len(text) < 400 and bool(_BARE_ATTRIBUTION.match(text))


def has_date_or_address(text: str) -> bool:
    """A year, a clock time or a mail address: what real attributions carry."""
    return bool(_DATE_OR_ADDRESS.search(text))


def is_original_message_marker(line: str) -> bool:
    return bool(_ORIGINAL_MESSAGE.match(line))


def mentions_forward(text: str) -> bool:
    return bool(_FORWARD_MARKER.search(text))


def starts_with_from_field(text: str) -> bool:
    return bool(_FROM_FIELD.match(text))


def is_header_block(text: str) -> bool:
    """Outlook's "From: … Sent: … To: … Subject: …" introduction of the quoted message."""
    head = text[:2000]
    return (
        starts_with_from_field(head)
        and bool(_DATE_FIELD.search(head))
        and bool(_SUBJECT_FIELD.search(head))
        and not mentions_forward(head)
    )


def is_separator_line(line: str) -> bool:
    return bool(_SEPARATOR_LINE.match(line))


def is_mobile_signature(text: str) -> bool:
    return len(text) < 200 and bool(_MOBILE_SIGNATURE.match(normalize_space(text)))


def is_signature_separator(line: str) -> bool:
    """The RFC 3676 separator exactly."""
    return line.rstrip("\r\n") == SIGNATURE_SEPARATOR


def is_worn_signature_separator(line: str) -> bool:
    """The separator after a client or a relay trimmed its trailing space."""
    return line.strip() == "--"
