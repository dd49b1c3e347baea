"""Test configuration shared by every suite: fixture plugins for the real servers and the stores."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.servers",
]
