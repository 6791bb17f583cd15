"""What the pages answer when something is refused: a page with the message, never a JSON body or a 500.
An answer that asks to sign in sends the browser to the sign-in page, or to the lookup form for a dossier."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import browser_session
from api.errors import listed, validation_error_response
from api.pages.rendering import render
from domain.wording import mark

PAGE_PREFIXES = ("/citizen", "/officer", "/admin", "/sign-in", "/sign-out")
TITLES = {400: mark("Yêu cầu không hợp lệ"), 401: mark("Đăng nhập"), 403: mark("Không được phép"), 404: mark("Không tìm thấy"),
          422: mark("Yêu cầu không hợp lệ")}  # fmt: skip


def is_page(path: str) -> bool:
    """A path of the pages (`/officer/inbox`), not of the API (`/officers`)."""
    return path == "/" or any(path == prefix or path.startswith(prefix + "/") for prefix in PAGE_PREFIXES)


def local_path(target: str | None, default: str = "/") -> str:
    """Where to go after signing in: a path of this site only (never `//elsewhere` or a full address)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def messages(detail: Any) -> list[str]:
    """An HTTPException's detail as sentences: a string, or FastAPI's list of {loc, msg}."""
    if isinstance(detail, list):
        said = []
        for error in detail:
            if isinstance(error, dict):
                where = ".".join(str(p) for p in error.get("loc", []) if p not in ("body", "form", "query", "path"))
                said.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
            else:
                said.append(str(error))
        return said
    return [str(detail)] if detail else []


def csrf_refused() -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, "csrf")


async def csrf_protected(request: Request) -> None:
    """Every page that changes something proves the post comes from one of our pages."""
    if request.method in browser_session.SAFE_METHODS:
        return
    presented = request.headers.get(browser_session.CSRF_HEADER)
    if presented is None:
        form = await request.form()
        field = form.get(browser_session.CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    if not browser_session.prove_csrf(request, presented):
        raise csrf_refused()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if not is_page(path):
        return await http_exception_handler(request, exc)
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        if path.startswith("/citizen/dossiers/"):
            code = path.split("/")[3]
            return RedirectResponse(f"/citizen/lookup?code={quote(code)}", status.HTTP_303_SEE_OTHER)
        target = path + (f"?{request.url.query}" if request.url.query and request.method == "GET" else "")
        return RedirectResponse(f"/sign-in?next={quote(target)}", status.HTTP_303_SEE_OTHER)
    said = messages(exc.detail)
    if exc.detail == "csrf":
        said = [mark("Phiên làm việc đã hết hạn hoặc biểu mẫu đã cũ; hãy tải lại trang và thử lại.")]
    return render(
        request,
        "error.html",
        {
            "title": TITLES.get(exc.status_code, mark("Có lỗi")),
            "messages": said,
            "translate_messages": exc.detail == "csrf",
        },
        status_code=exc.status_code,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not is_page(request.url.path):
        return await validation_error_response(request, exc)
    return render(
        request,
        "error.html",
        {
            "title": mark("Yêu cầu không hợp lệ"),
            "messages": messages(listed(exc.errors())),
            "translate_messages": False,
        },
        status_code=422,
    )


def install_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
