"""Bearer tokens: motcua's own issuer (development, tests, the CLI) and external OpenID Connect providers,
VNeID for citizens and the national single sign-on for officers (the simulator plays both)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from infrastructure.settings import PROJECT_ROOT, Environment, OidcProvider, Settings
from infrastructure.tokens import InvalidToken, TokenIssuer, TokenVerifier
from tests.support import APPLICANT, deploy, identities, submit, three_step_procedure, unique_codes, wait_for_step


def _provider_token(simulator, provider: str, **claims) -> str:
    response = simulator.post(f"/{provider}/token", json=claims)
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def test_a_citizen_signed_in_with_vneid_sees_their_dossiers_only(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    mine = _provider_token(simulator, "vneid", subject="vneid-42", citizen_id=APPLICANT["citizen_id"])
    # Submitted signed in with VNeID: the dossier joins her account (a citizen ID typed anonymously would not).
    dossier = submit(api, code, headers={"Authorization": f"Bearer {mine}"})["dossier_code"]
    someone_else = _provider_token(simulator, "vneid", subject="vneid-43", citizen_id="001099000001")
    with httpx.Client(base_url=str(api.base_url), timeout=30) as plain:
        assert plain.get(f"/dossiers/{dossier}", headers={"Authorization": f"Bearer {mine}"}).status_code == 200
        assert plain.get(f"/dossiers/{dossier}", headers={"Authorization": f"Bearer {someone_else}"}).status_code == 404
        me = plain.get("/me", headers={"Authorization": f"Bearer {mine}"}).json()
        assert me == {**me, "kind": "citizen", "citizen_id": APPLICANT["citizen_id"]}
        # Expired, or meant for another audience: refused.
        expired = _provider_token(
            simulator, "vneid", subject="x", citizen_id=APPLICANT["citizen_id"], lifetime_seconds=-120
        )
        elsewhere = _provider_token(
            simulator, "vneid", subject="x", citizen_id=APPLICANT["citizen_id"], audience="other"
        )
        for token in (expired, elsewhere):
            assert plain.get(f"/dossiers/{dossier}", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_officer_signed_in_with_the_national_sso_acts_as_the_registry_says(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    identities().register_unit(unit)
    identities().put(
        "/officers/sso-reception-7", {"full_name": "Trần Văn Một Cửa", "unit_code": unit, "roles": ["reception"]}
    )
    token = _provider_token(simulator, "sso", subject="sso-reception-7")
    with httpx.Client(base_url=str(api.base_url), timeout=30) as plain:
        headers = {"Authorization": f"Bearer {token}"}
        assert plain.get("/me", headers=headers).json()["capacities"] == [
            {"role": "reception", "unit_code": unit, "on_behalf_of": None}
        ]
        accepted = plain.post(
            f"/dossiers/{dossier}/decisions", json={"step_id": "reception", "decision": "approve"}, headers=headers
        )
        assert accepted.status_code == 200, accepted.text
        # Known to the provider but not in the registry: no authority here.
        stranger = _provider_token(simulator, "sso", subject="sso-unknown")
        assert plain.get("/inbox", headers={"Authorization": f"Bearer {stranger}"}).status_code == 403


def test_our_issuer_publishes_its_keys_and_production_refuses_its_tokens(api, stack, tmp_path):
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
    # A provider's token is checked against that provider's keys: ours do not verify it.
    impostor = TokenIssuer(Settings(data_dir=tmp_path, token_issuer="https://sso.example.gov.vn"))
    verifier = TokenVerifier(
        Settings(oidc_providers=[OidcProvider(issuer="https://sso.example.gov.vn",
                                              jwks_url=f"{stack.config.simulator_url}/sso/jwks.json",
                                              principal="officer")]),
        None,
    )  # fmt: skip
    with pytest.raises(InvalidToken):
        verifier.verify(impostor.issue_officer("admin"))


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
