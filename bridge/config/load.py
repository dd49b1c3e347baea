"""Read a TOML config, validate it against the schema and report every problem as FILE:LINE: field: msg.

All problems are collected and reported at once (a convener fixes the file in one pass). Beyond the
schema this checks what a single field cannot: duplicate slugs, list addresses, rooms and members, and
that every referenced secret (``*_env``, ``*_file``) can be read.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bridge.config.locate import Path as KeyPath
from bridge.config.locate import line_of, locate_keys
from bridge.config.schema import CommunityConfig, Config, database_url_problem
from bridge.config.secrets import SecretRef, secret_ref

DATABASE_URL_ENV = "ICOP_DATABASE_URL"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ConfigError(Exception):
    """The config cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config with what is needed to resolve relative paths and report lines later."""

    config: Config
    path: Path
    key_lines: dict[KeyPath, int] = field(repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def secret(self, env: str | None, file: str | None) -> SecretRef | None:
        return secret_ref(env, file, self.base_dir)

    def database_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The store's URL: ICOP_DATABASE_URL if set, else the config's, relative SQLite paths resolved
        against the config file's folder (an override's relative path is taken from the working dir)."""
        environ = os.environ if environ is None else environ
        override = environ.get(DATABASE_URL_ENV)
        if override:
            return _absolute_sqlite(override, Path.cwd())
        return _absolute_sqlite(self.config.database.url, self.base_dir)

    def community(self, slug: str) -> CommunityConfig:
        for community in self.config.community:
            if community.slug == slug:
                return community
        known = ", ".join(c.slug for c in self.config.community)
        raise KeyError(f"no community {slug!r} in {self.path} (known: {known})")


def _absolute_sqlite(url: str, base: Path) -> str:
    if not url.startswith("sqlite://"):
        return url
    target = url.removeprefix("sqlite://")
    if target == ":memory:" or Path(target).is_absolute():
        return url
    return f"sqlite://{(base / target).resolve()}"


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load and fully check ``path``; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(shown, 0, "-", "config file does not exist")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([ConfigIssue(shown, 0, "-", f"cannot read config: {error}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_syntax_issue(shown, error)]) from None
    lines = locate_keys(text)
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(
            sorted((_schema_issue(shown, lines, e) for e in error.errors()), key=lambda i: i.line)
        ) from None
    loaded = LoadedConfig(config=config, path=path.resolve(), key_lines=lines)
    issues = [
        *_duplicates(shown, lines, config),
        *_unreadable_secrets(shown, lines, loaded, environ),
        *_database_override(shown, environ),
    ]
    if issues:
        raise ConfigError(sorted(issues, key=lambda i: i.line))
    return loaded


def _syntax_issue(file: str, error: tomllib.TOMLDecodeError) -> ConfigIssue:
    message = str(error)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    line = int(match.group(1)) if match else 0
    reason = message[: match.start()].strip() if match else message
    return ConfigIssue(file, line, "toml", f"syntax error: {reason}")


def dotted(path: tuple[Any, ...]) -> str:
    """("community", 0, "member", 1, "email") → "community[0].member[1].email"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "-"


def _schema_issue(file: str, lines: dict[KeyPath, int], error: Any) -> ConfigIssue:
    loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    line = line_of(lines, loc) or 1
    kind = error["type"]
    message = str(error["msg"])
    if kind == "extra_forbidden":
        message = "unknown key" + _did_you_mean(loc)
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = message.removeprefix("Value error, ")
    return ConfigIssue(file, line, dotted(loc), message)


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the member type's name to a union's location (e.g. "function-after[...]").
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    model = _model_at(loc[:-1])
    if model is None or not loc:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Follow a location through the schema's types to the model that owns its last key."""
    current: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _unwrap(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is not None:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
        if models:
            return models[0]
        nested = [arg for arg in args if get_origin(arg) is not None]
        if not nested:
            return args[0] if args else annotation
        annotation = nested[0]
    return annotation


def _duplicates(file: str, lines: dict[KeyPath, int], config: Config) -> Iterator[ConfigIssue]:
    seen: dict[tuple[str, str], str] = {}

    def check(kind: str, value: str, path: KeyPath, scope: str = "") -> Iterator[ConfigIssue]:
        key = (kind + scope, value.lower())
        if key in seen:
            yield ConfigIssue(
                file,
                line_of(lines, path) or 1,
                dotted(path),
                f"duplicate {kind} {value!r} (first used at {seen[key]})",
            )
        else:
            seen[key] = f"{dotted(path)}, line {line_of(lines, path) or 1}"

    for index, community in enumerate(config.community):
        base: KeyPath = ("community", index)
        yield from check("slug", community.slug, (*base, "slug"))
        yield from check("list address", community.list_address, (*base, "list_address"))
        yield from check("room", community.room, (*base, "room"))
        for number, member in enumerate(community.member):
            where: KeyPath = (*base, "member", number)
            yield from check("member email", member.email, (*where, "email"), community.slug)
            if member.matrix:
                yield from check("member matrix id", member.matrix, (*where, "matrix"), community.slug)
            if member.email.lower() == community.list_address.lower():
                yield ConfigIssue(
                    file,
                    line_of(lines, (*where, "email")) or 1,
                    dotted((*where, "email")),
                    "a member's address cannot be the list address itself",
                )
        for number, meeting in enumerate(community.meeting):
            yield from check("meeting id", meeting.id, (*base, "meeting", number, "id"), community.slug)


def _unreadable_secrets(
    file: str, lines: dict[KeyPath, int], loaded: LoadedConfig, environ: Mapping[str, str]
) -> Iterator[ConfigIssue]:
    for path, env, secret_file in _secret_references(loaded.config, ()):
        ref = loaded.secret(env, secret_file)
        problem = ref.problem(environ) if ref else None
        if problem:
            key = (*path, "_env" if env else "_file")
            named = (*path[:-1], f"{path[-1]}{key[-1]}")
            yield ConfigIssue(file, line_of(lines, named) or 1, dotted(named), problem)


def _database_override(file: str, environ: Mapping[str, str]) -> Iterator[ConfigIssue]:
    """A bad ICOP_DATABASE_URL is a config error like a bad ``[database] url`` (exit 2, one line)."""
    override = environ.get(DATABASE_URL_ENV)
    problem = database_url_problem(override) if override else None
    if problem:
        yield ConfigIssue(file, 0, DATABASE_URL_ENV, f"{problem} (it overrides [database] url)")


def _secret_references(model: BaseModel, path: KeyPath) -> Iterator[tuple[KeyPath, str | None, str | None]]:
    """Every ``X_env`` / ``X_file`` pair set in the config, as (path to X, env, file)."""
    names = type(model).model_fields
    for name in names:
        value = getattr(model, name)
        if name.endswith("_env") or name.endswith("_file"):
            stem = name.rsplit("_", 1)[0]
            if name.endswith("_env") and value:
                yield (*path, stem), value, None
            elif name.endswith("_file") and value and not getattr(model, f"{stem}_env", None):
                yield (*path, stem), None, value
        elif isinstance(value, BaseModel):
            yield from _secret_references(value, (*path, name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _secret_references(item, (*path, name, index))
