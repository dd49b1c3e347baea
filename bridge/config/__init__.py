"""Config: one TOML file, many communities; typed, documented, checked with file and line."""

from bridge.config.load import ConfigError, ConfigIssue, LoadedConfig, load_config
from bridge.config.schema import CommunityConfig, Config, MemberConfig
from bridge.config.secrets import SecretRef, SecretUnavailableError

__all__ = [
    "CommunityConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "LoadedConfig",
    "MemberConfig",
    "SecretRef",
    "SecretUnavailableError",
    "load_config",
]
