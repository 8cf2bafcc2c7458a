"""Encryption of secrets at rest (Celigo tokens) with the keys of ``FIELD_ENCRYPTION_KEYS``.

MultiFernet encrypts with the first key and decrypts with any, so a new key is rolled out by putting it
first; ``rotate`` re-encrypts a stored value under the newest key.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UndecryptableSecret(Exception):
    """A stored secret no configured key can open (the key it was written with was removed)."""


@cache
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return current().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    try:
        return current().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret(
            "the stored token cannot be decrypted with FIELD_ENCRYPTION_KEYS; "
            "restore the old key or enter the token again"
        ) from None


def rotate(stored: str) -> str:
    return current().rotate(stored.encode()).decode()
