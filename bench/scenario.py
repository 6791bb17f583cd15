"""The bench's procedures, submissions and officers: the shape of the dossiers every scenario drives."""

from __future__ import annotations

import httpx

from devstack.stack import StackConfig
from infrastructure.settings import PROJECT_ROOT, Settings
from infrastructure.tokens import TokenIssuer

RESULTS = PROJECT_ROOT / "bench-results"


UNIT = "B01.50.05"


OFFICERS: dict[str, dict[str, str]] = {}  # step → Authorization headers, once the officers are registered


PROCEDURE = {
    "code": "6.000001",
    "name": "Benchmark procedure",
    "sector": "bench",
    "level": "ward",
    "receiving_units": [UNIT],
    "time_limit_working_days": 3,
    "form": {"fields": [{"name": "citizen_id", "label": "CCCD", "type": "citizen_id"}]},
    "steps": [
        {"id": "reception", "kind": "reception", "name": "Reception", "role": "reception", "budget_working_days": 1, "next": "lookup"},
        {"id": "lookup", "kind": "adapter", "name": "Lookup", "system": "civil_status", "operation": "lookup", "next": "approval"},
        {"id": "approval", "kind": "approval", "name": "Approval", "role": "leader", "budget_working_days": 1, "next": "register"},
        {"id": "register", "kind": "adapter", "name": "Register", "system": "tax", "operation": "register"},
    ],
}  # fmt: skip


# The same dossier ending in a signed result document (rendered, signed, deposited in the result store): one more
# activity, which the throughput scenario's shape does not have, measured beside it for what a result costs.
SIGNED_RESULT_PROCEDURE = {
    **PROCEDURE,
    "code": "6.000002",
    "name": "Benchmark procedure with a signed result",
    "steps": [
        *PROCEDURE["steps"][:-1],
        {**PROCEDURE["steps"][-1], "next": "result"},
        {"id": "result", "kind": "result", "name": "Result"},
    ],
}


SUBMISSION = {"procedure_code": "6.000001", "applicant": {"full_name": "Bench"}, "form": {"citizen_id": "079123456789"}}


SIGNED_RESULT_SUBMISSION = {**SUBMISSION, "procedure_code": SIGNED_RESULT_PROCEDURE["code"]}


def register_officers(config: StackConfig, admin: dict[str, str]) -> dict[str, dict[str, str]]:
    """The bench's unit and its two officers in the registry, and their tokens."""
    api = config.api_url
    unit = {"name": "Benchmark unit", "kind": "department", "parent_code": "VN"}
    httpx.put(f"{api}/units/{UNIT}", json=unit, headers=admin, timeout=30).raise_for_status()
    issuer = TokenIssuer(Settings(data_dir=config.data_dir))
    headers = {}
    for step, role in (("reception", "reception"), ("approval", "leader")):
        officer = {"full_name": f"bench {role}", "unit_code": UNIT, "roles": [role]}
        httpx.put(f"{api}/officers/bench-{role}", json=officer, headers=admin, timeout=30).raise_for_status()
        headers[step] = {"Authorization": f"Bearer {issuer.issue_officer(f'bench-{role}')}"}
    return headers
