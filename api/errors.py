"""One error shape for the whole API: FastAPI's `{"detail": [{"loc", "msg", "type"}]}` for 422s."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

UNPROCESSABLE = 422


def unprocessable(errors: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(UNPROCESSABLE, errors)


def field_error(loc: list[str | int], msg: str, kind: str = "value_error") -> HTTPException:
    return unprocessable([{"loc": loc, "msg": msg, "type": kind}])
