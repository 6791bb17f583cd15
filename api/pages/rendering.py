"""Rendering the pages: one jinja2 environment, the language, the CSRF token and the security headers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from api import browser_session
from api.deps import Principal
from api.pages import i18n
from infrastructure import translations
from infrastructure.settings import get_settings

_environment = Environment(
    loader=PackageLoader("api.pages", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],  # {% trans %} blocks; each render passes its language's gettext
)
_environment.install_null_translations(newstyle=True)
# Our pages run only our own script and style files; nothing frames them, forms post only here.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def local_time(moment: datetime | str | None, zone: str) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):  # a time kept in a JSON column (a fee request's expiry)
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M %d/%m/%Y")


def local_date(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = get_settings()
    language = i18n.language_of(request)
    t = i18n.translator(language)
    catalog = translations.translations(language)
    values: dict[str, Any] = {
        "request": request,
        "t": t,
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
        "language": language,
        "csrf_token": browser_session.csrf_token(request),
        "csrf_field": browser_session.CSRF_FIELD,
        "principal": principal,
        "own_sign_in": settings.issues_own_tokens,
        "local_time": lambda moment: local_time(moment, settings.timezone),
        "local_date": local_date,
        "number": lambda value: translations.number(value, language),
        "time_limit": lambda days: t("Trong ngày") if not days else t("{days} ngày làm việc", days=days),
        "time_limit_cases": lambda definition: _time_limit_cases(definition, t),
        "language_url": lambda code: i18n.switch_url(request, code),
        "notice": None,
    }
    values.update(context or {})
    if isinstance(values.get("errors"), dict):  # field messages said for a person, in the page's language
        values["errors"] = {
            path: [t(m) for m in said] if isinstance(said, list) else said for path, said in values["errors"].items()
        }
    html = _environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    browser_session.keep_csrf_token(request, response, settings)
    i18n.keep_language(request, response, settings)
    return response


def _time_limit_cases(definition: Any, t: Any) -> str:
    """What a procedure whose time limit depends on the case says beside its usual limit."""
    cases = getattr(definition, "time_limit_when", None) or []
    days = sorted({case.working_days for case in cases} - {definition.time_limit_working_days})
    if not days:
        return ""
    return t("tùy trường hợp: {days} ngày làm việc", days=", ".join(str(d) for d in days))
