"""Credentials encrypted at rest: Fernet keys from `Settings.secret_key`, newest first.

Stored form is `{"ciphertext": "<fernet token>"}` and nothing else, so a database dump or
a `SELECT *` never shows a token. Several comma-separated keys rotate: the first encrypts,
every one decrypts, and `rotate()` re-encrypts an old value under the first key.
Error messages name what is wrong and never include a key or a plaintext value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from shared.errors import ConfigError, SwitchboardError

__all__ = [
    "CredentialCipher",
    "CredentialDecryptError",
    "cipher_from_settings",
    "generate_key",
]

CIPHERTEXT_FIELD = "ciphertext"


class CredentialDecryptError(SwitchboardError):
    """A stored credential could not be decrypted with any configured key."""


def generate_key() -> str:
    """A new Fernet key (url-safe base64, 32 bytes) to put first in SWITCHBOARD_SECRET_KEY."""
    return Fernet.generate_key().decode("ascii")


def _parse_keys(raw: str) -> list[Fernet]:
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if not keys:
        raise ConfigError(
            "SWITCHBOARD_SECRET_KEY is empty; set it to a Fernet key "
            "(generate one with `python -c 'from shared.crypto import generate_key; "
            "print(generate_key())'`)"
        )
    fernets: list[Fernet] = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            # Only the key's position is named: the key itself is a secret.
            raise ConfigError(
                f"SWITCHBOARD_SECRET_KEY key #{position} of {len(keys)} is not a valid "
                "Fernet key (32 url-safe base64-encoded bytes); generate one with "
                "shared.crypto.generate_key()"
            ) from None
    return fernets


class CredentialCipher:
    """Encrypts credential dicts with the newest key; decrypts with any configured key."""

    def __init__(self, keys: str | SecretStr) -> None:
        raw = keys.get_secret_value() if isinstance(keys, SecretStr) else keys
        self._fernet = MultiFernet(_parse_keys(raw))

    def __repr__(self) -> str:
        return "CredentialCipher(<keys hidden>)"

    def encrypt_credentials(self, credentials: Mapping[str, Any]) -> dict[str, str]:
        """`{"ciphertext": ...}` for a JSON-serialisable mapping of credential fields."""
        try:
            plaintext = json.dumps(dict(credentials), sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            raise ConfigError(
                "credentials must be a JSON object of strings, numbers and booleans"
            ) from None
        token = self._fernet.encrypt(plaintext.encode("utf-8"))
        return {CIPHERTEXT_FIELD: token.decode("ascii")}

    def decrypt_credentials(self, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        """The credential dict; `{}` for a row with no credentials.

        Raises CredentialDecryptError when no configured key opens the value (the key was
        removed from SWITCHBOARD_SECRET_KEY, or the value was altered).
        """
        if not stored:
            return {}
        token = self._token_of(stored)
        try:
            plaintext = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise CredentialDecryptError(
                "stored credentials cannot be decrypted with any key in SWITCHBOARD_SECRET_KEY; "
                "add back the key they were written with (after the newest one), or "
                "store the credentials again"
            ) from None
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise CredentialDecryptError(
                "stored credentials are not a JSON object; store them again"
            )
        return dict(value)  # pyright: ignore[reportUnknownArgumentType]

    def rotate(self, stored: Mapping[str, Any]) -> dict[str, str]:
        """The same credentials re-encrypted under the newest key."""
        token = self._token_of(stored)
        try:
            rotated = self._fernet.rotate(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise CredentialDecryptError(
                "stored credentials cannot be decrypted with any key in SWITCHBOARD_SECRET_KEY, "
                "so they cannot be rotated; add back the key they were written with"
            ) from None
        return {CIPHERTEXT_FIELD: rotated.decode("ascii")}

    @staticmethod
    def is_encrypted(stored: object) -> bool:
        return (
            isinstance(stored, Mapping)
            and set(stored) == {CIPHERTEXT_FIELD}  # pyright: ignore[reportUnknownArgumentType]
            and isinstance(stored[CIPHERTEXT_FIELD], str)
        )

    @staticmethod
    def _token_of(stored: Mapping[str, Any]) -> str:
        token = stored.get(CIPHERTEXT_FIELD)
        if not isinstance(token, str) or set(stored) != {CIPHERTEXT_FIELD}:
            raise CredentialDecryptError(
                "stored credentials are not in the encrypted form {'ciphertext': ...}; "
                "store them again through Switchboard so they are encrypted"
            )
        return token


def cipher_from_settings(secret_key: SecretStr | None) -> CredentialCipher:
    """The cipher for `Settings.secret_key`; ConfigError saying how to set it when unset."""
    if secret_key is None or not secret_key.get_secret_value().strip():
        raise ConfigError(
            "SWITCHBOARD_SECRET_KEY is not set, so tool credentials cannot be stored or read; "
            "set it to a Fernet key from shared.crypto.generate_key() (comma-separate "
            "several keys, newest first, to rotate)"
        )
    return CredentialCipher(secret_key)
