"""The pages' language: Vietnamese (the default) or English. Templates and page code write the Vietnamese text,
`t("…")` gives it in the chosen language from the gettext catalogs (infrastructure/translations.py); what definitions
say (procedure names, field labels, step names) stays as the administrators wrote it. `?lang=en` or `?lang=vi`
chooses, and a cookie remembers."""

from __future__ import annotations

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


class Translator:
    """`t("Vietnamese text", **values)` in one language, which it names (`t.language`)."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, text: str, **values: object) -> str:
        return translations.translate(self.language, text, **values)


def translator(language: str) -> Translator:
    return Translator(language)


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
