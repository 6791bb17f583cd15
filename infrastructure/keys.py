"""Key material kept in files: created once, atomically, whichever process (API, worker, CLI) needs it first."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from infrastructure.atomic_files import publish_once


def load_or_create(path: Path, create: Callable[[], bytes]) -> bytes:
    """The file's bytes; when it does not exist yet, `create()` them there without racing another process
    (whichever process publishes first, everyone then uses its content)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        publish_once(path, create())
        return path.read_bytes()


def rsa_private_key(path: Path) -> RSAPrivateKey:
    def generate() -> bytes:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    key = serialization.load_pem_private_key(load_or_create(path, generate), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def random_secret(path: Path) -> bytes:
    return load_or_create(path, lambda: secrets.token_hex(32).encode())
