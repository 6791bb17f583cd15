"""Bounded uploads: a route class that refuses a request body larger than a configured limit before it is
parsed or spooled (the declared Content-Length, and what actually arrives)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message

from infrastructure.settings import Settings, get_settings

TOO_LARGE = 413  # Content Too Large (named differently across Starlette versions)
FORM_FRAMING = 64 * 1024  # a multipart form's own boundaries and fields, beside its files


def bounded_upload_route(limit_of: Callable[[Settings], int]) -> type[APIRoute]:
    """A route class whose requests carry at most `limit_of(settings)` bytes (plus the form's framing)."""

    class BoundedUploadRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handle = super().get_route_handler()

            async def bounded(request: Request) -> Response:
                limit = limit_of(get_settings()) + FORM_FRAMING
                declared = request.headers.get("content-length")
                if declared is not None and (not declared.isdigit() or int(declared) > limit):
                    raise HTTPException(TOO_LARGE, f"uploads are limited to {limit} bytes")
                received = 0
                receive = request.receive

                async def counted() -> Message:
                    nonlocal received
                    message = await receive()
                    received += len(message.get("body", b""))
                    if received > limit:  # a body sent without (or beyond) its declared length
                        raise HTTPException(TOO_LARGE, f"uploads are limited to {limit} bytes")
                    return message

                return await handle(Request(request.scope, counted))

            return bounded

    return BoundedUploadRoute
