"""Posts ready to compose, shared by the outbound tests."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bridge.core.message_ids import post_message_id
from bridge.core.model import Attachment, Channel
from bridge.email.outbound import OutgoingPost
from bridge.rendering import Renderer
from tests.unit.email.samples import PM

DOMAIN = "lists.example.com"
RENDERER = Renderer()
ROOT_ID = post_message_id(1, DOMAIN)
PARENT_ID = post_message_id(41, DOMAIN)
POST_ID = post_message_id(42, DOMAIN)
REPLY_TO = "pm-practice+aebagbaf2ya4c3dfmnqq@lists.example.com"
UNSUBSCRIBE_URL = "https://icop.example.com/unsubscribe/pm-practice?t=AAAAAGcAAAA.sig"
UNSUBSCRIBE_MAILTO = "mailto:pm-practice+unsubscribe@lists.example.com?subject=unsubscribe"
ARCHIVE_URL = "https://icop.example.com/pm-practice/threads/7"
PDF = Attachment("plan.pdf", "application/pdf", 9, b"%PDF-1.4\n")
WHEN = datetime(2024, 10, 1, 12, 30, tzinfo=UTC)


def post(**changes: Any) -> OutgoingPost:
    base = OutgoingPost(
        community=PM,
        recipient="bo@example.org",
        subject="Kick-off notes",
        is_reply=True,
        message_id=POST_ID,
        reply_to=REPLY_TO,
        unsubscribe_url=UNSUBSCRIBE_URL,
        unsubscribe_mailto=UNSUBSCRIBE_MAILTO,
        in_reply_to=PARENT_ID,
        references=(ROOT_ID,),
        archive_url=ARCHIVE_URL,
        date=WHEN,
        author_name="Ana Souza",
        author_channel=Channel.MATRIX,
        text="Thursday at **10:00** works.",
    )
    return replace(base, **changes)
