"""Where a post sits in its conversation, as each channel needs to know when it is delivered.

Matrix needs the thread's root event and the event it answers; email needs the parent's Message-ID and
the References chain back to the root. A post's Message-ID is the one it arrived with, or the one we
derive from its id when we mailed it, so it is known even before the first mail went out. A Message-ID
too long to be stored whole is kept as a digest (``bridge.store.fit``), which is no Message-ID to send:
such a post goes out under the id derived from its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.core.message_ids import post_message_id
from bridge.store import PostRecord, Store
from bridge.store.fit import DIGEST_MARK

MAX_CHAIN = 20


def email_id(post: PostRecord, domain: str) -> str:
    received = post.email_message_id
    if received and DIGEST_MARK not in received:
        return received
    return post_message_id(post.id, domain)


@dataclass(frozen=True, slots=True)
class Conversation:
    post: PostRecord
    root: PostRecord
    parent: PostRecord | None
    ancestors: tuple[PostRecord, ...]  # root first, parent last (bounded)

    @property
    def is_root(self) -> bool:
        return self.root.id == self.post.id

    def references(self, domain: str) -> tuple[str, ...]:
        chain = [email_id(p, domain) for p in self.ancestors]
        root_id = email_id(self.root, domain)
        if self.ancestors and self.ancestors[0].id != self.root.id:
            chain.insert(0, root_id)  # the chain was cut: keep the root, as RFC 5322 readers expect
        return tuple(dict.fromkeys(chain))


async def conversation_of(store: Store, post: PostRecord) -> Conversation:
    ancestors: list[PostRecord] = []
    current = post
    while current.parent_id is not None and len(ancestors) < MAX_CHAIN:
        parent = await store.posts.get(current.parent_id)
        if parent is None or parent.thread_id != post.thread_id:
            break
        ancestors.append(parent)
        current = parent
    ancestors.reverse()
    root = ancestors[0] if ancestors and ancestors[0].parent_id is None else await _root(store, post)
    return Conversation(post, root, ancestors[-1] if ancestors else None, tuple(ancestors))


async def _root(store: Store, post: PostRecord) -> PostRecord:
    root = await store.posts.thread_root(post.thread_id)
    return root if root is not None else post
