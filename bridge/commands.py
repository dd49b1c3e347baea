"""What each ``icop`` command does, given a loaded config; the argument parsing lives in ``cli``."""

from __future__ import annotations

import asyncio
import sys

from bridge.config import LoadedConfig
from bridge.email.probe import probe_imap, probe_smtp
from bridge.matrix.probe import probe_matrix
from bridge.probe import ProbeResult


async def check(loaded: LoadedConfig, *, online: bool) -> int:
    """Print a summary of a valid config; with ``online``, probe every server and fail on any problem."""
    config = loaded.config
    members = sum(len(c.member) for c in config.community)
    print(
        f"{loaded.path}: ok: {len(config.community)} communities "
        f"({', '.join(c.slug for c in config.community)}), {members} roster entries"
    )
    if not online:
        return 0
    matrix, imap, smtp = config.matrix, config.mail.imap, config.mail.smtp
    results: list[ProbeResult] = []
    matrix_results, imap_result, smtp_result = await asyncio.gather(
        probe_matrix(
            matrix,
            loaded.secret(matrix.access_token_env, matrix.access_token_file),
            loaded.secret(matrix.password_env, matrix.password_file),
            [c.room for c in config.community],
        ),
        probe_imap(imap, loaded.secret(imap.password_env, imap.password_file)),
        probe_smtp(smtp, loaded.secret(smtp.password_env, smtp.password_file)),
    )
    results = [*matrix_results, imap_result, smtp_result]
    for result in results:
        print(result, file=sys.stdout if result.ok else sys.stderr)
    return 0 if all(result.ok for result in results) else 1
