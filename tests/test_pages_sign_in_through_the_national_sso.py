"""An officer in a real browser (Chromium) signs in on the national SSO's own login page (Keycloak), decides from the
inbox, and is sent back to sign in once the session is over: revoked by an administrator (`motcua-admin sessions
end`), ended at the SSO, idle too long, or past its lifetime. The API process is configured with the providers only, as in production.

A replayed authorization code is refused in tests/test_sign_in_through_the_national_providers.py."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from devstack.oidc_realms import DEMO_OFFICERS, NATIONAL_SSO
from devstack.oidc_server import OidcServer
from devstack.stack import Stack
from infrastructure.settings import PROJECT_ROOT, get_settings
from readmodel.db import engine_for
from readmodel.tables import SignInSessionRow
from tests.browser import click_and_load, reload_until
from tests.support import deploy, officer, submit, three_step_procedure, unique_codes, wait_for_step, wait_until

RECEPTION = next(o for o in DEMO_OFFICERS if o.officer_id == "reception@H01")  # a Keycloak demo officer at H01
SESSIONS = SignInSessionRow.__table__


@pytest.fixture
def database(stack: Stack) -> Iterator[sa.Engine]:
    engine = engine_for(stack.config.sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
def reception(stack: Stack) -> str:
    """The demo officer, registered at their unit (the registry decides roles; the SSO only says who they are)."""
    officer("reception", "H01", RECEPTION.officer_id)
    return RECEPTION.officer_id


def sign_in_through_the_sso(page: Any, api_url: str, next: str = "/officer/inbox") -> None:
    """motcua's sign-in page → the national SSO's login form → back at `next`, signed in."""
    page.goto(f"{api_url}/sign-in?next={next}")
    page.get_by_role("link", name="Đăng nhập qua hệ thống SSO quốc gia").click()
    page.wait_for_url(re.compile(rf"/realms/{NATIONAL_SSO}/protocol/openid-connect/auth"))
    page.fill("#username", RECEPTION.username)
    page.fill("#password", RECEPTION.password)
    page.click("#kc-login")
    page.wait_for_url(f"{api_url}{next}")
    assert RECEPTION.officer_id in page.locator(".who").inner_text()


def session_cookie(page: Any) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "motcua_session")


def sent_to_sign_in(page: Any, api_url: str) -> None:
    """The next load of the inbox lands on the sign-in page, which offers the SSO again."""
    page.goto(f"{api_url}/officer/inbox")
    assert re.match(rf"^{re.escape(api_url)}/sign-in\b", page.url), page.url
    assert page.locator(".who").count() == 0
    assert page.get_by_role("link", name="Đăng nhập qua hệ thống SSO quốc gia").count() == 1
    assert page.locator("#inbox").count() == 0


def test_an_officer_signs_in_at_the_sso_and_approves_the_reception_from_the_inbox(
    api: httpx.Client, provider_api: str, reception: str, new_page
) -> None:
    code, _ = unique_codes()
    deploy(api, three_step_procedure(code, "H01"))  # received at the demo officer's unit
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")

    page = new_page()
    sign_in_through_the_sso(page, provider_api)
    row = reload_until(page, f'tr[data-dossier="{dossier}"][data-step="reception"]', what="the reception step")
    click_and_load(page, row.get_by_role("link", name=dossier))
    assert page.locator("h1").inner_text().endswith(dossier)
    page.locator('form.decision[data-step="reception"]').get_by_role(
        "button", name="Đồng ý, chuyển bước tiếp theo"
    ).click()
    page.wait_for_url(re.compile(rf"^{re.escape(provider_api)}/officer/inbox\?decided="))
    assert "Đã ghi nhận quyết định." in page.locator(".notice").inner_text()

    # The dossier's timeline credits the officer the SSO named, at their unit.
    def decided() -> list[dict[str, Any]]:
        timeline = api.get(f"/dossiers/{dossier}").json()["timeline"]
        return [e for e in timeline if e["kind"] == "decision" and e["step_id"] == "reception"]

    [entry] = wait_until(decided, what=f"the reception decision in {dossier}'s timeline")
    assert (entry["actor_kind"], entry["actor_id"], entry["unit_code"]) == ("officer", reception, "H01"), entry
    wait_for_step(api, dossier, "approval")  # and the dossier moved on to the leader


def test_a_session_revoked_by_the_admin_command_goes_back_to_sign_in(
    stack: Stack, provider_api: str, reception: str, new_page
) -> None:
    page = new_page()
    sign_in_through_the_sso(page, provider_api)
    command = [sys.executable, "-m", "api.admin_cli", "sessions", "end", "--subject", reception]
    environment = {**os.environ, "DATABASE_URL": stack.config.sqlalchemy_url}
    revoked = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, env=environment)
    assert revoked.returncode == 0, revoked.stderr
    assert re.fullmatch(rf"ended [1-9]\d* session\(s\) of {re.escape(reception)}", revoked.stdout.strip())
    sent_to_sign_in(page, provider_api)

    # The SSO's own session is not motcua's to end: signing in again passes its login form by, back to the inbox.
    page.get_by_role("link", name="Đăng nhập qua hệ thống SSO quốc gia").click()
    page.wait_for_url(f"{provider_api}/officer/inbox")
    assert reception in page.locator(".who").inner_text()


def test_a_session_ended_at_the_national_sso_goes_back_to_sign_in(
    provider_api: str, oidc_server: OidcServer, reception: str, new_page
) -> None:
    page = new_page()
    sign_in_through_the_sso(page, provider_api)
    oidc_server.end_sessions_of(NATIONAL_SSO, RECEPTION.username)  # an administrator of the SSO ends them
    sent_to_sign_in(page, provider_api)

    # This time the SSO's own session is over too: signing in again asks for the password.
    page.get_by_role("link", name="Đăng nhập qua hệ thống SSO quốc gia").click()
    page.wait_for_url(re.compile(rf"/realms/{NATIONAL_SSO}/protocol/openid-connect/auth"))
    assert page.locator("#password").count() == 1


@pytest.mark.parametrize("over", ["idle", "lifetime"])
def test_a_session_idle_too_long_or_past_its_lifetime_goes_back_to_sign_in(
    provider_api: str, reception: str, database: sa.Engine, new_page, over: str
) -> None:
    page = new_page()
    sign_in_through_the_sso(page, provider_api)
    now = datetime.now(UTC)
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    times = (
        {"last_seen_at": now - idle - timedelta(minutes=1)}
        if over == "idle"
        else {"expires_at": now - timedelta(seconds=1)}
    )
    session_hash = hashlib.sha256(session_cookie(page).encode()).hexdigest()
    with database.begin() as connection:
        changed = connection.execute(sa.update(SESSIONS).where(SESSIONS.c.id_hash == session_hash).values(**times))
        assert changed.rowcount == 1
    sent_to_sign_in(page, provider_api)
