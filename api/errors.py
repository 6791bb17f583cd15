"""One error shape for the whole API: FastAPI's `{"detail": [{"loc", "msg", "type"}]}` for 422s.

A 422 lists at most MAX_ERRORS_LISTED errors, then one entry counting the rest (type `too_many_errors`), and echoes
back only short inputs: a bad body never draws an answer larger than itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from infrastructure.settings import get_settings

UNPROCESSABLE = 422
# Dates a query may name (statistics' periods, a receipt's time): the calendar's arithmetic is sound far beyond, but
# nothing this system records lies outside, and years such as 1 or 9999 overflow it.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
ECHOED = 100  # the longest input (in characters) an error repeats


def listed(errors: Sequence[Any]) -> list[Any]:
    """The errors a 422 shows: the first few, short, and how many more there were."""
    limit = get_settings().max_errors_listed
    shown = [_short(error) for error in errors[:limit]]
    if len(errors) > limit:
        rest = len(errors) - limit
        shown.append({"loc": [], "msg": f"{rest} more errors not listed", "type": "too_many_errors"})
    return shown


def _short(error: Any) -> Any:
    if not isinstance(error, dict) or "input" not in error:
        return error
    value = error["input"]
    if value is None or isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= ECHOED):
        return error
    return {key: item for key, item in error.items() if key != "input"}


def unprocessable(errors: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(UNPROCESSABLE, listed(errors))


def field_error(loc: list[str | int], msg: str, kind: str = "value_error") -> HTTPException:
    return unprocessable([{"loc": loc, "msg": msg, "type": kind}])


def check_date_range(value: date | datetime, loc: list[str | int]) -> None:
    """422 at `loc` when a date (or a time's date) lies outside EARLIEST_DATE..LATEST_DATE."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise field_error(loc, f"give a date from {EARLIEST_DATE} to {LATEST_DATE}", "date_out_of_range")


async def validation_error_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's answer to a request that does not validate, its list of errors bounded."""
    return JSONResponse(status_code=UNPROCESSABLE, content={"detail": jsonable_encoder(listed(exc.errors()))})
