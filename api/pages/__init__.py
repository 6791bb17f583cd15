"""Web pages for citizens, officers and administrators: server-rendered with jinja2 over the API's own
functions, in Vietnamese with an English switch. `install` adds them, their files and their error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from api.pages import (
        citizen,
        officer,
        oidc_login,
        procedure_administration,
        registry_administration,
        sign_in,
        statistics_dashboard,
    )
    from api.pages.errors import install_error_pages

    modules = (sign_in, oidc_login, citizen, officer, procedure_administration, registry_administration,
               statistics_dashboard)  # fmt: skip
    for module in modules:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_error_pages(app)
