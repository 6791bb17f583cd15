"""Security headers on every HTML and SVG answer, not only the pages': receipts, process-control slips, form
previews, signed results, step graphs and the API's own documentation are opened in the same browsers."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.pages.rendering import SECURITY_HEADERS

# Documents motcua renders (receipts, slips, form previews, results, graphs) carry their own inline styles and never
# a script: styles inline, nothing else but their own images.
DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# FastAPI's interactive documentation loads Swagger UI and ReDoc from their CDN with an inline start-up script.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; font-src 'self' https://fonts.gstatic.com; "
    "worker-src blob:; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")
_MARKED_TYPES = (b"text/html", b"image/svg+xml")


class SecurityHeaders:
    """Adds the headers an HTML or SVG answer lacks; the pages' own (set when they render) are left as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"].startswith(DOCS_PATHS) else DOCUMENT_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
                if content_type.startswith(_MARKED_TYPES) and b"content-security-policy" not in present:
                    wanted = {**SECURITY_HEADERS, "Content-Security-Policy": policy}
                    headers += [
                        (name.lower().encode(), value.encode())
                        for name, value in wanted.items()
                        if name.lower().encode() not in present
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
