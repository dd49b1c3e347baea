"""What an import tells the person running it: a progress bar, every message it did not import, a
summary.

On a terminal the progress is a tqdm bar over the bytes of the files (with messages per second);
otherwise a plain line every few seconds, so a log of a cron job shows the run moving. Messages that
are not imported are named on stderr as ``FILE#INDEX: reason (line N)``, one line each, above the bar.
The last line on stdout is always the summary ``imported N, already stored M, failed K``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from tqdm import tqdm

from bridge.importer.mbox import report_line

PLAIN_EVERY_SECONDS = 5.0


@dataclass
class Tally:
    imported: int = 0
    already_stored: int = 0
    failed: int = 0
    skipped: int = 0  # automatic mail (bounces, auto-replies): not posts, not failures either

    @property
    def seen(self) -> int:
        return self.imported + self.already_stored + self.failed + self.skipped

    def summary(self) -> str:
        return f"imported {self.imported}, already stored {self.already_stored}, failed {self.failed}"


class Progress:
    """Progress over ``total`` units (bytes of the files, or events of a room)."""

    def __init__(
        self,
        total: int,
        *,
        unit: str,
        out: TextIO | None = None,
        err: TextIO | None = None,
        terminal: bool | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.terminal = self.out.isatty() if terminal is None else terminal
        self.unit = unit
        self.total = total
        self.done = 0
        self.tally = Tally()
        self._started = time.monotonic()
        self._last_line = self._started
        self._bar: tqdm[None] | None = None
        if self.terminal:
            self._bar = tqdm(
                total=total,
                unit="B" if unit == "bytes" else unit,
                unit_scale=unit == "bytes",
                file=self.out,
                dynamic_ncols=True,
                leave=True,
            )

    def advance_to(self, done: int) -> None:
        step, self.done = max(0, done - self.done), max(self.done, done)
        if self._bar is not None:
            self._bar.update(step)
            self._bar.set_postfix_str(f"{self.tally.seen:,} messages", refresh=False)
            return
        now = time.monotonic()
        if now - self._last_line >= PLAIN_EVERY_SECONDS:
            self._last_line = now
            print(self._plain_line(now), file=self.out, flush=True)

    def not_imported(self, where: str, reason: str) -> None:
        line = report_line(where, reason)
        if self._bar is not None:
            self._bar.write(line, file=self.err)
        else:
            print(line, file=self.err)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def finish(self) -> None:
        """Close the bar and print the closing lines; the summary is the last line on stdout."""
        self.close()
        elapsed = time.monotonic() - self._started
        rate = self.tally.seen / elapsed if elapsed > 0 else 0.0
        print(f"{self.tally.seen:,} messages read in {elapsed:.1f} s ({rate:,.0f}/s)", file=self.err)
        if self.tally.skipped:
            print(
                f"skipped {self.tally.skipped} automatic messages (bounces, automatic replies)", file=self.out
            )
        print(self.tally.summary(), file=self.out, flush=True)

    def _plain_line(self, now: float) -> str:
        elapsed = now - self._started
        rate = self.tally.seen / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.tally.seen:,} messages{share}, {rate:,.0f}/s"
