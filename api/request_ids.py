"""Each request gets an id (the client's X-Request-ID when it is a plain token, else a new one): answered in the
same header, written on every log line the request causes, and carried to the workflow (infrastructure/
request_context.py)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.request_context import HEADER, accepted_or_new, serving


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identifier = accepted_or_new(Headers(scope=scope).get(HEADER))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (HEADER.lower().encode(), identifier.encode())],
                }
            await send(message)

        with serving(identifier):
            await self.app(scope, receive, send_with_id)
