"""The lookup secret printed on a receipt: with the dossier code it lets anyone holding the receipt follow
the dossier without an account. Derived from the code with a server key (HMAC), so nothing is stored and a
receipt can be printed again; rotating the key invalidates every printed secret."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from infrastructure.keys import random_secret
from infrastructure.settings import Settings

LENGTH = 10  # base32 characters: 50 bits, typed from paper without ambiguity (no 0/1/8 in base32)


class LookupSecrets:
    def __init__(self, key: bytes) -> None:
        self._key = key
        # A poll checks the secret given and prints it back in the view: derive it once for both.
        self.for_dossier = functools.lru_cache(maxsize=1024)(self._derive)

    @classmethod
    def from_settings(cls, settings: Settings) -> LookupSecrets:
        if settings.lookup_secret_key:
            return cls(settings.lookup_secret_key.encode())
        return cls(random_secret(settings.lookup_secret_key_path))

    def _derive(self, dossier_code: str) -> str:
        digest = hmac.new(self._key, dossier_code.encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode()[:LENGTH]

    def matches(self, dossier_code: str, secret: str) -> bool:
        given = secret.strip().upper().replace("-", "").replace(" ", "")
        # As bytes: compare_digest refuses non-ASCII text, and a secret with accents must be as wrong as any other
        # (the same 404), never an error that tells existing codes from others.
        return hmac.compare_digest(self.for_dossier(dossier_code).encode(), given.encode("utf-8", "surrogateescape"))
