"""Limits at the edge: every request body is bounded before any route, parser or dependency sees it.

A pure ASGI middleware, so nothing is parsed or started before the checks:
- the request's query string (414) and its headers, their number and their bytes (431), which the HTTP parser
  itself does not bound;
- the body's size per content type (JSON, YAML, url-encoded forms, and multipart uploads with their own larger limit
  from ATTACHMENT_MAX_BYTES / RESULT_UPLOAD_MAX_BYTES: a page posts up to FILES_PER_POST files, and each upload
  route keeps its own narrower bound, api/uploads.py), on the declared Content-Length up front and while a chunked
  body streams (413, and nothing more is read);
- a body that does not arrive in time (REQUEST_BODY_TIMEOUT_SECONDS: the whole of a JSON, YAML or form body; for an
  upload, the wait for each next piece) is answered 408;
- a JSON body's nesting depth and number of values, by a cheap scan of its bytes outside strings (no parsing), and its
  encoding: UTF-8 without lone surrogates, escaped (`\\ud800`) or raw (422).
Refusals keep the API's error shape: `{"detail": "…"}`, or `{"detail": [{"loc", "msg", "type"}]}` for a 422.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.pages.citizen import FILES_PER_POST
from infrastructure.settings import Settings, get_settings

TOO_LARGE = 413  # Content Too Large
TIMEOUT = 408
URI_TOO_LONG = 414
HEADERS_TOO_LARGE = 431  # Request Header Fields Too Large
# Browsers and clients send a few hundred bytes of query and a few kilobytes of headers (cookies included: ours stay
# under 1 KB); common proxies stop at 8 KB of request line and 8–16 KB a header.
MAX_QUERY_BYTES = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
FORM_FRAMING = 64 * 1024  # a multipart form's own boundaries and fields, beside its files
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})

# A JSON string (escapes included); what is left once strings are emptied is structure and scalars.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_INNERMOST = re.compile(rb"[\[{][\]}]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
# Escapes in order: a well-formed surrogate pair, a lone surrogate (group 1), any other escape (`\\` included).
_ESCAPE = re.compile(
    rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(u[dD][89a-fA-F][0-9a-fA-F]{2})|.)", re.DOTALL
)


class Refused(HTTPException):
    """A body refused at the edge; an HTTPException, so a route reading an upload answers it in the API's shape."""


def media_kind(content_type: str) -> str:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return "multipart"
    if media_type == "application/x-www-form-urlencoded":
        return "form"
    if media_type in YAML_TYPES:
        return "yaml"
    if media_type in ("application/json", "") or media_type.endswith("+json"):
        return "json"  # FastAPI reads a body without a content type as JSON
    return "other"


def body_limit(kind: str, settings: Settings) -> int:
    if kind == "multipart":  # the pages post up to FILES_PER_POST files; each upload route narrows this to its own
        return FILES_PER_POST * max(settings.attachment_max_bytes, settings.result_upload_max_bytes) + FORM_FRAMING
    if kind == "form":
        return settings.request_max_form_bytes
    if kind == "yaml":
        return settings.request_max_yaml_bytes
    return settings.request_max_json_bytes  # JSON, and any other body (no route takes a larger one)


def json_problem(body: bytes, settings: Settings) -> tuple[int, Any] | None:
    """Why a JSON body is refused before parsing (status, detail), or None. Linear in the body, run in C."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return 422, [
            {"loc": ["body"], "msg": f"the body is not valid UTF-8 (byte {exc.start})", "type": "json_invalid"}
        ]
    if _SURROGATE_HINT.search(body):
        for escape in _ESCAPE.finditer(body):
            if escape.group(1):
                msg = f"the body has a lone surrogate ({escape.group().decode()}), which no text may hold"
                return 422, [{"loc": ["body"], "msg": msg, "type": "json_invalid"}]
    structure = _STRING.sub(b"", body)
    # Each pass removes the innermost pairs of brackets, so the passes count the depth (at most the limit + 1).
    brackets = structure.translate(None, _NOT_BRACKETS)
    depth = 0
    while brackets and depth <= settings.request_max_depth:
        shallower = _INNERMOST.sub(b"", brackets)
        if shallower == brackets:  # unbalanced: what is left opens (or closes) and never ends
            depth += brackets.count(b"[") + brackets.count(b"{")
            break
        brackets = shallower
        depth += 1
    if depth > settings.request_max_depth:
        msg = f"the body is nested deeper than {settings.request_max_depth} levels"
        return 422, [{"loc": ["body"], "msg": msg, "type": "too_deeply_nested"}]
    values = structure.count(b",") + structure.count(b"[") + structure.count(b"{")
    if values > settings.request_max_values:
        return TOO_LARGE, f"a body holds at most {settings.request_max_values} values (this one {values})"
    return None


def form_problem(body: bytes, settings: Settings) -> tuple[int, Any] | None:
    fields = body.count(b"&") + 1
    if fields > settings.request_max_values:
        return TOO_LARGE, f"a form holds at most {settings.request_max_values} fields (this one {fields})"
    return None


async def answer(send: Send, status: int, detail: Any) -> None:
    content = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    if status in (TOO_LARGE, TIMEOUT, 400):
        headers.append((b"connection", b"close"))  # what is left of the body is never read
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


class EdgeLimits:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await answer(send, URI_TOO_LONG, f"a query string is at most {MAX_QUERY_BYTES} bytes")
            return
        raw_headers = scope["headers"]
        if len(raw_headers) > MAX_HEADERS or sum(len(k) + len(v) for k, v in raw_headers) > MAX_HEADER_BYTES:
            await answer(send, HEADERS_TOO_LARGE, f"at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes in all")
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if declared is None and not chunked:
            await self.app(scope, receive, send)  # no body
            return
        settings = get_settings()
        kind = media_kind(headers.get("content-type", ""))
        limit = body_limit(kind, settings)
        if declared is not None:
            if not declared.strip().isdigit():
                await answer(send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await answer(send, TOO_LARGE, f"a {kind} body is at most {limit} bytes")
                return
        if kind == "multipart":
            await self._streamed(scope, receive, send, limit, settings.request_body_timeout_seconds)
            return
        try:
            async with asyncio.timeout(settings.request_body_timeout_seconds):  # no task of its own, unlike wait_for
                body = await _read(receive, limit)
        except TimeoutError:
            await answer(send, TIMEOUT, f"the body did not arrive within {settings.request_body_timeout_seconds} s")
            return
        except Refused as refused:
            await answer(send, refused.status_code, refused.detail)
            return
        if body is None:
            return  # the client went away
        problem = json_problem(body, settings) if kind == "json" else None
        if kind == "form":
            problem = form_problem(body, settings)
        if problem is not None:
            await answer(send, *problem)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int, idle: float) -> None:
        """An upload passes through as it arrives, counted, each piece awaited at most `idle` seconds."""
        received = 0
        complete = False
        started = False
        refused = False

        async def counted() -> Message:
            nonlocal received, complete, refused
            if complete:
                return await receive()  # waiting for a disconnect: no deadline
            try:
                message = await asyncio.wait_for(receive(), idle)
            except TimeoutError:
                refused = True
                raise Refused(TIMEOUT, f"the upload stalled for more than {idle} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > limit:
                    refused = True
                    raise Refused(TOO_LARGE, f"an upload is at most {limit} bytes")
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if refused or not complete:  # the rest of the body is never read: the connection ends with the answer
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Refused as exc:
            if started:
                raise
            await answer(send, exc.status_code, exc.detail)


async def _read(receive: Receive, limit: int) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused(TOO_LARGE, f"a body is at most {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # after the body: the client's disconnect
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
