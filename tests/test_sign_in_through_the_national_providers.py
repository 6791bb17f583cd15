"""Browsers sign in to the pages through the national SSO (officers) and VNeID (citizens): OpenID Connect's code flow
with PKCE against a real Keycloak (the `oidc_server` fixture), into a server-side session, and out again at the
provider. An API process of its own is configured with both realms as login providers."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import sqlalchemy as sa
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from api.oidc_providers import OAuth, id_token_claims
from devstack.oidc_realms import DEMO_CITIZENS, NATIONAL_SSO, VNEID
from devstack.oidc_server import OidcServer
from devstack.stack import Stack
from infrastructure.settings import OidcProvider
from readmodel.db import engine_for
from readmodel.tables import OidcLoginRow
from tests.support import officer


@dataclass
class Arrival:
    callback: str  # where the provider sent the browser back
    answer: httpx.Response  # motcua's answer to it
    login_cookie: str  # the browser's cookie binding it to the login (motcua_login)


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def provider_login(
    browser: httpx.Client,
    api_url: str,
    realm: str,
    username: str,
    password: str = "demo",
    next: str | None = None,
    begun: Callable[[str], None] | None = None,
) -> Arrival:
    """What a browser does: motcua's login link, the provider's login form filled in, back to motcua's callback.
    `begun` is told the login's state once motcua sends the browser to the provider."""
    start = browser.get(f"{api_url}/sign-in/{realm}", params={"next": next} if next else None)
    assert start.status_code == 303, start.text
    login_cookie = browser.cookies.get("motcua_login")
    authorization = start.headers["location"]
    query = _query(authorization)
    if begun is not None:
        begun(query["state"])
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] and query["nonce"]
    assert query["redirect_uri"] == f"{api_url}/sign-in/{realm}/callback"
    page = browser.get(authorization)
    assert page.status_code == 200, page.text
    action = html.unescape(re.search(r'id="kc-form-login"[^>]*action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    # Keycloak's cookies are Secure: a browser sends them to http://127.0.0.1, httpx does not (tests/test_oidc_server.py).
    cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar if c.domain.startswith("127.0.0.1"))
    answer = browser.post(action, data={"username": username, "password": password}, headers={"Cookie": cookies})
    assert answer.status_code == 302, answer.text[:500]
    callback = answer.headers["location"]
    assert callback.startswith(f"{api_url}/sign-in/{realm}/callback?"), callback
    return Arrival(callback, browser.get(callback), login_cookie)


def moved_on_to(answer: httpx.Response) -> str:
    """Where motcua's page sends the browser on to (a meta refresh): after the callback, so that the Strict cookie
    goes along; at sign-out, to the provider."""
    assert answer.status_code == 200, answer.text
    return html.unescape(re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', answer.text).group(1))  # type: ignore[union-attr]


def session_cookie(browser: httpx.Client) -> str | None:
    return next((c.value for c in browser.cookies.jar if c.name == "motcua_session"), None)


def who(api_url: str, cookie: str | None) -> dict[str, object]:
    return httpx.get(f"{api_url}/me", cookies={"motcua_session": cookie or ""}, timeout=30).json()


def test_the_sign_in_page_offers_both_providers(provider_api: str) -> None:
    page = httpx.get(f"{provider_api}/sign-in", params={"next": "/officer/inbox"}, timeout=30)
    assert page.status_code == 200
    assert "Đăng nhập bằng VNeID" in page.text and "Đăng nhập qua hệ thống SSO quốc gia" in page.text
    assert 'name="officer_id"' not in page.text  # the development form is off
    assert f'href="/sign-in/{VNEID}?next=/officer/inbox"' in page.text.replace("%2F", "/")
    assert httpx.get(f"{provider_api}/sign-in/elsewhere", timeout=30).status_code == 404


def test_a_citizen_signs_in_through_vneid_and_out_at_vneid(provider_api: str, oidc_server: OidcServer) -> None:
    citizen = DEMO_CITIZENS[0]
    with httpx.Client(timeout=30) as browser:
        arrival = provider_login(browser, provider_api, VNEID, citizen.username, next="/citizen/procedures?x=1")
        assert moved_on_to(arrival.answer) == "/citizen/procedures?x=1"
        cookie = session_cookie(browser)
        me = who(provider_api, cookie)
        assert me["kind"] == "citizen" and me["citizen_id"] == citizen.citizen_id
        page = browser.get(f"{provider_api}/citizen/procedures")
        assert page.status_code == 200 and citizen.citizen_id in page.text
        assert "motcua_login" not in {c.name for c in browser.cookies.jar}  # the login's own cookie is gone

        # Signing out ends the session here, then at VNeID (RP-initiated logout with the ID token as hint).
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        out = browser.post(f"{provider_api}/sign-out", data={"csrf_token": csrf})
        end_session = moved_on_to(out)  # a page, not a redirect: the CSP's form-action 'self' would stop that
        assert end_session.startswith(f"{oidc_server.issuer(VNEID)}/protocol/openid-connect/logout?")
        query = _query(end_session)
        assert query["id_token_hint"] and query["post_logout_redirect_uri"] == f"{provider_api}/"
        assert who(provider_api, cookie)["kind"] == "anonymous"
        back = browser.get(end_session)  # Keycloak ends its own session and sends the browser home
        assert back.status_code == 302 and back.headers["location"].startswith(f"{provider_api}/"), back.text[:300]


def test_an_officer_of_the_registry_signs_in_through_the_national_sso(provider_api: str) -> None:
    officer("reception", "H01", "reception@H01")
    with httpx.Client(timeout=30) as browser:
        arrival = provider_login(browser, provider_api, NATIONAL_SSO, "reception@h01")
        target = moved_on_to(arrival.answer)
        assert target == "/officer/inbox"
        inbox = browser.get(f"{provider_api}{target}")
        assert inbox.status_code == 200 and "reception@H01" in inbox.text
        me = who(provider_api, session_cookie(browser))
        assert me["kind"] == "officer" and me["officer_id"] == "reception@H01"


def test_an_officer_unknown_to_the_registry_is_refused_without_a_session(provider_api: str) -> None:
    with httpx.Client(timeout=30) as browser:
        arrival = provider_login(browser, provider_api, NATIONAL_SSO, "leader@h01")
        assert arrival.answer.status_code == 403
        assert "leader@H01" in arrival.answer.text and "danh bạ đơn vị" in arrival.answer.text
        assert session_cookie(browser) is None


def test_a_wrong_state_or_a_replayed_code_opens_no_session(provider_api: str) -> None:
    citizen = DEMO_CITIZENS[1]
    with httpx.Client(timeout=30) as browser:
        # The provider's answer with another state than the one this browser's login holds.
        start = browser.get(f"{provider_api}/sign-in/{VNEID}")
        assert start.status_code == 303
        forged = browser.get(f"{provider_api}/sign-in/{VNEID}/callback", params={"state": "x" * 43, "code": "abc"})
        assert forged.status_code == 400 and session_cookie(browser) is None
        # No state at all, or the provider's refusal.
        assert browser.get(f"{provider_api}/sign-in/{VNEID}/callback", params={"code": "abc"}).status_code == 400
        state = _query(start.headers["location"])["state"]
        refusal = browser.get(
            f"{provider_api}/sign-in/{VNEID}/callback", params={"state": state, "error": "access_denied"}
        )
        assert refusal.status_code == 400 and "access_denied" in refusal.text
        assert session_cookie(browser) is None

        # A login that went through once: its callback again (the same state and code) is refused.
        arrival = provider_login(browser, provider_api, VNEID, citizen.username)
        cookie = session_cookie(browser)
        assert who(provider_api, cookie)["citizen_id"] == citizen.citizen_id
        replayed = httpx.get(arrival.callback, cookies={"motcua_login": arrival.login_cookie}, timeout=30)
        assert replayed.status_code == 400 and "motcua_session" not in replayed.cookies
        assert httpx.get(arrival.callback, timeout=30).status_code == 400  # nor without the browser's login cookie


def test_a_callback_in_another_browser_or_for_another_provider_is_refused(provider_api: str) -> None:
    with httpx.Client(timeout=30) as browser:
        start = browser.get(f"{provider_api}/sign-in/{VNEID}")
        state = _query(start.headers["location"])["state"]
        login_cookie = next(c.value for c in browser.cookies.jar if c.name == "motcua_login")
        # The same state at the other provider's callback: taken, and refused.
        other = browser.get(f"{provider_api}/sign-in/{NATIONAL_SSO}/callback", params={"state": state, "code": "c"})
        assert other.status_code == 400
        # Another browser's login cookie with a state of this browser's.
        start = browser.get(f"{provider_api}/sign-in/{VNEID}")
        state = _query(start.headers["location"])["state"]
    elsewhere = httpx.get(
        f"{provider_api}/sign-in/{VNEID}/callback",
        params={"state": state, "code": "c"},
        cookies={"motcua_login": login_cookie[::-1]},
        timeout=30,
    )
    assert elsewhere.status_code == 400


def test_a_login_whose_id_token_carries_another_nonce_opens_no_session(provider_api: str, stack: Stack) -> None:
    """The nonce the login remembered is not the one in the provider's ID token (as for a token of another login)."""
    engine = engine_for(stack.config.sqlalchemy_url)
    logins = OidcLoginRow.__table__

    def remember_another_nonce(state: str) -> None:
        with engine.begin() as connection:
            connection.execute(
                sa.update(logins)
                .where(logins.c.state_hash == hashlib.sha256(state.encode()).hexdigest())
                .values(nonce="another-login-s-nonce")
            )

    try:
        with httpx.Client(timeout=30) as browser:
            arrival = provider_login(
                browser, provider_api, VNEID, DEMO_CITIZENS[0].username, begun=remember_another_nonce
            )
            assert arrival.answer.status_code == 400, arrival.answer.text
            assert session_cookie(browser) is None
    finally:
        engine.dispose()


def test_the_id_token_is_checked_for_signature_issuer_audience_expiry_and_nonce() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
    issuer = "https://vneid.example"
    client = OAuth().register(
        "check", client_id="motcua", client_secret="s", issuer=issuer, jwks=KeySet([key]).as_dict(private=False)
    )
    provider = OidcProvider(
        name="check", issuer=issuer, jwks_url=f"{issuer}/jwks", principal="citizen", client_id="motcua"
    )

    def tokens(signer: RSAKey = key, **claims: object) -> dict[str, str]:
        now = int(time.time())
        body = {"iss": issuer, "sub": "s", "aud": "motcua", "iat": now, "exp": now + 300, "nonce": "n", **claims}
        body = {name: value for name, value in body.items() if value is not None}
        return {"id_token": jose_jwt.encode({"alg": "RS256", "kid": "k1"}, body, signer), "access_token": "a"}

    def check(given: dict[str, str]) -> dict[str, object] | None:
        return asyncio.run(id_token_claims(client, provider, given, "n"))

    assert check(tokens(citizen_id="001090000001"))["citizen_id"] == "001090000001"  # type: ignore[index]
    refused = {
        "another key": tokens(impostor),
        "another issuer": tokens(iss="https://elsewhere.example"),
        "another audience": tokens(aud="national-portal", azp="motcua"),
        "expired": tokens(exp=int(time.time()) - 120),
        "another nonce": tokens(nonce="m"),
        "no nonce": tokens(nonce=None),
    }

    def accepted(given: dict[str, str]) -> bool:
        try:
            check(given)
        except JoseError:
            return False
        return True

    assert [case for case, given in refused.items() if accepted(given)] == []


def test_a_citizen_signs_in_through_vneid_and_out_in_a_real_browser(provider_api: str, new_page) -> None:
    citizen = DEMO_CITIZENS[1]
    page = new_page()
    page.goto(f"{provider_api}/sign-in?next=/citizen/procedures")
    page.get_by_role("link", name="Đăng nhập bằng VNeID").click()
    page.fill("#username", citizen.username)
    page.fill("#password", citizen.password)
    page.click("#kc-login")
    page.wait_for_url(f"{provider_api}/citizen/procedures")
    assert citizen.citizen_id in page.locator(".who").inner_text()
    page.get_by_role("button", name="Đăng xuất").click()
    # Through VNeID's end-session endpoint, and back home (with the state it was given).
    page.wait_for_url(re.compile(rf"^{re.escape(provider_api)}/(\?state=[\w-]+)?$"))
    assert page.locator(".who").count() == 0
    assert page.get_by_role("link", name="Đăng nhập").count() >= 1
