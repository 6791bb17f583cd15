"""Signing in to the pages: a sign-in session's id in an HttpOnly, SameSite=Strict cookie that the API reads after
the bearer header; changes made with cookies prove they come from our pages (CSRF); the development sign-in
is off where motcua does not issue its own tokens; bad input gives a page with the message, never a 500."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from devstack.stack import free_port
from infrastructure.settings import PROJECT_ROOT
from tests.support import (
    deploy,
    identities,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_step,
    wait_until,
)


def _csrf(client: httpx.Client, path: str = "/sign-in") -> str:
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _signed_in(base_url: str, officer_id: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base_url, timeout=30)
    token = _csrf(client)
    answer = client.post("/sign-in", data={"csrf_token": token, "kind": "officer", "officer_id": officer_id})
    assert answer.status_code == 303, answer.text
    return client, client.cookies["motcua_csrf"]


def test_the_sign_in_cookie_is_httponly_strict_and_read_after_the_bearer_header(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    officer("reception", unit)
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as browser:
        token = _csrf(browser)
        answer = browser.post(
            "/sign-in", data={"csrf_token": token, "kind": "officer", "officer_id": f"reception@{unit}"}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/officer/inbox"
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("motcua_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert browser.cookies["motcua_csrf"] != token  # a new CSRF token with the new identity

        # The API knows the browser by its cookie; a bearer header still wins.
        assert browser.get("/me").json()["officer_id"] == f"reception@{unit}"
        assert browser.get("/me", headers=identities().citizen("079123456789")).json()["kind"] == "citizen"
        assert browser.get("/inbox").status_code == 200

        # A change through the API with the cookie alone is not the officer's (it might come from another
        # site); with the page's CSRF token in X-CSRF-Token it is.
        dossier = submit(api, code)["dossier_code"]
        wait_for_step(api, dossier, "reception")
        decision = {"step_id": "reception", "decision": "approve"}
        assert browser.post(f"/dossiers/{dossier}/decisions", json=decision).status_code == 401
        accepted = browser.post(f"/dossiers/{dossier}/decisions", json=decision,
                                headers={"X-CSRF-Token": browser.cookies["motcua_csrf"]})  # fmt: skip
        assert accepted.status_code == 200, accepted.text

        # Signing out ends the session (tests/test_sign_out_ends_the_session.py: for every copy of the cookie).
        browser.post("/sign-out", data={"csrf_token": browser.cookies["motcua_csrf"]})
        assert browser.get("/me").json()["kind"] == "anonymous"


def test_every_change_from_a_page_carries_the_csrf_token(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    officer("reception", unit)
    client, csrf = _signed_in(stack.config.api_url, f"reception@{unit}")
    try:
        posts = [
            ("/sign-out", {}),
            ("/sign-in", {"kind": "citizen", "citizen_id": "079123456789"}),
            (f"/citizen/procedures/{code}", {"applicant.full_name": "A"}),
            ("/citizen/lookup", {"code": "X", "secret": "Y"}),
            (f"/officer/reception/{code}", {"applicant.full_name": "A"}),
            ("/admin/procedures/deploy", {"definition": "code: x"}),
        ]
        for path, data in posts:
            for wrong in ({}, {"csrf_token": "x" * 43}):
                refused = client.post(path, data={**data, **wrong})
                assert refused.status_code == 403, (path, refused.status_code)
                assert "tải lại trang" in refused.text and refused.headers["content-type"].startswith("text/html")
        assert client.get("/me").json()["officer_id"] == f"reception@{unit}"  # still signed in
        assert client.post("/sign-out", data={"csrf_token": csrf}).status_code == 303
    finally:
        client.close()


def test_sign_in_goes_back_only_to_this_site(api, stack):
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as client:
        for target, expected in (("//evil.example/x", "/citizen/procedures"), ("https://evil.example", "/citizen/procedures"),
                                 ("/citizen/lookup", "/citizen/lookup")):  # fmt: skip
            answer = client.post("/sign-in", data={"csrf_token": _csrf(client), "kind": "citizen",
                                                   "citizen_id": "079123456789", "next": target})  # fmt: skip
            assert answer.headers["location"] == expected
        assert client.get("/officer/inbox").status_code == 403  # a citizen is not an officer: said, not redirected
        anonymous = httpx.get(f"{stack.config.api_url}/officer/inbox?x=1", timeout=30)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/sign-in?next=/officer/inbox%3Fx%3D1"


def test_pages_answer_bad_input_with_a_page_not_a_500(api, stack):
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as client:
        csrf = _csrf(client)
        for method, path, data in [
            ("GET", "/citizen/procedures/nope", None),
            ("GET", "/citizen/procedures/" + "9" * 60, None),
            ("GET", "/admin/calendars/XX", None),
            ("GET", "/citizen/lookup?code=" + "x" * 500, None),
            ("POST", "/citizen/lookup", {"csrf_token": csrf, "code": "x" * 5000, "secret": "\x00"}),
            ("POST", "/sign-in", {"csrf_token": csrf, "kind": "wizard"}),
            ("POST", "/sign-in", {"csrf_token": csrf, "kind": "officer", "officer_id": "nobody here"}),
            ("GET", "/no/such/page", None),
        ]:
            answer = client.request(method, path, data=data)
            assert answer.status_code < 500, (path, answer.status_code)
            if answer.status_code != 303 and path.startswith(("/citizen", "/admin", "/sign-in")):
                assert answer.headers["content-type"].startswith("text/html"), path
        # Pages carry their security headers.
        page = client.get("/citizen/lookup")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        # The JSON API keeps answering JSON, next door to the pages too.
        assert client.get("/procedures/nope").headers["content-type"] == "application/json"
        assert client.get("/officers").headers["content-type"] == "application/json"
        assert client.get("/citizens").headers["content-type"] == "application/json"


def test_development_sign_in_is_off_where_motcua_issues_no_tokens(stack):
    port = free_port()
    env = {**stack.config.env(), "OWN_ISSUER_ENABLED": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=60, what="the API without its own issuer")
        with httpx.Client(base_url=url, timeout=30) as client:
            page = client.get("/sign-in")
            assert page.status_code == 404 and "Đăng nhập phát triển đã tắt" in page.text
            refused = client.post("/sign-in", data={"csrf_token": client.cookies.get("motcua_csrf", ""),
                                                   "kind": "citizen", "citizen_id": "079123456789"})  # fmt: skip
            assert refused.status_code == 404 and "motcua_session" not in client.cookies
    finally:
        process.terminate()
        process.wait(timeout=30)
