"""Encryption at rest for partner tokens (Fernet, keys from TIKTOK_TOKEN_KEYS)."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "fernet", "rotate"]


@cache
def fernet() -> MultiFernet:
    keys = list(settings.TIKTOK_TOKEN_KEYS)
    if not keys:
        # Development only (settings refuse production without keys): a stable key derived
        # from the dev SECRET_KEY, so `make run` needs no setup and restarts keep tokens.
        digest = hashlib.sha256(f"tiktok-token-key:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Raise InvalidToken when no configured key opens it (a key was dropped too early)."""
    return fernet().decrypt(ciphertext.encode()).decode()


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the first (newest) key."""
    return fernet().rotate(ciphertext.encode()).decode()
