"""Bearer tokens: motcua's own issuer (development, tests, the CLI) and external OpenID Connect providers,
VNeID for citizens and the national single sign-on for officers (a real Keycloak plays both: the `oidc_server`
fixture, and `provider_api`, an API process configured with its two realms)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.oidc_realms import DEMO_CITIZENS, DEMO_OFFICERS, NATIONAL_SSO, VNEID
from devstack.oidc_server import OidcServer
from infrastructure.settings import PROJECT_ROOT, Environment, OidcProvider, Settings
from infrastructure.tokens import InvalidToken, TokenIssuer, TokenVerifier
from tests.support import (
    APPLICANT,
    deploy,
    identities,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_step,
)
from tests.test_oidc_server import browser_login

RECEPTION = next(o for o in DEMO_OFFICERS if o.officer_id == "reception@H01")  # registered at H01 below
# Known to the national SSO, never registered: tests/test_sign_in_through_the_national_providers.py counts on it too.
UNREGISTERED = next(o for o in DEMO_OFFICERS if o.officer_id == "leader@H01")


def id_token(server: OidcServer, realm: str, username: str, password: str) -> str:
    """The ID token the provider gives after its login (authorization code with PKCE, as a browser does it)."""
    return str(browser_login(server, realm, username, password).tokens["id_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_citizen_signed_in_with_vneid_sees_their_dossiers_only(api, provider_api: str, oidc_server: OidcServer):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    her, someone = DEMO_CITIZENS
    mine = id_token(oidc_server, VNEID, her.username, her.password)
    someone_else = id_token(oidc_server, VNEID, someone.username, someone.password)
    applicant = {**APPLICANT, "citizen_id": her.citizen_id}
    with httpx.Client(base_url=provider_api, timeout=30) as plain:
        # Submitted signed in with VNeID: the dossier joins her account; a citizen ID typed anonymously does not.
        dossier = submit(plain, code, headers=bearer(mine), applicant=applicant)["dossier_code"]
        typed = submit(plain, code, applicant=applicant)["dossier_code"]
        assert plain.get(f"/dossiers/{dossier}", headers=bearer(mine)).status_code == 200
        assert plain.get(f"/dossiers/{dossier}", headers=bearer(someone_else)).status_code == 404
        assert plain.get(f"/dossiers/{typed}", headers=bearer(mine)).status_code == 404
        me = plain.get("/me", headers=bearer(mine)).json()
        assert me == {**me, "kind": "citizen", "citizen_id": her.citizen_id}
        hers = {d["dossier_code"] for d in plain.get("/me/dossiers", headers=bearer(mine)).json()["items"]}
        theirs = {d["dossier_code"] for d in plain.get("/me/dossiers", headers=bearer(someone_else)).json()["items"]}
        assert dossier in hers and typed not in hers and dossier not in theirs


def test_an_officer_signed_in_with_the_national_sso_acts_as_the_registry_says(
    api, provider_api: str, oidc_server: OidcServer
):
    code, _ = unique_codes()
    deploy(api, three_step_procedure(code, "H01"))  # received at the demo officer's unit
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    officer("reception", "H01", RECEPTION.officer_id)  # the registry gives the role; the SSO only says who
    token = id_token(oidc_server, NATIONAL_SSO, RECEPTION.username, RECEPTION.password)
    with httpx.Client(base_url=provider_api, timeout=30) as plain:
        headers = bearer(token)
        assert plain.get("/me", headers=headers).json()["capacities"] == [
            {"role": "reception", "unit_code": "H01", "on_behalf_of": None}
        ]
        accepted = plain.post(
            f"/dossiers/{dossier}/decisions", json={"step_id": "reception", "decision": "approve"}, headers=headers
        )
        assert accepted.status_code == 200, accepted.text
        # Known to the provider but not in the registry: no authority here.
        stranger = id_token(oidc_server, NATIONAL_SSO, UNREGISTERED.username, UNREGISTERED.password)
        assert plain.get("/inbox", headers=bearer(stranger)).status_code == 403


@dataclass
class SigningProvider:
    """An OpenID Connect provider of the test's own: its RSA key signs what the test asks, and its JWKS is served over
    HTTP, so that a token Keycloak would never issue (expired, for another audience) reaches the real verifier."""

    key: rsa.RSAPrivateKey
    jwks_url: str
    kid: str = "test-provider-1"

    def sign(self, issuer: str, subject: str, *, audience: str = "motcua", lifetime: int = 600, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "exp": now + lifetime, **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def signing_provider() -> Iterator[SigningProvider]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = json.dumps({"keys": [{**jwk, "kid": SigningProvider.kid, "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(jwks)))
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
    thread.start()
    yield SigningProvider(key, f"http://127.0.0.1:{server.server_address[1]}/jwks.json")
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_providers_token_expired_or_meant_for_another_audience_is_refused(signing_provider: SigningProvider):
    issuer = "https://vneid.example.gov.vn"
    settings = Settings(
        oidc_providers=[OidcProvider(issuer=issuer, jwks_url=signing_provider.jwks_url, principal="citizen")]
    )
    verifier = TokenVerifier(settings, None)
    citizen_id = APPLICANT["citizen_id"]
    valid = signing_provider.sign(issuer, "vneid-42", citizen_id=citizen_id)
    identity = verifier.verify(valid)
    assert (identity.principal, identity.citizen_id, identity.issuer) == ("citizen", citizen_id, issuer)
    expired = signing_provider.sign(issuer, "vneid-42", citizen_id=citizen_id, lifetime=-120)
    elsewhere = signing_provider.sign(issuer, "vneid-42", citizen_id=citizen_id, audience="other")
    for token in (expired, elsewhere):
        with pytest.raises(InvalidToken):
            verifier.verify(token)


def test_our_issuer_publishes_its_keys_and_production_refuses_its_tokens(
    api, stack, tmp_path, signing_provider: SigningProvider
):
    discovery = api.get("/.well-known/openid-configuration").json()
    keys = api.get("/.well-known/jwks.json").json()["keys"]
    assert discovery["issuer"] == "motcua" and keys[0]["kty"] == "RSA" and "d" not in keys[0]

    development = Settings(data_dir=stack.config.data_dir)
    token = TokenIssuer(development).issue_officer("admin")
    assert TokenVerifier(development, TokenIssuer(development)).verify(token).subject == "admin"
    production = Settings(data_dir=stack.config.data_dir, environment=Environment.production)
    assert not production.issues_own_tokens
    with pytest.raises(InvalidToken):
        TokenVerifier(production, None).verify(token)
    # A provider's token is checked against that provider's keys: ours do not verify it, the provider's own do.
    impostor = TokenIssuer(Settings(data_dir=tmp_path, token_issuer="https://sso.example.gov.vn"))
    verifier = TokenVerifier(
        Settings(oidc_providers=[OidcProvider(issuer="https://sso.example.gov.vn",
                                              jwks_url=signing_provider.jwks_url,
                                              principal="officer")]),
        None,
    )  # fmt: skip
    with pytest.raises(InvalidToken):
        verifier.verify(impostor.issue_officer("admin"))
    assert verifier.verify(signing_provider.sign("https://sso.example.gov.vn", "admin")).subject == "admin"


def test_the_command_line_issues_development_tokens(api, stack):
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.admin_cli", *args], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
            env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(stack.config.data_dir), "ENVIRONMENT": "development"},
        )  # fmt: skip

    officer_token = cli("token", "officer", "admin").stdout.strip()
    assert api.get("/me", headers={"Authorization": f"Bearer {officer_token}"}).json()["officer_id"] == "admin"
    citizen_token = cli("token", "citizen", APPLICANT["citizen_id"]).stdout.strip()
    assert api.get("/me", headers={"Authorization": f"Bearer {citizen_token}"}).json()["kind"] == "citizen"
    assert cli("token", "citizen", "12").returncode == 1
    # Where nothing says otherwise it is production, and motcua issues no tokens of its own.
    production = subprocess.run(
        [sys.executable, "-m", "api.admin_cli", "token", "officer", "admin"], capture_output=True, text=True,
        timeout=60, cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(stack.config.data_dir)},
    )  # fmt: skip
    assert production.returncode == 1 and not production.stdout.strip()
    code, unit = unique_codes()
    identities().register_unit(unit)
    registered = cli("--token", officer_token, "officer", "cli-leader", "--unit", unit, "--role", "leader",
                     "--api-url", stack.config.api_url)  # fmt: skip
    assert registered.returncode == 0 and f"leader at {unit}" in registered.stdout
