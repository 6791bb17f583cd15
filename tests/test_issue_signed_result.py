"""Issuing signed electronic results: rendered, signed by the approving leader's unit, deposited once in the
electronic result store (even through outages and lost answers), then downloadable by the citizen."""

from __future__ import annotations

import hashlib

import pytest

from tests.support import (
    APPLICANT,
    active,
    decide,
    deploy,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    wait_until,
)

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


LAND_OFFICE = "H29.22"  # a fixed unit whose leader approves, as the land registration office's does


def test_citizen_downloads_the_signed_result_as_pdf_and_html_once_returned(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    wait_for_step(api, dossier, "approval")
    # Before the result is returned there is nothing to list or download.
    assert api.get(f"/dossiers/{dossier}/results").status_code == 404
    assert api.get(f"/dossiers/{dossier}/results/extract_copy.pdf").status_code == 404
    decide(api, dossier, "approval", unit, officer_id="leader-7")
    view = wait_for_status(api, dossier, 10, finished=True)

    listed = api.get(f"/dossiers/{dossier}/results").json()
    assert [(r["document_id"], r["issuer_unit_code"], r["signer"]) for r in listed] == [
        ("extract_copy", unit, "leader-7")
    ]
    result = listed[0]
    # The dossier's results carry the result id and hash, for the citizen and the portal.
    entry = view["results"][0]
    assert (entry["result_id"], entry["sha256"]) == (result["result_id"], result["sha256"])

    pdf = api.get(result["pdf_url"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and hashlib.sha256(pdf.content).hexdigest() == result["sha256"]
    assert b"/FontFile2" in pdf.content and b"NotoSans" in pdf.content  # the Vietnamese-capable font is embedded
    assert f"motcua-result-id:{result['result_id']}".encode() in pdf.content

    html = api.get(result["html_url"])
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert hashlib.sha256(html.content).hexdigest() == result["html_sha256"]
    page = html.text
    assert APPLICANT["full_name"] in page and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in page
    assert result["result_id"] in page and "/results/verify" in page  # the verification hint is printed
    assert api.get(f"/dossiers/{dossier}/results/other.pdf").status_code == 404

    # The result store holds the same signed PDF, once.
    deposits = simulator.get("/result-store/results", params={"dossier_code": dossier}).json()
    assert [(d["result_id"], d["sha256"], d["issuer_unit"]) for d in deposits] == [
        (result["result_id"], result["sha256"], unit)
    ]
    stored = simulator.get(f"/result-store/results/{result['result_id']}/content")
    assert stored.content == pdf.content


def test_the_approving_leaders_unit_signs(api):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    definition["steps"][2]["unit"] = {"select": "fixed_unit", "unit_code": LAND_OFFICE}
    definition["steps"][2]["unit_level"] = "province"
    deploy(api, definition)
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit, officer_id="reception-1")
    decide(api, dossier, "approval", LAND_OFFICE, officer_id="director-2")
    wait_for_status(api, dossier, 10, finished=True)

    [result] = api.get(f"/dossiers/{dossier}/results").json()
    assert (result["issuer_unit_code"], result["signer"]) == (LAND_OFFICE, "director-2")
    public = api.get(f"/results/{result['result_id']}").json()
    assert f"OU={LAND_OFFICE}" in public["certificate_subject"] and public["signature_valid"] is True
    assert public["issuer_unit_name"] == "Văn phòng Đăng ký đất đai Thành phố Hồ Chí Minh"  # from the registry


def test_without_an_approval_step_the_receiving_unit_signs(api):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    definition["steps"] = [definition["steps"][0], definition["steps"][3]]
    definition["steps"][0]["next"] = "result"
    deploy(api, definition)
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit, officer_id="reception-9")
    wait_for_status(api, dossier, 10, finished=True)
    [result] = api.get(f"/dossiers/{dossier}/results").json()
    assert (result["issuer_unit_code"], result["signer"]) == (unit, "reception-9")


def test_an_outage_of_the_result_store_makes_the_dossier_wait_and_each_document_is_deposited_once(api, simulator):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    definition["results"].append({"id": "decision", "name": "Cấp bản sao trích lục", "template": "decision.html"})
    deploy(api, definition)
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    wait_for_step(api, dossier, "approval")
    # Down for a while, and then every deposit is applied but its answer lost: only the idempotency key
    # keeps the retries from depositing twice.
    simulator.put("/_sim/faults/result_store", json={"down_for_seconds": 4, "lost_answer_rate": 1.0})
    decide(api, dossier, "approval", unit)

    waiting = wait_until(
        lambda: active(v := api.get(f"/dossiers/{dossier}").json()) == {"result": "system"} and v,
        what="the dossier to wait for the result store",
    )
    assert waiting["status"] == 9 and waiting["outcome"] is None
    assert [s["system"] for s in waiting["active_steps"]] == ["result_store"]
    blocked = wait_until(
        lambda: [
            d
            for s in api.get("/operations/blocked", params={"waiting_longer_than_seconds": 0}).json()
            if s["system"] == "result_store"
            for d in s["dossiers"]
            if d["dossier_code"] == dossier
        ],
        what="the dossier listed as blocked on the result store",
    )
    assert blocked[0]["summary"].startswith("waiting for result_store since")

    view = wait_for_status(api, dossier, 10, finished=True, timeout=90)
    assert [(r["id"], r["deposited"]) for r in view["results"]] == [("extract_copy", True), ("decision", True)]
    calls = simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "result_store"}).json()
    assert calls[0]["outcome"] == "down"
    for document in ("extract_copy", "decision"):
        mine = [c for c in calls if c["body"]["document_id"] == document]
        outcomes = [c["outcome"] for c in mine]
        assert outcomes.count("applied") == 1 and outcomes[-1] == "duplicate", outcomes
        assert [c["answer_lost"] for c in mine if c["outcome"] == "applied"] == [True]
        assert {c["idempotency_key"] for c in mine} == {f"{dossier}:{document}"}
    deposits = simulator.get("/result-store/results", params={"dossier_code": dossier}).json()
    assert sorted(d["document_id"] for d in deposits) == ["decision", "extract_copy"]
    # The documents deposited are the ones the citizen downloads.
    listed = {r["document_id"]: r["sha256"] for r in api.get(f"/dossiers/{dossier}/results").json()}
    assert {d["document_id"]: d["sha256"] for d in deposits} == listed


def test_a_refusal_by_the_result_store_is_noted_and_the_result_stands(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    wait_for_step(api, dossier, "approval")
    simulator.put("/_sim/faults/result_store", json={"refuse": True})
    decide(api, dossier, "approval", unit)
    view = wait_for_status(api, dossier, 10, finished=True)
    [entry] = view["results"]
    assert entry["deposited"] is False and "refuses deposit" in entry["deposit_refusal"]
    assert "the result store refused extract_copy" in view["timeline"][-2]["summary"]
    [result] = api.get(f"/dossiers/{dossier}/results").json()
    assert result["deposited"] is False
    assert api.get(result["pdf_url"]).content.startswith(b"%PDF")
