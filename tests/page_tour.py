"""The tour of every page the product serves, shared by the page tests that visit them all (accessibility,
untranslated text): one set of data (a three-step procedure of the suite's own and dossiers in each state), the pages
with whoever each is for (anonymous, a citizen, an officer holding reception, leadership and administration at the
procedure's unit), and a visitor that signs in as the next page needs, reading in Vietnamese or English.

The steps of a page are written without the buttons' words (selectors, not names), so the tour runs in both
languages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.pages.i18n import COOKIE
from tests.browser import click_and_load, sign_in_as_citizen, sign_in_as_officer
from tests.support import (
    APPLICANT,
    citizen,
    decide,
    deploy,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
)

BIRTH = "3.000722"  # the shipped eForm with most kinds of field (dates, addresses, a yes/no, an attachment)
GROUPS = "1.001612"  # the shipped eForm with a repeating group and a multiple choice


@dataclass(frozen=True)
class Data:
    code: str  # a three-step procedure of the suite's own
    unit: str
    officer_id: str  # reception, leader and administrator at `unit`
    citizen_id: str  # the applicant of the dossiers below, with an account
    finished: str  # result returned
    supplement: str  # awaiting a supplement from the applicant
    waiting: str  # waiting at reception
    waiting_secret: str


def build_data(api: httpx.Client) -> Data:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    officer_id = f"a11y@{unit}"
    for role in ("reception", "leader", "administrator"):
        officer(role, unit, officer_id)
    citizen_id = "079199000001"

    def submit_as_the_citizen() -> dict[str, Any]:
        return submit(api, code, headers=citizen(citizen_id), applicant={**APPLICANT, "citizen_id": citizen_id})

    finished = submit_as_the_citizen()["dossier_code"]
    supplement = submit_as_the_citizen()["dossier_code"]
    waiting = submit_as_the_citizen()
    decide(api, finished, "reception", unit)
    decide(api, finished, "approval", unit)
    decide(api, supplement, "reception", unit, "request_supplement", missing=["Bản sao giấy khai sinh"],
           reason="Thiếu giấy tờ")  # fmt: skip
    wait_for_step(api, waiting["dossier_code"], "reception")
    wait_for_status(api, supplement, 5)
    wait_for_status(api, finished, 10, finished=True)
    return Data(code, unit, officer_id, citizen_id, finished, supplement, waiting["dossier_code"],
                waiting["lookup_secret"])  # fmt: skip


@pytest.fixture(scope="module", name="data")
def tour_data(api: httpx.Client, shipped: dict[str, int]) -> Data:
    return build_data(api)


@dataclass(frozen=True)
class Page:
    name: str
    who: str  # anonymous, english (anonymous, reading in English), citizen or officer
    open: Callable[[Any, Data], None]


def goto(path: str | Callable[[Data], str]) -> Callable[[Any, Data], None]:
    def open_page(page: Any, data: Data) -> None:
        page.goto(path(data) if callable(path) else path)

    return open_page


def eform_with_errors(page: Any, data: Data) -> None:
    page.goto(f"/citizen/procedures/{BIRTH}")
    click_and_load(page, page.locator("#submit-dossier"))
    assert page.locator("#error-summary").count() == 1


def _look_up(page: Any, code: str, secret: str) -> None:
    page.goto("/citizen/lookup")
    page.fill("#f-code", code)
    page.fill("#f-secret", secret)
    click_and_load(page, page.locator('form[action="/citizen/lookup"] button[type="submit"]'))


def lookup_not_found(page: Any, data: Data) -> None:
    _look_up(page, data.waiting, "WRONGSECRT")
    assert page.locator("#f-secret-error").count() == 1


def looked_up(page: Any, data: Data) -> None:
    _look_up(page, data.waiting, data.waiting_secret)
    assert page.url.endswith(f"/citizen/dossiers/{data.waiting}")


def definition_errors(page: Any, data: Data) -> None:
    page.goto("/admin/procedures/deploy")
    page.fill("#f-definition", "code: 9.999999\nname: x\nsteps: []\n")
    click_and_load(page, page.locator('button[name="action"][value="validate"]'))


def decision_error(page: Any, data: Data) -> None:
    page.goto(f"/officer/dossiers/{data.waiting}")
    decision = page.locator('form.decision[data-step="reception"]')
    # without the list of what is missing: refused
    click_and_load(page, decision.locator('button[name="decision"][value="request_supplement"]'))
    assert page.locator("#f-reception-missing-error").count() == 1


def receipt_at_the_counter(page: Any, data: Data) -> None:
    page.goto(f"/officer/dossiers/{data.waiting}")
    page.goto(page.locator("#print-receipt").get_attribute("href"))


PAGES = [
    Page("home", "anonymous", goto("/")),
    Page("sign-in", "anonymous", goto("/sign-in")),
    Page("procedures", "anonymous", goto("/citizen/procedures")),
    Page("eform", "anonymous", goto(f"/citizen/procedures/{BIRTH}")),
    Page("eform-groups", "anonymous", goto(f"/citizen/procedures/{GROUPS}")),
    Page("eform-errors", "anonymous", eform_with_errors),
    Page("lookup", "anonymous", goto("/citizen/lookup")),
    Page("lookup-not-found", "anonymous", lookup_not_found),
    Page("looked-up-dossier", "anonymous", looked_up),
    Page("not-found", "anonymous", goto("/citizen/no-such-page")),
    Page("procedure-not-found", "anonymous", goto("/citizen/procedures/0.000000")),
    Page("eform-in-english", "english", goto(f"/citizen/procedures/{BIRTH}?lang=en")),
    Page("home-in-english", "english", goto("/")),
    Page("my-dossiers", "citizen", goto("/citizen/dossiers")),
    Page("citizen-dossier-finished", "citizen", goto(lambda d: f"/citizen/dossiers/{d.finished}")),
    Page("citizen-dossier-supplement", "citizen", goto(lambda d: f"/citizen/dossiers/{d.supplement}")),
    Page("citizen-dossier-received", "citizen", goto(lambda d: f"/citizen/dossiers/{d.waiting}?received=1")),
    Page("receipt", "citizen", goto(lambda d: f"/dossiers/{d.waiting}/receipt.html")),
    Page("forbidden", "citizen", goto("/officer/inbox")),
    Page("inbox", "officer", goto("/officer/inbox")),
    Page("officer-dossier", "officer", goto(lambda d: f"/officer/dossiers/{d.waiting}")),
    Page("officer-dossier-decision-error", "officer", decision_error),
    Page("officer-dossier-finished", "officer", goto(lambda d: f"/officer/dossiers/{d.finished}")),
    Page("counter-procedures", "officer", goto("/officer/reception")),
    Page("counter-eform", "officer", goto(lambda d: f"/officer/reception/{d.code}")),
    Page("receipt-reprint", "officer", receipt_at_the_counter),
    Page("process-control-slip", "officer", goto(lambda d: f"/dossiers/{d.finished}/process-control.html")),
    Page("admin-procedures", "officer", goto("/admin/procedures")),
    Page("admin-procedure", "officer", goto(f"/admin/procedures/{BIRTH}")),
    Page("eform-preview", "officer", goto(f"/procedures/{BIRTH}/form.html")),
    Page("admin-deploy", "officer", goto("/admin/procedures/deploy")),
    Page("admin-deploy-errors", "officer", definition_errors),
    Page("units", "officer", goto("/admin/units")),
    Page("calendar", "officer", goto("/admin/calendars/VN")),
    Page("statistics", "officer", goto("/admin/statistics")),
]


class Visitor:
    """One browser context, signed in as whoever the next page is for. With a `language`, the pages are read in it
    (the language cookie, set again after each sign-in); without, as the pages' links and `?lang=` leave it."""

    def __init__(self, context: Any, base_url: str, language: str | None = None) -> None:
        self.context = context
        self.base_url = base_url
        self.language = language
        self.page = context.new_page()
        self.page.set_default_timeout(20_000)
        self.who = "anonymous"
        self._choose_language()

    def _choose_language(self) -> None:
        if self.language is not None:
            self.context.add_cookies([{"name": COOKIE, "value": self.language, "url": self.base_url}])

    def become(self, who: str, data: Data) -> None:
        if who == self.who:
            return
        self.context.clear_cookies()
        if who == "citizen":
            sign_in_as_citizen(self.page, data.citizen_id)  # the sign-in page in Vietnamese: no cookie yet
        elif who == "officer":
            sign_in_as_officer(self.page, data.officer_id)
        self._choose_language()
        self.who = who
