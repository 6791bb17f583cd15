"""An installation is safe before anyone configures it: production by default, the bootstrap administrator named by
one issuer only, and every HTML or SVG answer with the security headers the pages have."""

from __future__ import annotations

import json

import httpx
import jwt

from devstack.oidc_realms import DEMO_OFFICERS, NATIONAL_SSO
from devstack.oidc_server import OidcServer
from devstack.stack import Stack, free_port
from infrastructure.settings import Environment, Settings
from tests.support import admin, deploy, submit, three_step_procedure, unique_codes
from tests.test_oidc_server import browser_login


def test_an_installation_with_no_settings_runs_as_production(monkeypatch, tmp_path):
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env either
    settings = Settings(data_dir=tmp_path)
    assert settings.environment == Environment.production
    assert not settings.issues_own_tokens  # and with it the password-less sign-in
    assert not settings.generates_signing_keys


def test_the_bootstrap_administrator_is_named_by_one_issuer_only(
    api: httpx.Client, stack: Stack, provider_api: str, oidc_server: OidcServer
) -> None:
    # Every API process of the stack has BOOTSTRAP_ADMINISTRATOR=admin, and no BOOTSTRAP_ADMINISTRATOR_ISSUER: motcua's
    # own issuer names the administrator. The national SSO's `admin` (a Keycloak demo officer) is someone else.
    admin_officer = next(o for o in DEMO_OFFICERS if o.officer_id == "admin")
    token = browser_login(oidc_server, NATIONAL_SSO, admin_officer.username, admin_officer.password).tokens["id_token"]
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "admin"
    sso = {"Authorization": f"Bearer {token}"}
    elsewhere = httpx.get(f"{provider_api}/audit", headers=sso, timeout=30)
    assert elsewhere.status_code == 403, elsewhere.text  # a valid token (not 401), of no administrator
    assert api.get("/audit", headers=admin()).status_code == 200

    # Name the national SSO instead, and the same token is the administrator's while motcua's own is not.
    port = free_port()
    url = stack.start_api(
        "api-sso-bootstrap",
        port,
        processes=1,
        env={
            "OIDC_PROVIDERS": json.dumps(oidc_server.login_providers()),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "BOOTSTRAP_ADMINISTRATOR_ISSUER": oidc_server.issuer(NATIONAL_SSO),
        },
    )
    try:
        assert httpx.get(f"{url}/audit", headers=sso, timeout=30).status_code == 200
        assert httpx.get(f"{url}/audit", headers=admin(), timeout=30).status_code == 403
    finally:
        stack.kill("api-sso-bootstrap")


def test_every_html_and_svg_answer_carries_the_security_headers(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    receipt = submit(api, code)
    holder = {"X-Lookup-Secret": receipt["lookup_secret"]}
    answers = {
        "receipt": api.get(f"/dossiers/{receipt['dossier_code']}/receipt.html", headers=holder),
        "form preview": api.get(f"/procedures/{code}/form.html"),
        "step graph": api.get(f"/procedures/{code}/graph.svg"),
        "API docs": httpx.get(f"{stack.config.api_url}/docs", timeout=10),
    }
    for what, answer in answers.items():
        assert answer.status_code == 200, (what, answer.text[:300])
        policy = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy, (what, policy)
        assert answer.headers.get("x-content-type-options") == "nosniff", what
        assert answer.headers.get("referrer-policy") == "same-origin", what
    # Documents run no script at all; the pages keep their own, stricter-for-styles policy.
    assert "script-src" not in answers["receipt"].headers["content-security-policy"]
    page = httpx.get(f"{stack.config.api_url}/", timeout=10)
    assert "script-src 'self'" in page.headers["content-security-policy"]
