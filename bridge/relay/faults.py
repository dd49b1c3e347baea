"""Test-only fault injection: one layer of the relay fails for the messages that carry a marker.

The real-server tests must show that a message failing in the parser, in the store or anywhere in a
handler is parked while the others flow, and that it is relayed once the cause is gone. Those failures
cannot be provoked from outside once the bugs behind them are fixed, so the daemon has one documented
switch for them: the environment variable ``ICOP_TEST_FAULTS``, read by the composition root, e.g.

    ICOP_TEST_FAULTS="parse=BREAK-PARSER,store=BREAK-STORE,handler=BREAK-HANDLER"

A mail whose raw bytes contain ``BREAK-PARSER`` then fails as its parsing would (a permanent failure),
one whose subject or text contains ``BREAK-STORE`` fails inside the store transaction after its post is
written (rolled back, permanent), one that contains ``BREAK-HANDLER`` raises an unexpected error in the
handler (retried a few times, then parked); the handler fault applies to Matrix events too. Without the
variable, which no deployment sets, every check is a no-op. The daemon logs a warning at start when it
is set, so it cannot be left on unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bridge.relay.failures import FailureKind, MessageFailure

FAULTS_ENV = "ICOP_TEST_FAULTS"


class FaultStage(StrEnum):
    PARSE = "parse"
    STORE = "store"
    HANDLER = "handler"


_KIND = {
    FaultStage.PARSE: FailureKind.PERMANENT,
    FaultStage.STORE: FailureKind.PERMANENT,
    FaultStage.HANDLER: FailureKind.UNEXPECTED,
}


class InjectedFault(MessageFailure):
    """The failure a test asked for, of the kind a real one in that layer would be."""

    def __init__(self, stage: FaultStage, marker: str) -> None:
        super().__init__(f"injected {stage.value} fault (test marker {marker!r})", _KIND[stage])
        self.stage = stage


@dataclass(frozen=True, slots=True)
class Faults:
    """The markers of each stage; empty (the default) injects nothing."""

    markers: Mapping[FaultStage, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.markers)

    def check(self, stage: FaultStage, data: bytes | str) -> None:
        """Raise ``InjectedFault`` when ``data`` carries the marker of ``stage``."""
        marker = self.markers.get(stage)
        if not marker:
            return
        found = marker.encode() in data if isinstance(data, bytes) else marker in data
        if found:
            raise InjectedFault(stage, marker)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Faults:
        """Read ``ICOP_TEST_FAULTS`` (``stage=marker`` pairs, comma separated); ValueError when malformed."""
        spec = environ.get(FAULTS_ENV, "").strip()
        markers: dict[FaultStage, str] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, equals, marker = item.partition("=")
            try:
                stage = FaultStage(name.strip())
            except ValueError:
                raise ValueError(
                    f"{FAULTS_ENV}: unknown stage {name.strip()!r} (parse, store or handler)"
                ) from None
            if not equals or not marker.strip():
                raise ValueError(f"{FAULTS_ENV}: {item!r} needs a marker: {stage.value}=MARKER")
            markers[stage] = marker.strip()
        return cls(markers)


NO_FAULTS = Faults()
