"""icop-bridge: one conversation for a community of practice across a Matrix room and an email list."""

__version__ = "0.1.0"
