"""Property-based: generated definitions that are valid deploy and run to the end; broken ones get a 422."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import decide, register_units_of, wait_for_status

_codes = itertools.count(500_001)
OFFICER_KINDS = {"reception": "reception", "review": "specialist", "approval": "leader"}

FIELD_VALUES: dict[str, tuple[dict[str, Any], Any]] = {
    "text": ({"type": "text", "max_length": 50}, "Nguyễn Văn A"),
    "number": ({"type": "number", "minimum": 0, "maximum": 100}, 42.5),
    "money": ({"type": "money"}, 1_500_000),
    "date": ({"type": "date"}, "2026-11-02"),
    "choice": ({"type": "choice", "options": ["a", "b"]}, "b"),
    "multi_choice": ({"type": "multi_choice", "options": ["x", "y", "z"], "min_items": 1}, ["x", "z"]),
    "boolean": ({"type": "boolean"}, True),
    "citizen_id": ({"type": "citizen_id"}, "079123456789"),
    "phone": ({"type": "phone"}, "0901234567"),
    "email": ({"type": "email"}, "dan@example.vn"),
    "address": ({"type": "address"}, {"province_code": "79", "ward_code": "26734", "detail": "1 Lê Lợi"}),
}


@st.composite
def definitions(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A valid definition, a valid form for it, and the officer steps in the order a dossier meets them."""
    n = next(_codes)
    unit = f"P{n}.01"
    field_types = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), min_size=1, max_size=6))
    fields, form = [], {}
    for i, kind in enumerate(field_types):
        spec, value = FIELD_VALUES[kind]
        required = draw(st.booleans())
        fields.append({"name": f"f{i}", "label": f"Field {i}", "required": required, **spec})
        if required or draw(st.booleans()):
            form[f"f{i}"] = value
    kinds = draw(
        st.lists(
            st.sampled_from(["reception", "review", "approval", "adapter", "notification"]), min_size=1, max_size=5
        )
    )
    steps, officers = [], []
    for i, kind in enumerate(kinds):
        step: dict[str, Any] = {"id": f"s{i}", "kind": kind, "name": f"Step {i}", "next": f"s{i + 1}"}
        step["budget_working_days"] = draw(st.integers(0, 2))
        if kind in OFFICER_KINDS:
            step["role"] = OFFICER_KINDS[kind]
            officers.append(step["id"])
        elif kind == "adapter":
            step.update(system=draw(st.sampled_from(["civil_status", "tax", "land_registry"])), operation="check")
            step["budget_working_days"] = 0
        else:
            step.update(channel="sms", message="Hồ sơ {dossier_code} đang được xử lý", budget_working_days=0)
        steps.append(step)
    steps.append({"id": f"s{len(kinds)}", "kind": "result", "name": "Result"})
    budget = sum(s.get("budget_working_days", 0) for s in steps)
    definition = {
        "code": f"8.{n:06d}",
        "name": f"Generated procedure {n}",
        "sector": "generated",
        "level": draw(st.sampled_from(["ward", "province", "ministry"])),
        "receiving_units": [unit],
        "time_limit_working_days": budget + draw(st.integers(0, 3)),
        "form": {"fields": fields},
        "steps": steps,
    }
    return definition, form, officers


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(case=definitions())
def test_valid_definitions_deploy_and_run_to_their_result(api, case):
    definition, form, officers = case
    register_units_of(definition)  # deploying refuses units the registry lacks
    deployed = api.post("/procedures", json=definition)
    assert deployed.status_code == 201, deployed.text
    submitted = api.post(
        "/dossiers",
        json={"procedure_code": definition["code"], "applicant": {"full_name": "Bùi Thị Thử"}, "form": form},
    )
    assert submitted.status_code == 201, submitted.text
    dossier = submitted.json()["dossier_code"]
    unit = definition["receiving_units"][0]
    for step in officers:
        decide(api, dossier, step, unit)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["outcome"] == "completed" and view["active_steps"] == []


def _break(definition: dict[str, Any], how: str) -> dict[str, Any]:
    broken = copy.deepcopy(definition)
    steps, fields = broken["steps"], broken["form"]["fields"]
    match how:
        case "dangling_next":
            steps[0]["next"] = "nowhere"
        case "unknown_kind":
            steps[0]["kind"] = "teleport"
        case "duplicate_step":
            steps.append({**steps[-1]})
        case "unknown_field_in_condition":
            steps[0]["skip_when"] = "no_such_field > 1"
        case "contradictory_field":
            fields[0] = {"name": "c", "label": "C", "type": "number", "minimum": 5, "maximum": 1}
        case "budget_over_limit":
            steps[0]["budget_working_days"] = broken["time_limit_working_days"] + 1
        case "loop":
            steps[-1]["next"] = steps[0]["id"]
        case "bad_code":
            broken["code"] = "not-a-code"
        case "bad_expression":
            steps[0]["skip_when"] = "__import__('os')"
        case "wrong_type":
            broken["time_limit_working_days"] = "three"
    return broken


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    case=definitions(),
    how=st.sampled_from(
        [
            "dangling_next",
            "unknown_kind",
            "duplicate_step",
            "unknown_field_in_condition",
            "contradictory_field",
            "budget_over_limit",
            "loop",
            "bad_code",
            "bad_expression",
            "wrong_type",
        ]
    ),
)
def test_broken_definitions_are_refused_with_a_path(api, case, how):
    definition, _, _ = case
    response = api.post("/procedures", json=_break(definition, how))
    assert response.status_code == 422, (how, response.text)
    for error in response.json()["detail"]:
        assert error["loc"][0] == "body" and error["msg"]
    assert api.get(f"/procedures/{definition['code']}").status_code == 404


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=20,
    )
)
def test_any_json_is_refused_cleanly(api, body):
    response = api.post("/procedures", json=body)
    assert response.status_code == 422, response.text
