"""Machine clients (the national portal) call motcua with client-credentials tokens of the national SSO (a real
Keycloak, the `oidc_server` fixture), and their scopes decide what each may do: an API process of its own accepts
the realm's machine clients `national-portal` (dossiers:receive, dossiers:read) and `reporting` (dossiers:read)."""

from __future__ import annotations

import time

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.oidc_realms import DEMO_OFFICERS, NATIONAL_SSO
from devstack.oidc_server import OidcServer
from tests.support import APPLICANT, VALID_FORM, deploy, three_step_procedure, unique_codes
from tests.test_oidc_server import browser_login, client_credentials


def client_token(oidc_server: OidcServer, client_id: str) -> str:
    return client_credentials(oidc_server, client_id)["access_token"]


def push(url: str, token: str, code: str, reference: str) -> httpx.Response:
    body = {"portal_reference": reference, "procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM}
    return httpx.post(f"{url}/portal/dossiers", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_portal_pushes_a_dossier_and_reads_it_back(provider_api: str, oidc_server: OidcServer, api) -> None:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    token = client_token(oidc_server, "national-portal")
    reference = f"G22.99-SSO-{time.time_ns()}"
    pushed = push(provider_api, token, code, reference)
    assert pushed.status_code == 201, pushed.text
    dossier = pushed.json()["dossier_code"]
    assert dossier.startswith(f"{unit}-")
    looked_up = httpx.get(f"{provider_api}/portal/dossiers/{reference}", headers=bearer(token), timeout=10)
    assert looked_up.status_code == 200, looked_up.text
    assert looked_up.json()["dossier_code"] == dossier


def test_a_client_without_the_scope_is_refused_naming_it(provider_api: str, oidc_server: OidcServer, api) -> None:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    token = client_token(oidc_server, "reporting")
    refused = push(provider_api, token, code, f"G22.99-SSO-{time.time_ns()}")
    assert refused.status_code == 403 and "dossiers:receive" in refused.json()["detail"], refused.text
    # What it may do: read (nothing was pushed as this reference).
    missing = httpx.get(f"{provider_api}/portal/dossiers/none-{time.time_ns()}", headers=bearer(token), timeout=10)
    assert missing.status_code == 404, missing.text


def test_a_client_token_acts_as_no_officer_or_citizen(provider_api: str, oidc_server: OidcServer) -> None:
    token = client_token(oidc_server, "national-portal")
    for path in ("/inbox", "/me/dossiers", "/me"):
        answer = httpx.get(f"{provider_api}{path}", headers=bearer(token), timeout=10)
        assert answer.status_code == 403, (path, answer.status_code, answer.text)


def test_expired_or_forged_tokens_are_refused(provider_api: str, oidc_server: OidcServer) -> None:
    claims = jwt.decode(client_token(oidc_server, "national-portal"), options={"verify_signature": False})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**claims, "exp": int(time.time()) + 600}, key, algorithm="RS256", headers={"kid": "x"})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 600}, key, algorithm="RS256", headers={"kid": "x"})
    for token in (forged, expired, "not-a-token"):
        answer = httpx.get(f"{provider_api}/portal/dossiers/any", headers=bearer(token), timeout=10)
        assert answer.status_code == 401, answer.text


def test_an_officers_token_does_not_pass_the_scope_check(provider_api: str, oidc_server: OidcServer) -> None:
    officer = next(o for o in DEMO_OFFICERS if o.officer_id == "reception@H01")
    login = browser_login(oidc_server, NATIONAL_SSO, officer.username, officer.password)
    answer = httpx.get(f"{provider_api}/portal/dossiers/any", headers=bearer(login.tokens["access_token"]), timeout=10)
    assert answer.status_code == 403, answer.text
