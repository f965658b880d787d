"""Errors whose message a user or a model reads: each says what is wrong and what to do."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DatabaseUnavailableError",
    "NotFoundError",
    "PermissionDeniedError",
    "SchemaVersionError",
    "SwitchboardError",
    "ValidationFailedError",
]


class SwitchboardError(Exception):
    """Base of every error that is safe to show as it is: no secrets, no stack trace."""


class ConfigError(SwitchboardError):
    """A setting is malformed or missing."""


class DatabaseUnavailableError(SwitchboardError):
    """The database could not be reached or refused our credentials.

    `transient`: the server cannot take this connection for now (not listening yet,
    starting, shutting down, full, or not accepting connections to this database), as while
    it starts or restarts; trying again later may work. Not for a refused password or an
    unknown database, which only a change of settings mends."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SchemaVersionError(SwitchboardError):
    """The database schema is not the one this version of Switchboard expects."""


class NotFoundError(SwitchboardError):
    """An object does not exist in the caller's tenant (it may exist in another one)."""


class ValidationFailedError(SwitchboardError):
    """Input was rejected before it reached storage."""


class PermissionDeniedError(SwitchboardError):
    """The caller is known but may not do this (role, grant or row-level security)."""
