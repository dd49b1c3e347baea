"""Secrets by reference: a config names an environment variable or a file, never the secret itself.

A ``SecretRef`` is read at the moment a connection needs it, so the secret lives in memory only where
it is used and is never written into config, logs or the store's settings by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SecretUnavailableError(RuntimeError):
    """The referenced environment variable is unset/empty or the file is missing/unreadable/empty."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives: ``env`` (variable name) or ``file`` (absolute path)."""

    env: str | None = None
    file: Path | None = None

    def describe(self) -> str:
        if self.env:
            return f"environment variable {self.env}"
        return f"file {self.file}"

    def problem(self, environ: Mapping[str, str] | None = None) -> str | None:
        """Why the secret cannot be read, or None when it can."""
        try:
            self.read(environ)
        except SecretUnavailableError as error:
            return str(error)
        return None

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        environ = os.environ if environ is None else environ
        if self.env:
            value = environ.get(self.env, "")
            if not value:
                raise SecretUnavailableError(f"environment variable {self.env} is not set")
            return value
        if self.file is None:
            raise SecretUnavailableError("no secret reference given")
        try:
            value = self.file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SecretUnavailableError(f"secret file {self.file} does not exist") from None
        except OSError as error:
            raise SecretUnavailableError(
                f"secret file {self.file} cannot be read: {error.strerror}"
            ) from None
        if not value:
            raise SecretUnavailableError(f"secret file {self.file} is empty")
        return value


def secret_ref(env: str | None, file: str | None, base_dir: Path) -> SecretRef | None:
    """Build a reference from a ``*_env`` / ``*_file`` pair; relative files are under ``base_dir``."""
    if env:
        return SecretRef(env=env)
    if file:
        path = Path(file).expanduser()
        return SecretRef(file=path if path.is_absolute() else base_dir / path)
    return None
