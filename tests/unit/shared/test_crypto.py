from __future__ import annotations

import pytest
from pydantic import SecretStr

from shared.crypto import (
    CredentialCipher,
    CredentialDecryptError,
    cipher_from_settings,
    generate_key,
)
from shared.errors import ConfigError

SECRET = {"api_token": "pk_live_do_not_leak_123456"}


def test_encrypted_form_holds_only_ciphertext_and_round_trips() -> None:
    cipher = CredentialCipher(generate_key())
    stored = cipher.encrypt_credentials(SECRET)
    assert set(stored) == {"ciphertext"}
    assert SECRET["api_token"] not in stored["ciphertext"]
    assert cipher.decrypt_credentials(stored) == SECRET


def test_rotation_keeps_old_values_readable_and_rewrites_them_under_the_newest_key() -> None:
    old, new = generate_key(), generate_key()
    stored_old = CredentialCipher(old).encrypt_credentials(SECRET)
    rotating = CredentialCipher(f"{new},{old}")
    assert rotating.decrypt_credentials(stored_old) == SECRET
    rotated = rotating.rotate(stored_old)
    assert CredentialCipher(new).decrypt_credentials(rotated) == SECRET
    with pytest.raises(CredentialDecryptError):
        CredentialCipher(old).decrypt_credentials(rotated)


def test_wrong_key_error_says_what_to_do_and_shows_no_secret() -> None:
    key = generate_key()
    stored = CredentialCipher(key).encrypt_credentials(SECRET)
    other = generate_key()
    with pytest.raises(CredentialDecryptError) as info:
        CredentialCipher(other).decrypt_credentials(stored)
    message = str(info.value)
    assert "add back the key" in message
    assert key not in message and other not in message and SECRET["api_token"] not in message


def test_malformed_key_is_named_by_position_not_value() -> None:
    good = generate_key()
    with pytest.raises(ConfigError) as info:
        CredentialCipher(f"{good},not-a-fernet-key-secret")
    assert "#2 of 2" in str(info.value)
    assert "not-a-fernet-key-secret" not in str(info.value) and good not in str(info.value)


def test_unset_secret_key_is_a_config_error_with_the_variable_name() -> None:
    with pytest.raises(ConfigError, match="SWITCHBOARD_SECRET_KEY"):
        cipher_from_settings(None)
    assert isinstance(cipher_from_settings(SecretStr(generate_key())), CredentialCipher)


def test_plaintext_stored_value_is_refused_not_returned() -> None:
    cipher = CredentialCipher(generate_key())
    with pytest.raises(CredentialDecryptError, match="encrypted form"):
        cipher.decrypt_credentials({"api_token": "plain"})
    assert cipher.decrypt_credentials(None) == {}
    assert "hidden" in repr(cipher)
