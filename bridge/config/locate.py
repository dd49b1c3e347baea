"""Map every key of a TOML document to the line it was written on.

``tomllib`` returns values without positions, yet a convener fixing a config needs ``FILE:LINE``. This is a
small lexical pass over the same text that follows table headers, arrays of tables, dotted keys, inline
tables and multi-line arrays, and records the line of each key path, e.g.
``("community", 1, "member", 0, "email") -> 42``. It runs only on text ``tomllib`` already accepted.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def locate_keys(text: str) -> dict[Path, int]:
    """Return the 1-based line of every table, array element and key in ``text``."""
    scanner = _Scanner(text)
    scanner.scan()
    return scanner.lines


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of ``path`` or, when it was never written (a missing key), of its nearest written parent."""
    for end in range(len(path), 0, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.table: Path = ()
        self.array_counts: dict[Path, int] = {}
        self.lines: dict[Path, int] = {}

    # -- low level -------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.pos < len(self.text):
                if self.text[self.pos] == "\n":
                    self.line += 1
                self.pos += 1

    def skip_space(self, newlines: bool) -> None:
        while True:
            char = self.peek()
            if char in (" ", "\t", "\r") or (newlines and char == "\n"):
                self.advance()
            elif char == "#":
                while self.peek() not in ("\n", ""):
                    self.advance()
            else:
                return

    def skip_to_line_end(self) -> None:
        while self.peek() not in ("\n", ""):
            self.advance()

    # -- grammar ---------------------------------------------------------------------------------
    def scan(self) -> None:
        while self.pos < len(self.text):
            self.skip_space(newlines=True)
            if not self.peek():
                return
            if self.peek() == "[":
                self.header()
            else:
                self.key_value(self.table)
            self.skip_to_line_end()

    def header(self) -> None:
        is_array = self.peek(1) == "["
        self.advance(2 if is_array else 1)
        self.skip_space(newlines=False)
        keys = self.key()
        line = self.line
        self.advance(2 if is_array else 1)
        path = self._concrete(tuple(keys))
        for end in range(1, len(path)):  # [mail.imap] also writes the table "mail"
            self.lines.setdefault(path[:end], line)
        if is_array:
            index = self.array_counts.get(path, 0)
            self.array_counts[path] = index + 1
            self.lines.setdefault(path, line)
            path = (*path, index)
        self.lines[path] = line
        self.table = path

    def _concrete(self, keys: tuple[str, ...]) -> Path:
        """Insert the current index of every array of tables the header passes through."""
        concrete: list[str | int] = []
        for position, key in enumerate(keys):
            concrete.append(key)
            count = self.array_counts.get(tuple(concrete))
            if count is not None and position < len(keys) - 1:
                concrete.append(count - 1)
        return tuple(concrete)

    def key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_space(newlines=False)
            char = self.peek()
            if char in ('"', "'"):
                parts.append(self.quoted_key(char))
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if not match:
                    return parts
                parts.append(match.group())
                self.advance(len(match.group()))
            self.skip_space(newlines=False)
            if self.peek() == ".":
                self.advance()
                continue
            return parts

    def quoted_key(self, quote: str) -> str:
        self.advance()
        start = self.pos
        while self.peek() not in (quote, ""):
            if quote == '"' and self.peek() == "\\":
                self.advance()
            self.advance()
        value = self.text[start : self.pos]
        self.advance()
        return value

    def key_value(self, table: Path) -> None:
        line = self.line
        keys = self.key()
        path = (*table, *keys)
        self.lines[path] = line
        self.skip_space(newlines=False)
        if self.peek() == "=":
            self.advance()
            self.skip_space(newlines=False)
            self.value(path)

    def value(self, path: Path) -> None:
        char = self.peek()
        if char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        elif char in ('"', "'"):
            self.string(char)
        else:
            while self.peek() not in ("\n", "", ",", "]", "}", "#"):
                self.advance()

    def string(self, quote: str) -> None:
        if self.text.startswith(quote * 3, self.pos):
            self.advance(3)
            while self.pos < len(self.text) and not self.text.startswith(quote * 3, self.pos):
                if quote == '"' and self.peek() == "\\":
                    self.advance()
                self.advance()
            self.advance(3)
            while self.peek() == quote:  # up to two quotes may close a multi-line string
                self.advance()
            return
        self.advance()
        while self.peek() not in (quote, "", "\n"):
            if quote == '"' and self.peek() == "\\":
                self.advance()
            self.advance()
        self.advance()

    def array(self, path: Path) -> None:
        self.advance()
        index = 0
        while True:
            self.skip_space(newlines=True)
            if self.peek() in ("]", ""):
                self.advance()
                return
            self.lines[(*path, index)] = self.line
            self.value((*path, index))
            self.skip_space(newlines=True)
            if self.peek() == ",":
                self.advance()
            index += 1

    def inline_table(self, path: Path) -> None:
        self.advance()
        while True:
            self.skip_space(newlines=True)
            if self.peek() in ("}", ""):
                self.advance()
                return
            self.key_value(path)
            self.skip_space(newlines=True)
            if self.peek() == ",":
                self.advance()
