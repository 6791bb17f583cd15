"""The pages' language: Vietnamese (the default) or English. Templates and page code write the Vietnamese text,
`t("…")` gives it in the chosen language from the gettext catalogs (infrastructure/translations.py); what definitions
say (procedure names, field labels, step names) stays as the administrators wrote it. `?lang=en` or `?lang=vi`
chooses, and a cookie remembers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import Request, Response

from infrastructure import translations
from infrastructure.settings import Settings

LANGUAGES = translations.LANGUAGES
DEFAULT = translations.DEFAULT_LANGUAGE
COOKIE = "motcua_lang"


def language_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT


def translator(language: str) -> Callable[..., str]:
    return functools.partial(translations.translate, language)


def keep_language(request: Request, response: Response, settings: Settings) -> None:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and chosen != request.cookies.get(COOKIE):
        response.set_cookie(
            COOKIE, chosen, max_age=365 * 24 * 3600, path="/", samesite="lax", httponly=True,
            secure=settings.secure_cookies,
        )  # fmt: skip


def switch_url(request: Request, language: str) -> str:
    """This page in another language (the same path and query)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", language)]
    return f"{request.url.path}?{urlencode(query)}"
