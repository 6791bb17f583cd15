"""Administrators validate, compare, picture and retire procedures, over HTTP and from the command line."""

from __future__ import annotations

import copy
import subprocess
import sys
import xml.etree.ElementTree as ET

import yaml

from devstack.stack import administrator_token
from infrastructure.settings import PROJECT_ROOT
from tests.support import (
    APPLICANT,
    VALID_FORM,
    citizen,
    decide,
    deploy,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
)

BIRTH = PROJECT_ROOT / "procedures" / "3.000722-birth-residence-health-insurance.yaml"


def test_validate_without_deploying(api):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    answer = api.post("/procedures/validate", json=definition)
    assert answer.status_code == 200 and answer.json()["valid"]
    assert api.get(f"/procedures/{code}").status_code == 404
    broken = copy.deepcopy(definition)
    broken["steps"][0]["skip_when"] = "nonexistent == 1"
    refused = api.post("/procedures/validate", json=broken)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "steps", 0, "skip_when"]
    schema = api.get("/procedures/schema").json()
    assert "steps" in schema["properties"] and "Step" in schema["$defs"]


def test_retired_procedure_takes_no_new_dossier_but_running_ones_finish(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    running = submit(api, code)["dossier_code"]
    assert api.post(f"/procedures/{code}/retire").status_code == 200
    assert api.get("/procedures").json() and api.get(f"/procedures/{code}").json()["retired_at"]
    refused = api.post("/dossiers", json={"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM})
    assert refused.status_code == 409

    decide(api, running, "reception", unit)
    decide(api, running, "approval", unit)
    wait_for_status(api, running, 10, finished=True)

    # Deploying it again puts it back in service.
    assert api.post("/procedures", json=three_step_procedure(code, unit)).status_code == 200
    assert submit(api, code)["procedure_version"] == 1


def test_diff_between_versions(api):
    code, unit = unique_codes()
    v1 = three_step_procedure(code, unit)
    deploy(api, v1)
    v2 = copy.deepcopy(v1)
    v2["time_limit_working_days"] = 4
    deploy(api, v2)
    diff = api.get(f"/procedures/{code}/diff", params={"from_version": 1, "to_version": 2}).json()["diff"]
    assert "-time_limit_working_days: 3" in diff and "+time_limit_working_days: 4" in diff
    assert api.get(f"/procedures/{code}/diff", params={"from_version": 1, "to_version": 9}).status_code == 404


def test_step_graph_as_mermaid_and_svg(api, shipped):
    mermaid = api.get("/procedures/3.000722/graph").json()["mermaid"]
    assert mermaid.startswith("flowchart TD")
    assert "subgraph residence" in mermaid and "subgraph insurance" in mermaid
    assert "after_birth --> residence_registration" in mermaid and "after_birth --> insurance_card_issuance" in mermaid
    # A child step names the procedure the other agency runs, and where.
    assert "dossier 1.004222 at H29.CA" in mermaid and "dossier 1.001779 at H29.BHXH" in mermaid
    land = api.get("/procedures/1.012783/graph").json()["mermaid"]
    assert 'leader_approval -. "return" .-> records_check' in land
    assert "skip when reason != 'remeasured'" in land

    response = api.get("/procedures/3.000722/graph.svg")
    assert response.headers["content-type"].startswith("image/svg+xml")
    picture = ET.fromstring(response.text)
    steps = [g for g in picture.iter("{http://www.w3.org/2000/svg}g") if (g.get("id") or "").startswith("step_")]
    definition = yaml.safe_load(BIRTH.read_text())
    branch_steps = sum(len(b["steps"]) for s in definition["steps"] for b in s.get("branches", []))
    assert len(steps) == len(definition["steps"]) + branch_steps  # one box a step (tests/test_see_the_step_graph.py)


def test_eform_rendered_as_html(api, shipped):
    html = api.get("/procedures/3.000722/form.html").text
    assert 'name="mother_id"' in html and 'pattern="\\d{12}"' in html
    assert 'data-required-when="father_id != null"' in html
    assert 'data-prefill-key="mother_id"' in html
    assert 'accept="application/pdf,image/jpeg,image/png"' in html
    assert 'name="residence_address.ward_code"' in html
    assert "<abbr" in html  # required fields are marked


def test_prefill_from_the_population_database(api, shipped):
    # At the counter a reception officer looks up both parents.
    counter = officer("reception", "H29.50.05.13")
    answer = api.post(
        "/procedures/3.000722/prefill",
        json={"values": {"mother_id": "079190000001", "father_id": "999000000000"}},
        headers=counter,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["values"]["mother_name"] and body["sources"] == {"mother_name": "population"}
    assert body["not_found"] == ["father_id"]
    bad = api.post("/procedures/3.000722/prefill", json={"values": {"mother_id": "12"}}, headers=counter)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "values", "mother_id"]

    # Online, a signed-in citizen reuses their own data only; nobody else's, and not without signing in.
    mother = citizen("079190000001")
    own = api.post("/procedures/3.000722/prefill", json={"values": {"mother_id": "079190000001"}}, headers=mother)
    assert own.status_code == 200 and own.json()["values"]["mother_name"]
    someone_else = {"values": {"mother_id": "079190000001", "father_id": "079188000002"}}
    assert api.post("/procedures/3.000722/prefill", json=someone_else, headers=mother).status_code == 403
    assert api.post("/procedures/3.000722/prefill", json=someone_else).status_code == 401


def _admin(stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "api.admin_cli",
            "--token",
            administrator_token(stack.config),
            *args,
            "--api-url",
            stack.config.api_url,
        ]
        if args[0] != "validate"
        else [sys.executable, "-m", "api.admin_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )


def test_command_line_for_administrators(api, stack, tmp_path):
    code, unit = unique_codes()
    path = tmp_path / "procedure.yaml"
    path.write_text(yaml.safe_dump(three_step_procedure(code, unit), allow_unicode=True))

    assert _admin(stack, "validate", str(path)).returncode == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text(path.read_text().replace("next: approval", "next: nowhere"))
    refused = _admin(stack, "validate", str(broken))
    assert refused.returncode == 1 and "steps.1.next" in refused.stderr

    deployed = _admin(stack, "deploy", str(path))
    assert deployed.returncode == 0 and f"{code} deployed as v1" in deployed.stdout
    assert f"{code} unchanged at v1" in _admin(stack, "deploy", str(path)).stdout
    assert code in _admin(stack, "list").stdout
    assert "time_limit_working_days: 3" in _admin(stack, "show", code).stdout
    assert "flowchart TD" in _admin(stack, "graph", code).stdout
    assert _admin(stack, "retire", code).returncode == 0
    assert "(retired)" in _admin(stack, "list").stdout
    missing = _admin(stack, "show", "9.999998")
    assert missing.returncode == 1 and "no procedure" in missing.stderr
    report = _admin(stack, "reconcile", "--updated-within-hours", "1")
    assert report.stdout.startswith("checked ") and report.returncode in (0, 1)
