"""Administrators deploy procedure definitions over HTTP, as JSON or YAML, versioned and validated."""

from __future__ import annotations

import copy
import json

import yaml

from devstack.stack import administrator_token, deploy_procedures, procedure_files
from domain.definition import definition_json_schema
from domain.deployment_order import deployment_order
from infrastructure.settings import PROJECT_ROOT
from tests.support import three_step_procedure, unique_codes


def test_deploy_is_versioned_and_idempotent(api):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    first = api.post("/procedures", json=definition)
    assert first.status_code == 201 and first.json()["version"] == 1 and first.json()["created"]

    same = api.post("/procedures", content=yaml.safe_dump(definition), headers={"Content-Type": "application/yaml"})
    assert same.status_code == 200
    assert (same.json()["version"], same.json()["created"]) == (1, False)

    changed = copy.deepcopy(definition)
    changed["time_limit_working_days"] = 5
    second = api.post("/procedures", json=changed)
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["content_hash"] != first.json()["content_hash"]

    assert [v["version"] for v in api.get(f"/procedures/{code}/versions").json()] == [1, 2]
    assert api.get(f"/procedures/{code}").json()["definition"]["time_limit_working_days"] == 5
    assert api.get(f"/procedures/{code}/versions/1").json()["definition"]["time_limit_working_days"] == 3
    listed = {p["code"]: p["version"] for p in api.get("/procedures").json()}
    assert listed[code] == 2


def test_form_schema_is_published(api):
    code, unit = unique_codes()
    api.post("/procedures", json=three_step_procedure(code, unit)).raise_for_status()
    schema = api.get(f"/procedures/{code}/form-schema").json()
    assert schema["properties"]["requester_id"]["pattern"] == r"^\d{12}$"
    assert set(schema["required"]) == {"requester_id", "subject_name", "event_type", "copies"}


def test_shipped_procedures_deploy(api):
    for path in procedure_files(PROJECT_ROOT / "procedures"):
        response = api.post("/procedures", content=path.read_bytes(), headers={"Content-Type": "application/yaml"})
        assert response.status_code in (200, 201), f"{path.name}: {response.text}"


def _with_child_step(parent: dict, child_code: str) -> dict:
    parent = copy.deepcopy(parent)
    parent["steps"][1] = {
        "id": "lookup", "kind": "child", "name": "Liên thông", "procedure": child_code,
        "unit": {"select": "fixed_unit", "unit_code": "H29.CA"}, "next": "approval",
    }  # fmt: skip
    return parent


def test_child_procedures_deploy_before_their_parents_whatever_the_file_names(api, stack, tmp_path):
    grandchild_code, _ = unique_codes()
    child_code, _ = unique_codes()
    code, unit = unique_codes()
    grandchild = three_step_procedure(grandchild_code, "H29.CA")
    child = _with_child_step(three_step_procedure(child_code, "H29.CA"), grandchild_code)
    parent = _with_child_step(three_step_procedure(code, unit), child_code)
    files = {"a-parent.yaml": parent, "b-child.yaml": child, "c-grandchild.yaml": grandchild}
    for name, definition in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    # In the order of the file names the parent would come first, and be refused: its child is unknown.
    refused = api.post(
        "/procedures", content=(tmp_path / "a-parent.yaml").read_bytes(), headers={"Content-Type": "application/yaml"}
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "steps", 1, "procedure"]

    assert [p.name for p in procedure_files(tmp_path)] == ["c-grandchild.yaml", "b-child.yaml", "a-parent.yaml"]
    deployed = deploy_procedures(stack.config.api_url, tmp_path, administrator_token(stack.config))
    assert [(d["code"], d["created"]) for d in deployed] == [(grandchild_code, True), (child_code, True), (code, True)]


def test_deployment_order_keeps_the_given_order_otherwise():
    a, b, c = ({"code": f"9.90000{i}", "steps": []} for i in range(3))
    b_starts_a = {**b, "steps": [{"kind": "parallel", "branches": [{"steps": [{"procedure": a["code"]}]}]}]}
    assert deployment_order([("b", b_starts_a), ("c", c), ("a", a)]) == ["c", "a", "b"]
    # A child already deployed (not among the documents) holds nothing back; a loop keeps the order given.
    assert deployment_order([("b", b_starts_a), ("c", c)]) == ["b", "c"]
    a_starts_b = {**a, "steps": [{"procedure": b["code"]}]}
    assert deployment_order([("a", a_starts_b), ("b", b_starts_a)]) == ["a", "b"]
    assert deployment_order([("broken", "not a mapping"), ("c", c)]) == ["broken", "c"]


def _errors(response) -> set[tuple]:
    assert response.status_code == 422, response.text
    return {tuple(e["loc"]) for e in response.json()["detail"]}


def test_malformed_definitions_are_refused_with_the_path_of_each_error(api):
    code, unit = unique_codes()
    good = three_step_procedure(code, unit)

    nowhere = copy.deepcopy(good)
    nowhere["steps"][2]["next"] = "archive"
    assert _errors(api.post("/procedures", json=nowhere)) == {("body", "steps", 2, "next")}

    unreachable = copy.deepcopy(good)
    unreachable["steps"].append({"id": "orphan", "kind": "review", "name": "Orphan", "role": "specialist"})
    assert _errors(api.post("/procedures", json=unreachable)) == {("body", "steps", 4, "id")}

    looping = copy.deepcopy(good)
    looping["steps"][3]["next"] = "reception"
    # Every step of a loop with no way out is named.
    assert _errors(api.post("/procedures", json=looping)) == {("body", "steps", i, "next") for i in range(4)}

    bad_shape = copy.deepcopy(good)
    bad_shape["steps"][0]["kind"] = "teleport"
    bad_shape["code"] = "1-2-3"
    del bad_shape["steps"][2]["role"]
    assert _errors(api.post("/procedures", json=bad_shape)) == {("body", "steps", 0, "kind"), ("body", "code")}

    roleless = copy.deepcopy(good)
    del roleless["steps"][2]["role"]
    roleless["steps"][1]["system"] = "astrology"
    roleless["form"]["fields"][3]["minimum"] = 20
    assert _errors(api.post("/procedures", json=roleless)) == {
        ("body", "steps", 2, "role"),
        ("body", "steps", 1, "system"),
        ("body", "form", "fields", 3, "minimum"),
    }

    assert api.get(f"/procedures/{code}").status_code == 404  # nothing half-deployed


def test_unreadable_bodies_are_refused(api):
    broken_yaml = api.post("/procedures", content=b"code: [unclosed", headers={"Content-Type": "application/yaml"})
    assert _errors(broken_yaml) == {("body",)}
    assert api.post("/procedures", content=b"<xml/>", headers={"Content-Type": "application/xml"}).status_code == 415
    assert (
        api.post("/procedures", content=b"x" * 1_000_001, headers={"Content-Type": "application/json"}).status_code
        == 413
    )
    assert _errors(api.post("/procedures", json=["not", "an", "object"])) == {("body",)}
    assert api.get("/procedures/9.000000").status_code == 404


def test_graph_and_rule_checks_name_the_offending_value(api):
    code, unit = unique_codes()
    good = three_step_procedure(code, unit)

    returns_forward = copy.deepcopy(good)
    returns_forward["steps"][0].update(decisions=["approve", "return"], return_to="approval")
    assert _errors(api.post("/procedures", json=returns_forward)) == {("body", "steps", 0, "return_to")}

    competent_without_address = copy.deepcopy(good)
    competent_without_address["steps"][2]["unit"] = {"select": "competent_unit", "address_field": "subject_name"}
    assert _errors(api.post("/procedures", json=competent_without_address)) == {
        ("body", "steps", 2, "unit", "address_field")
    }

    hidden_but_required = copy.deepcopy(good)
    hidden_but_required["form"]["fields"][1]["visible_when"] = "event_type == 'death'"
    assert _errors(api.post("/procedures", json=hidden_but_required)) == {("body", "form", "fields", 1, "visible_when")}

    prefill_from_text = copy.deepcopy(good)
    prefill_from_text["form"]["fields"][1]["prefill"] = {
        "source": "population",
        "key_field": "subject_name",
        "attribute": "shoe_size",
    }
    assert _errors(api.post("/procedures", json=prefill_from_text)) == {
        ("body", "form", "fields", 1, "prefill", "key_field"),
        ("body", "form", "fields", 1, "prefill", "attribute"),
    }

    over_budget = copy.deepcopy(good)
    over_budget["steps"][2]["budget_working_days"] = 5
    assert _errors(api.post("/procedures", json=over_budget)) == {("body", "steps")}

    fee_on_unknown = copy.deepcopy(good)
    fee_on_unknown["fee"] = {"expression": "pages * 1000"}
    assert _errors(api.post("/procedures", json=fee_on_unknown)) == {("body", "fee", "expression")}

    branch_escape = copy.deepcopy(good)
    branch_escape["steps"][1] = {
        "id": "lookup",
        "kind": "parallel",
        "name": "Song song",
        "next": "approval",
        "branches": [
            {
                "id": "one",
                "name": "One",
                "steps": [{"id": "inner", "kind": "review", "name": "Inner", "role": "specialist", "next": "approval"}],
            }
        ],
    }
    assert _errors(api.post("/procedures", json=branch_escape)) == {
        ("body", "steps", 1, "branches", 0, "steps", 0, "next")
    }


def test_published_json_schema_is_current():
    published = json.loads((PROJECT_ROOT / "procedures" / "definition.schema.json").read_text())
    assert published == definition_json_schema(), "regenerate: motcua-admin schema > procedures/definition.schema.json"
