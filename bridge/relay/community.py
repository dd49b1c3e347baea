"""What the relay knows about one community at run time: its config, its store record, its policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bridge.config.schema import CommunityConfig, build_taxonomy
from bridge.core.routing import RelayMode, RelayPolicy
from bridge.core.tags.filing import KeywordMode
from bridge.core.tags.taxonomy import Taxonomy
from bridge.email.addresses import ListIdentity, list_domain, list_id
from bridge.store.records import CommunityRecord


@dataclass(frozen=True, slots=True)
class CommunityContext:
    config: CommunityConfig
    record: CommunityRecord
    moderators_room_id: str | None = None
    """The resolved ``moderators_room``, once the Matrix loop has joined it."""
    taxonomy: Taxonomy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "taxonomy", build_taxonomy(self.config))

    @property
    def keyword_mode(self) -> KeywordMode:
        return KeywordMode(self.config.keyword_tags)

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def slug(self) -> str:
        return self.config.slug

    @property
    def domain(self) -> str:
        return list_domain(self.config.list_address)

    @property
    def list_id(self) -> str:
        return list_id(self.config.slug, self.config.list_address)

    @property
    def identity(self) -> ListIdentity:
        return ListIdentity(
            slug=self.config.slug,
            list_address=self.config.list_address,
            subject_prefix=self.config.prefix,
            name=self.config.name,
        )

    @property
    def room_id(self) -> str | None:
        return self.record.room_id

    @property
    def policy(self) -> RelayPolicy:
        return relay_policy(self.config)


def relay_policy(config: CommunityConfig) -> RelayPolicy:
    quiet = timedelta(seconds=config.batch_quiet_seconds)
    return RelayPolicy(
        mode=RelayMode(config.relay_policy),
        quiet_period=quiet,
        max_batch_delay=max(quiet, timedelta(seconds=config.batch_max_delay_seconds)),
    )
