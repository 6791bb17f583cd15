"""Helpers shared by the tests: unique procedures, officer identities, polling with a deadline."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.client import Client

from devstack.stack import Stack
from infrastructure.settings import Settings
from infrastructure.temporal import connect
from infrastructure.tokens import TokenIssuer

T = TypeVar("T")
_codes = itertools.count(1)


def unique_codes() -> tuple[str, str]:
    """A fresh catalogue code and receiving unit, so tests never see each other's dossiers. With the stack up, the unit
    is registered (definitions naming a unit the registry lacks are refused)."""
    n = next(_codes)
    if _identities:
        identities().register_unit(f"T{n:04d}.50.05")
    return f"9.{n:06d}", f"T{n:04d}.50.05"


def three_step_procedure(code: str, unit: str, **overrides: Any) -> dict[str, Any]:
    """Reception (officer) → civil-status lookup (adapter) → leader approval (officer) → result."""
    definition: dict[str, Any] = {
        "code": code,
        "name": "Cấp bản sao trích lục hộ tịch (test)",
        "sector": "civil_status",
        "level": "ward",
        "receiving_units": [unit],
        "time_limit_working_days": 3,
        "results": [{"id": "extract_copy", "name": "Bản sao trích lục hộ tịch"}],
        "form": {
            "fields": [
                {"name": "requester_id", "label": "Số định danh", "type": "citizen_id"},
                {"name": "subject_name", "label": "Họ tên", "type": "text", "max_length": 100},
                {"name": "event_type", "label": "Loại sự kiện", "type": "choice", "options": ["birth", "marriage", "death"]},
                {"name": "copies", "label": "Số bản", "type": "number", "integer": True, "minimum": 1, "maximum": 10},
                {"name": "email", "label": "Email", "type": "email", "required": False},
            ]
        },
        "steps": [
            {
                "id": "reception", "kind": "reception", "name": "Tiếp nhận", "role": "reception",
                "budget_working_days": 1, "next": "lookup",
            },
            {
                "id": "lookup", "kind": "adapter", "name": "Tra cứu sổ hộ tịch",
                "system": "civil_status", "operation": "lookup_record", "next": "approval",
            },
            {
                "id": "approval", "kind": "approval", "name": "Lãnh đạo phê duyệt", "role": "leader",
                "budget_working_days": 1, "next": "result",
            },
            {"id": "result", "kind": "result", "name": "Trả kết quả"},
        ],
    }  # fmt: skip
    definition.update(overrides)
    return definition


VALID_FORM = {"requester_id": "079123456789", "subject_name": "Nguyễn Văn B", "event_type": "birth", "copies": 2}
APPLICANT = {"full_name": "Nguyễn Văn A", "citizen_id": "079123456789"}


ADMINISTRATOR = "admin"  # the stack's bootstrap administrator
ADMINISTRATION_PATHS = ("/procedures", "/calendars", "/units", "/officers", "/audit", "/operations")


class StackIdentities:
    """Bearer tokens from the stack's own issuer, and the registry entries of the officers they name."""

    def __init__(self, api_url: str, data_dir: Path) -> None:
        self.issuer = TokenIssuer(Settings(data_dir=data_dir))
        self.api_url = api_url
        self._registered: dict[str, tuple[str, set[str]]] = {}
        self._known_units: set[str] = set()
        self._lock = threading.Lock()
        self._admin = self.issuer.issue_officer(ADMINISTRATOR)

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._admin}"}

    def citizen(self, citizen_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue_citizen(citizen_id)}"}

    def officer(self, role: str, unit: str, officer_id: str | None = None) -> dict[str, str]:
        """An officer holding `role` at `unit` (both registered on first use)."""
        officer_id = officer_id or f"{role}@{unit}"
        with self._lock:  # tests drive dossiers from several threads
            known_unit, roles = self._registered.get(officer_id, (unit, set()))
            if known_unit != unit or role not in roles:
                roles = (roles if known_unit == unit else set()) | {role}
                self.register_unit(unit)
                self.put(
                    f"/officers/{officer_id}", {"full_name": officer_id, "unit_code": unit, "roles": sorted(roles)}
                )
                self._registered[officer_id] = (unit, roles)
        return {"Authorization": f"Bearer {self.issuer.issue_officer(officer_id)}"}

    def register_unit(self, unit: str, *, kind: str = "department", parent: str = "VN", **fields: Any) -> None:
        if not fields and unit in self._known_units:
            return
        if httpx.get(f"{self.api_url}/units/{unit}", timeout=30).status_code == 404:
            self.put(f"/units/{unit}", {"name": f"Đơn vị {unit}", "kind": kind, "parent_code": parent, **fields})
        self._known_units.add(unit)

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.put(f"{self.api_url}{path}", json=body, headers=self.admin(), timeout=30)
        assert response.status_code in (200, 201), response.text
        return response.json()


_identities: list[StackIdentities] = []


def identities() -> StackIdentities:
    assert _identities, "the stack fixture sets the identities up"
    return _identities[0]


def officer(role: str, unit: str, officer_id: str | None = None) -> dict[str, str]:
    """Authorization headers of an officer holding `role` at `unit`."""
    return identities().officer(role, unit, officer_id)


def citizen(citizen_id: str) -> dict[str, str]:
    return identities().citizen(citizen_id)


def admin() -> dict[str, str]:
    return identities().admin()


class SuiteAuth(httpx.Auth):
    """How the suite's shared `api` client acts when a test gives no identity of its own: as an
    administrator on administration paths, and as the holder of the receipt on a dossier's paths
    (the lookup secret learned from the submission's answer)."""

    requires_response_body = True

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        path = request.url.path
        if "authorization" not in request.headers and "x-lookup-secret" not in request.headers:
            administration = path.startswith(ADMINISTRATION_PATHS) and not path.endswith("/prefill")
            if administration and (request.method != "GET" or not path.startswith(("/procedures", "/calendars"))):
                request.headers.update(identities().admin())
            elif path.startswith("/dossiers/"):
                secret = self.secrets.get(path.split("/")[2])
                if secret:
                    request.headers["X-Lookup-Secret"] = secret
                else:
                    # A dossier without a receipt of ours (an interconnected child): the applicant signs in.
                    request.headers.update(identities().citizen(APPLICANT["citizen_id"]))
        response = yield request
        if request.method == "POST" and path == "/dossiers" and response.status_code in (200, 201):
            receipt = response.json()
            self.secrets[receipt["dossier_code"]] = receipt["lookup_secret"]


def decide(
    api: httpx.Client,
    dossier: str,
    step: str,
    unit: str,
    decision: str = "approve",
    *,
    officer_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Wait until `step` awaits a decision, send it as an officer of the step's role, and insist it was accepted."""
    view = wait_for_step(api, dossier, step)
    role = next(s["role"] for s in view["active_steps"] if s["step_id"] == step)
    response = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": step, "decision": decision, **fields},
        headers=officer(role, unit, officer_id),
    )
    assert response.status_code == 200, response.text
    return response.json()


def named_units(definition: dict[str, Any]) -> set[str]:
    """The unit codes a definition document names (receiving units, fixed units, units chosen by the form)."""
    codes = set(definition.get("receiving_units") or [])

    def walk(steps: Any) -> None:
        for step in steps or []:
            unit = step.get("unit") or {}
            codes.update(
                c for c in [unit.get("unit_code"), *(w.get("unit_code") for w in unit.get("level_when") or [])] if c
            )
            codes.update(c for c in [(step.get("on_overdue") or {}).get("unit_code")] if c)
            for branch in step.get("branches") or []:
                walk(branch.get("steps"))

    walk(definition.get("steps"))
    return codes


def register_units_of(definition: dict[str, Any]) -> None:
    """Register the units a test definition names (deploying refuses units the registry lacks)."""
    for unit in sorted(named_units(definition)):
        identities().register_unit(unit)


def deploy(api: httpx.Client, definition: dict[str, Any]) -> dict[str, Any]:
    register_units_of(definition)
    response = api.post("/procedures", json=definition)
    assert response.status_code in (200, 201), response.text
    return response.json()


def submit(
    api: httpx.Client,
    code: str,
    form: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    response = api.post(
        "/dossiers",
        json={"procedure_code": code, "applicant": APPLICANT, "form": form or VALID_FORM, **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def dossier_awaiting_reception(api: httpx.Client) -> tuple[str, str]:
    """A fresh three-step dossier waiting at reception: its code and its receiving unit."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    return dossier, unit


def approved_dossier(api: httpx.Client) -> tuple[str, str]:
    """A dossier of a fresh three-step procedure, approved at both steps and returned: (dossier code, unit)."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    decide(api, dossier, "approval", unit)
    wait_for_status(api, dossier, 10, finished=True)
    return dossier, unit


def wait_until(probe: Callable[[], T | None], *, timeout: float = 30, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_for_step(api: httpx.Client, dossier: str, step_id: str, timeout: float = 30) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        view = api.get(f"/dossiers/{dossier}").json()
        awaiting = {s["step_id"] for s in view.get("active_steps", []) if s["awaiting"] == "officer"}
        return view if step_id in awaiting else None

    return wait_until(probe, timeout=timeout, what=f"{dossier} to await a decision at {step_id}")


def active(view: dict[str, Any]) -> dict[str, str]:
    """Active steps of a dossier view: step id → what it awaits."""
    return {s["step_id"]: s["awaiting"] for s in view["active_steps"]}


def wait_for_status(
    api: httpx.Client, dossier: str, status: int, *, finished: bool = False, timeout: float = 30
) -> dict[str, Any]:
    """Wait until the read model shows `status` (and, with finished, the end of processing)."""

    def probe() -> dict[str, Any] | None:
        view = api.get(f"/dossiers/{dossier}").json()
        return view if view["status"] == status and (view["completed_at"] or not finished) else None

    return wait_until(probe, timeout=timeout, what=f"{dossier} to reach status {status}")


def with_temporal(stack: Stack, use: Callable[[Client], Awaitable[T]]) -> T:
    """Run `use` with a Temporal client of the test stack, on a loop of its own."""

    async def main() -> T:
        settings = Settings(temporal_address=stack.config.address, temporal_namespace=stack.config.temporal_namespace)
        return await use(await connect(settings))

    return asyncio.run(main())


def pay(api: httpx.Client, dossier: str, step: str) -> int:
    """Wait for the fee step to ask for payment, pay exactly what it asks, and return the amount."""
    view = wait_until(
        lambda: (v := api.get(f"/dossiers/{dossier}").json())["fee_request"] and v,
        what=f"{dossier} to ask for a fee at {step}",
    )
    request = view["fee_request"]
    assert request["step_id"] == step and view["status"] == 6
    if request.get("pay_url"):  # revision 5: paid on the payment platform's page, which confirms it to motcua
        pay_on_the_platform(request["pay_url"])
        wait_until(
            lambda: any(
                e["kind"] == "fee_paid" and e["step_id"] == step
                for e in api.get(f"/dossiers/{dossier}").json()["timeline"]
            ),
            what=f"the payment platform's confirmation of {dossier}'s fee at {step}",
        )
        return request["amount_vnd"]
    response = api.post(
        f"/dossiers/{dossier}/payments",
        json={"step_id": step, "amount_vnd": request["amount_vnd"], "receipt_reference": f"PAY-{dossier}-{step}"},
    )
    assert response.status_code == 200, response.text
    return request["amount_vnd"]


def pay_on_the_platform(pay_url: str, *, deliver: bool = True) -> dict[str, Any]:
    """The applicant pays on the payment platform's page (the simulator); `deliver=False` loses its confirmation."""
    response = httpx.post(pay_url, params={"deliver": str(deliver).lower()}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


SAMPLE_FILES = {
    "application/pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    "image/png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    "image/jpeg": b"\xff\xd8\xff\xe0" + b"\x00" * 64,
}


def attachment(name: str = "scan.pdf", media_type: str = "application/pdf") -> dict[str, Any]:
    """A file uploaded to the stack, as the upload service describes it (its claim included: a dossier cites only
    its submitter's uploads); a type uploads refuse is only described, for the eForm's own checks to refuse."""
    content = SAMPLE_FILES.get(media_type)
    if content is None:
        return {"name": name, "media_type": media_type, "size_bytes": 48_213, "sha256": "0f" * 32}
    response = httpx.post(
        f"{identities().api_url}/attachments", files={"file": (name, content, media_type)}, timeout=30
    )
    assert response.status_code == 201, response.text
    return response.json()


def portal_statuses(simulator: httpx.Client, dossier: str, last: int, timeout: float = 30) -> list[int]:
    """The statuses the portal received, once it has heard `last` (pushes trail the read model by design)."""

    def probe() -> list[int] | None:
        response = simulator.get(f"/portal/dossiers/{dossier}")
        statuses = [s["status"] for s in response.json()["statuses"]] if response.status_code == 200 else []
        return statuses if statuses and statuses[-1] == last else None

    return wait_until(probe, timeout=timeout, what=f"the portal to hear status {last} for {dossier}")


BIRTH_WARD = "H29.50.05.13"


def submit_birth(api: httpx.Client, *, register_residence: bool = True) -> str:
    """A mother signed in with VNeID applies online at the ward for the interconnected birth registration (3.000722) of her child."""
    response = api.post(
        "/dossiers",
        json={
            "procedure_code": "3.000722",
            "receiving_unit": BIRTH_WARD,
            "applicant": {"full_name": "Lê Thị Mẹ", "citizen_id": APPLICANT["citizen_id"]},
            "form": {
                "child_name": "Lê Minh An",
                "child_date_of_birth": "2026-11-10",
                "child_place_of_birth": "Bệnh viện Từ Dũ, TP.HCM",
                "child_sex": "male",
                "child_ethnicity": "Kinh",
                "child_nationality": "Việt Nam",
                "mother_id": APPLICANT["citizen_id"],
                "mother_name": "Lê Thị Mẹ",
                "father_id": "079188000002",
                "father_name": "Lê Văn Cha",
                "residence_address": {"province_code": "79", "ward_code": "26734", "detail": "12 Lê Lợi"},
                "register_residence": register_residence,
                "insurance_facility": "79-024",
                "birth_certificate": attachment("giay-chung-sinh.pdf"),
            },
        },
        headers=citizen(APPLICANT["citizen_id"]),  # signed in: her dossiers and their children join her account
    )
    assert response.status_code == 201, response.text
    return response.json()["dossier_code"]


def child_dossiers(api: httpx.Client, dossier: str, count: int) -> dict[str, str]:
    """The interconnected dossiers `dossier` started in other agencies (procedure code → dossier code), once
    `count` of them are under way and the parent shows the steps waiting on them."""

    def probe() -> dict[str, Any] | None:
        view = api.get(f"/dossiers/{dossier}").json()
        waiting = [s for s in view["active_steps"] if s.get("child_dossier_code")]
        return view if len(view["children"]) == count and len(waiting) == count else None

    view = wait_until(probe, what=f"{dossier} to start {count} child dossier(s)")
    return {child["procedure_code"]: child["dossier_code"] for child in view["children"]}


LAND_COUNTER = "H29.50.05.13"  # a ward's one-stop counter receiving land-certificate renewals


def submit_land_renewal(api: httpx.Client, reason: str, **extra: Any) -> dict[str, Any]:
    """A land-use certificate renewal (1.012783) received by post at a ward's counter; its receipt."""
    form = {
        "applicant_id": "079080000123",
        "applicant_name": "Phạm Văn Đất",
        "certificate_number": "CS 123456",
        "parcel_number": "152",
        "map_sheet": "18",
        "parcel_address": {"province_code": "79", "ward_code": "26740", "detail": "45 Hai Bà Trưng"},
        "reason": reason,
        "application_form": attachment("mau-15.pdf"),
        **extra,
    }
    response = api.post(
        "/dossiers",
        json={"procedure_code": "1.012783", "receiving_unit": LAND_COUNTER, "channel": 3,
              "applicant": {"full_name": "Phạm Văn Đất"}, "form": form},
        headers=officer("reception", LAND_COUNTER),
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()
