"""The signed links of digests and subscriptions, minted and checked in one place.

Every link a reader may follow from a mail carries a token bound to its purpose, so one kind cannot be
used as another: the one-click unsubscribe of a digest (stops that reader's digests), the settings page
of a reader, the two "was this useful?" answers, and the confirmation of a new subscription (a
case-insensitive code, because it also travels in the reply address ``list+confirm-CODE@domain``).
Tokens name a membership or a digest, never a community: the web handlers check that what a token names
belongs to the community in the URL, so a token of one community opens nothing in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.core.links import community_url, subscribe_url
from bridge.core.tokens import sign_code, sign_link_token, verify_code, verify_link_token

DIGEST_UNSUBSCRIBE = "digest-unsubscribe"
MANAGE = "manage-subscription"
FEEDBACK = "digest-feedback"
CONFIRM = "confirm-subscription"

LINK_VALIDITY = timedelta(days=365)
CONFIRM_VALIDITY = timedelta(days=7)
"""A confirmation older than a week is refused; asking again sends a fresh one."""

CONFIRM_DETAIL = "confirm-"
"""Starts the subaddress of a confirmation reply: ``list+confirm-CODE@domain``."""


@dataclass(frozen=True, slots=True)
class Feedback:
    digest_id: int
    useful: bool


class DigestLinks:
    """Mints and checks the links of one deployment (its ``base_url`` and signing key)."""

    def __init__(self, base_url: str, key: bytes) -> None:
        self.base_url = str(base_url).rstrip("/")
        self.key = key
        self._cache: dict[str, tuple[str, str]] = {}

    # -- minting ------------------------------------------------------------------------------
    def unsubscribe(self, membership_id: int, now: datetime) -> str:
        token = sign_link_token(self.key, DIGEST_UNSUBSCRIBE, str(membership_id), _expiry(now, LINK_VALIDITY))
        return f"{self.base_url}/unsubscribe/{token}"

    def manage(self, slug: str, membership_id: int, now: datetime) -> str:
        token = sign_link_token(self.key, MANAGE, str(membership_id), _expiry(now, LINK_VALIDITY))
        return f"{self._urls(slug)[1]}?manage={token}"  # link tokens are URL-safe as they are

    def feedback(self, slug: str, digest_id: int, useful: bool, now: datetime) -> str:
        subject = f"{digest_id}:{'yes' if useful else 'no'}"
        token = sign_link_token(self.key, FEEDBACK, subject, _expiry(now, LINK_VALIDITY))
        return f"{self._urls(slug)[0]}feedback/{token}"

    def _urls(self, slug: str) -> tuple[str, str]:
        """The community's page and its subscription page, built once per community."""
        found = self._cache.get(slug)
        if found is None:
            found = self._cache[slug] = (
                community_url(self.base_url, slug),
                subscribe_url(self.base_url, slug),
            )
        return found

    def confirm_code(self, membership_id: int, now: datetime) -> str:
        return sign_code(self.key, CONFIRM, membership_id, _expiry(now, CONFIRM_VALIDITY))

    def confirm(self, slug: str, code: str) -> str:
        return f"{self._urls(slug)[1]}?confirm={code}"

    # -- checking -----------------------------------------------------------------------------
    def membership_to_unsubscribe(self, token: str, now: datetime) -> int | None:
        return _number(verify_link_token(self.key, DIGEST_UNSUBSCRIBE, token, now))

    def membership_to_manage(self, token: str, now: datetime) -> int | None:
        return _number(verify_link_token(self.key, MANAGE, token, now))

    def feedback_of(self, token: str, now: datetime) -> Feedback | None:
        subject = verify_link_token(self.key, FEEDBACK, token, now)
        digest, _, answer = (subject or "").partition(":")
        if not digest.isdigit() or answer not in ("yes", "no"):
            return None
        return Feedback(int(digest), answer == "yes")

    def membership_to_confirm(self, code: str, now: datetime) -> int | None:
        return verify_code(self.key, CONFIRM, code, now)


def _expiry(now: datetime, validity: timedelta) -> datetime:
    return (now + validity).replace(microsecond=0)


def _number(subject: str | None) -> int | None:
    return int(subject) if subject is not None and subject.isdigit() else None
