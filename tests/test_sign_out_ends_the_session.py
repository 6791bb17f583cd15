"""A browser signed in to the pages holds a server-side session: signing out ends it for every copy of the cookie, it
is over after its idle time or its lifetime, an administrator's revocation ends every session of an officer at once,
and the database keeps only a hash of the cookie's id."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.admin_cli import app as admin_cli
from infrastructure.settings import get_settings
from readmodel.db import engine_for
from readmodel.tables import SignInSessionRow
from tests.support import admin, officer, unique_codes

# In the cluster suite too: two API processes on PostgreSQL, where a session ended at one is over at the other.
pytestmark = pytest.mark.cluster
CITIZEN = "079123456780"


@contextmanager
def _sign_in(base_url: str, **form: str) -> Iterator[httpx.Client]:
    """A browser that went through the sign-in page (kind=officer with officer_id, or kind=citizen with citizen_id)."""
    with httpx.Client(base_url=base_url, timeout=30) as browser:
        page = browser.get("/sign-in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = browser.post("/sign-in", data={"csrf_token": csrf, **form})
        assert answer.status_code == 303, answer.text
        yield browser


def _who(base_url: str, cookie: str) -> dict[str, Any]:
    """Who another browser holding only a copy of this sign-in cookie is taken for."""
    return httpx.get(f"{base_url}/me", cookies={"motcua_session": cookie}, timeout=30).json()


@pytest.fixture
def reception(stack) -> str:
    _, unit = unique_codes()
    officer("reception", unit)
    return f"reception@{unit}"


@pytest.fixture
def database(stack) -> Iterator[sa.Engine]:
    yield engine_for(stack.config.sqlalchemy_url)


SESSIONS = SignInSessionRow.__table__  # through the model's types: SQLite keeps times as text


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _row(database: sa.Engine, cookie: str) -> dict[str, Any] | None:
    with database.connect() as connection:
        row = connection.execute(sa.select(SESSIONS).where(SESSIONS.c.id_hash == _hash(cookie))).first()
    return dict(row._mapping) if row is not None else None


def _set(database: sa.Engine, cookie: str, **times: datetime) -> None:
    with database.begin() as connection:
        changed = connection.execute(sa.update(SESSIONS).where(SESSIONS.c.id_hash == _hash(cookie)).values(**times))
        assert changed.rowcount == 1


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def test_after_sign_out_the_old_cookie_no_longer_authorizes(stack, reception):
    base_url = stack.config.api_url
    with _sign_in(base_url, kind="officer", officer_id=reception) as browser:
        cookie = browser.cookies["motcua_session"]
        assert _who(base_url, cookie)["officer_id"] == reception  # a copy of the cookie works while signed in
        signed_out = browser.post("/sign-out", data={"csrf_token": browser.cookies["motcua_csrf"]})
        assert signed_out.status_code == 303
        assert "motcua_session" not in browser.cookies
    # The copy replayed after sign-out, at every API process: anonymous to the API, and the pages send it to sign in.
    for api_url in getattr(stack.config, "api_urls", [base_url]):
        assert _who(api_url, cookie)["kind"] == "anonymous"
        inbox = httpx.get(f"{api_url}/officer/inbox", cookies={"motcua_session": cookie}, timeout=30)
        assert inbox.status_code == 303 and inbox.headers["location"].startswith("/sign-in")


def test_signing_in_as_someone_else_ends_the_browsers_previous_session(stack, reception):
    base_url = stack.config.api_url
    with _sign_in(base_url, kind="officer", officer_id=reception) as browser:
        first = browser.cookies["motcua_session"]
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/sign-in").text).group(1)
        assert browser.post("/sign-in", data={"csrf_token": csrf, "kind": "citizen", "citizen_id": CITIZEN}).is_redirect
        me = browser.get("/me").json()
        assert me["kind"] == "citizen" and me["citizen_id"] == CITIZEN
    assert _who(base_url, first)["kind"] == "anonymous"


def test_a_session_past_its_idle_time_or_its_lifetime_is_anonymous(stack, reception, database):
    base_url = stack.config.api_url
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    now = datetime.now(UTC)
    with _sign_in(base_url, kind="officer", officer_id=reception) as idle_browser:
        cookie = idle_browser.cookies["motcua_session"]
        _set(database, cookie, last_seen_at=now - idle - timedelta(minutes=1))
        assert _who(base_url, cookie)["kind"] == "anonymous"
        assert idle_browser.get("/officer/inbox").status_code == 303  # to the sign-in page
    with _sign_in(base_url, kind="citizen", citizen_id=CITIZEN) as expired_browser:
        cookie = expired_browser.cookies["motcua_session"]
        _set(database, cookie, expires_at=now - timedelta(seconds=1))
        assert _who(base_url, cookie)["kind"] == "anonymous"


def test_a_request_keeps_the_session_alive_and_marks_it_seen_at_most_once_a_minute(stack, reception, database):
    base_url = stack.config.api_url
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    with _sign_in(base_url, kind="officer", officer_id=reception) as browser:
        cookie = browser.cookies["motcua_session"]
        seen = _as_utc(_row(database, cookie)["last_seen_at"])  # at sign-in
        assert _who(base_url, cookie)["officer_id"] == reception
        assert _as_utc(_row(database, cookie)["last_seen_at"]) == seen  # within the minute: no write
        # Almost idle: a request then renews it, so the idle time counts from the last request, not the sign-in.
        _set(database, cookie, last_seen_at=datetime.now(UTC) - idle + timedelta(minutes=1))
        before = datetime.now(UTC)
        assert _who(base_url, cookie)["officer_id"] == reception
        assert _as_utc(_row(database, cookie)["last_seen_at"]) >= before - timedelta(seconds=1)


def test_the_admin_command_ends_every_session_of_an_officer_at_once(stack, reception, monkeypatch):
    base_url = stack.config.api_url
    _, other_unit = unique_codes()
    officer("reception", other_unit)
    with (
        _sign_in(base_url, kind="officer", officer_id=reception) as desk,
        # At another API process where there are several (the cluster suite).
        _sign_in(getattr(stack.config, "api_urls", [base_url])[-1], kind="officer", officer_id=reception) as laptop,
        _sign_in(base_url, kind="officer", officer_id=f"reception@{other_unit}") as colleague,
    ):
        assert desk.get("/me").json()["officer_id"] == laptop.get("/me").json()["officer_id"] == reception

        monkeypatch.setenv("DATABASE_URL", stack.config.sqlalchemy_url)
        get_settings.cache_clear()
        try:
            revoked = CliRunner().invoke(admin_cli, ["sessions", "end", "--subject", reception])
        finally:
            get_settings.cache_clear()
        assert revoked.exit_code == 0, revoked.output
        assert revoked.output.strip() == f"ended 2 session(s) of {reception}"

        assert desk.get("/me").json()["kind"] == laptop.get("/me").json()["kind"] == "anonymous"
        assert desk.get("/officer/inbox").status_code == 303
        assert colleague.get("/me").json()["officer_id"] == f"reception@{other_unit}"  # someone else's: untouched
    trail = httpx.get(f"{base_url}/audit", params={"target": reception}, headers=admin(), timeout=30).json()
    assert any(e["action"] == "sessions.end" and e["detail"]["ended"] == 2 for e in trail), trail


def test_the_database_keeps_a_hash_of_the_cookie_not_the_cookie(stack, reception, database):
    base_url = stack.config.api_url
    with _sign_in(base_url, kind="officer", officer_id=reception) as browser:
        cookie = browser.cookies["motcua_session"]
    assert len(cookie) == 43  # secrets.token_urlsafe(32): 256 random bits
    row = _row(database, cookie)
    assert row is not None and row["subject"] == reception and row["principal"] == "officer"
    with database.connect() as connection:
        everything = [dict(r._mapping) for r in connection.execute(sa.text("SELECT * FROM sign_in_session"))]
    assert not any(cookie in str(value) for stored in everything for value in stored.values())
    # The hash is no cookie either: presented as one, it opens nothing.
    assert _who(base_url, row["id_hash"][:43])["kind"] == "anonymous"


def test_signing_in_deletes_the_sessions_expired_over_a_day_ago(stack, reception, database):
    base_url = stack.config.api_url
    now = datetime.now(UTC)
    with (
        _sign_in(base_url, kind="citizen", citizen_id=CITIZEN) as long_ago,
        _sign_in(base_url, kind="citizen", citizen_id=CITIZEN) as yesterday,
    ):
        old, recent = long_ago.cookies["motcua_session"], yesterday.cookies["motcua_session"]
    _set(database, old, created_at=now - timedelta(days=3), expires_at=now - timedelta(days=2))
    _set(database, recent, created_at=now - timedelta(hours=20), expires_at=now - timedelta(hours=12))
    with _sign_in(base_url, kind="officer", officer_id=reception):
        pass
    assert _row(database, old) is None
    assert _row(database, recent) is not None  # expired, but kept a day for whoever looks into it
