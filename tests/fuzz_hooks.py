"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.fuzz_hooks): headers and cookies fuzzed as well as bodies.

The API's OpenAPI document leaves out what clients send beside their parameters (the bearer header, the pages'
cookies, the lookup secret and CSRF headers where a route reads them itself); this hook declares them on every
operation so that the fuzzer generates them, with examples of the inputs that once drew a 500: tokens naming an
algorithm their key does not support, non-ASCII secrets and CSRF tokens."""

from __future__ import annotations

import base64
import json
import os
import threading
from typing import Any

import schemathesis


def _forged(alg: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"iss": "motcua", "aud": "motcua", "sub": "admin", "kind": "officer", "iat": 1, "exp": 4_000_000_000}
    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


TOKENS = [_forged(alg) for alg in ("ES256", "HS256", "PS256", "none", "EdDSA")]
TEXT = {"type": "string", "maxLength": 200}
HEADERS: dict[str, dict[str, Any]] = {
    "Authorization": {**TEXT, "maxLength": 2000, "examples": [f"Bearer {t}" for t in TOKENS] + ["Basic x", "Bearer"]},
    "X-Lookup-Secret": {**TEXT, "examples": ["ÉÉÉÉÉÉÉÉÉÉ", "K3DQ7WZLM\u00ff", "WRONGWRONG"]},
    "X-CSRF-Token": {**TEXT, "examples": ["Ä" * 43, "a" * 43]},
    "Idempotency-Key": {**TEXT, "examples": ["ÿ" * 10, ""]},
}
COOKIES: dict[str, dict[str, Any]] = {
    # Tokens once drew a 500 there; the cookie now carries a session id, looked up in the read model by its hash.
    "motcua_session": {**TEXT, "maxLength": 2000, "examples": [*TOKENS, "A" * 43, "Ä" * 43]},
    "motcua_csrf": {**TEXT, "examples": ["a" * 43]},
    "motcua_lookup": {**TEXT, "examples": ["H29-261121-0001:K3DQ7WZLMA|x:y|::"]},
    "motcua_lang": {**TEXT, "examples": ["en", "xx"]},
}


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    for methods in raw_schema.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            declared = {(p.get("in"), p.get("name", "").lower()) for p in operation.get("parameters", [])}
            extra = [("header", name, schema) for name, schema in HEADERS.items()]
            extra += [("cookie", name, schema) for name, schema in COOKIES.items()]
            for where, name, schema in extra:
                if (where, name.lower()) not in declared:
                    operation.setdefault("parameters", []).append(
                        {"name": name, "in": where, "required": False, "schema": schema}
                    )


_written = threading.Lock()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """What was sent and answered, one JSON line each, to the file MOTCUA_FUZZ_LOG names (the test reads it)."""
    log = os.environ.get("MOTCUA_FUZZ_LOG")
    if not log:
        return
    line = json.dumps({"headers": dict(case.headers or {}), "cookies": dict(case.cookies or {}),
                       "status": response.status_code}, default=str)  # fmt: skip
    with _written, open(log, "a", encoding="utf-8") as out:
        out.write(line + "\n")
