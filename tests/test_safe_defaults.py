"""An installation is safe before anyone configures it: production by default, the bootstrap administrator named by
one issuer only, and every HTML or SVG answer with the security headers the pages have."""

from __future__ import annotations

import httpx

from infrastructure.settings import Environment, Settings
from tests.support import admin, deploy, submit, three_step_procedure, unique_codes


def test_an_installation_with_no_settings_runs_as_production(monkeypatch, tmp_path):
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env either
    settings = Settings(data_dir=tmp_path)
    assert settings.environment == Environment.production
    assert not settings.issues_own_tokens  # and with it the password-less sign-in
    assert not settings.generates_signing_keys


def test_the_bootstrap_administrator_is_named_by_one_issuer_only(api, simulator):
    # The simulator's national SSO signs a token for subject "admin": someone else than motcua's own "admin".
    token = simulator.post("/sso/token", json={"subject": "admin"}).json()["id_token"]
    elsewhere = api.get("/audit", headers={"Authorization": f"Bearer {token}"})
    assert elsewhere.status_code == 403, elsewhere.text
    assert api.get("/audit", headers=admin()).status_code == 200


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
