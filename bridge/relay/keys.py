"""The key that signs reply addresses and unsubscribe links.

From ``[signing] key_env`` / ``key_file`` when the convener gives one (several daemons, or a key kept
in a secret manager); otherwise a random key generated on first start and kept in the store's settings,
never in the config file.
"""

from __future__ import annotations

import secrets

from bridge.config import LoadedConfig
from bridge.store import Settings

SETTING = "signing_key"


async def signing_key(loaded: LoadedConfig, settings: Settings) -> bytes:
    ref = loaded.secret(loaded.config.signing.key_env, loaded.config.signing.key_file)
    if ref is not None:
        return ref.read().encode()
    stored = await settings.setdefault(SETTING, secrets.token_hex(32))
    return stored.encode()
