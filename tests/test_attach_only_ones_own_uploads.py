"""An upload belongs to its uploader until it is attached to their dossier, then to that dossier's readers: a dossier
cites only files its submitter uploaded (the claim the upload answered), and a file opens only through a dossier
that cites it so."""

from __future__ import annotations

import hashlib

import httpx

from tests.support import VALID_FORM, deploy, officer, three_step_procedure, unique_codes

PDF = b"%PDF-1.4\n% a citizen's own scan " + hashlib.sha256(b"victim").hexdigest().encode() + b"\n%%EOF\n"
OTHER_PDF = b"%PDF-1.4\n% someone else's scan\n%%EOF\n"


def _procedure_with_a_scan(code: str, unit: str) -> dict:
    definition = three_step_procedure(code, unit)
    definition["form"]["fields"].append({"name": "scan", "label": "Bản chụp", "type": "attachment", "required": False})
    return definition


def _upload(client: httpx.Client, content: bytes, name: str = "scan.pdf") -> dict:
    response = client.post("/attachments", files={"file": (name, content, "application/pdf")})
    assert response.status_code == 201, response.text
    return response.json()


def _submit(client: httpx.Client, code: str, scan: dict) -> httpx.Response:
    body = {"procedure_code": code, "applicant": {"full_name": "Nguyễn Văn A"}, "form": {**VALID_FORM, "scan": scan}}
    return client.post("/dossiers", json=body)


def test_a_dossier_cites_only_uploads_of_its_own_and_files_open_only_through_it(api, stack):
    code, unit = unique_codes()
    deploy(api, _procedure_with_a_scan(code, unit))
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as victim, \
            httpx.Client(base_url=stack.config.api_url, timeout=30) as attacker:  # fmt: skip
        mine = _upload(victim, PDF)
        assert mine["claim"]  # what proves, at submission, that the submitter uploaded it
        receipt = _submit(victim, code, mine)
        assert receipt.status_code == 201, receipt.text
        dossier, secret = receipt.json()["dossier_code"], receipt.json()["lookup_secret"]
        path = f"/dossiers/{dossier}/attachments/{mine['sha256']}"
        assert victim.get(path, headers={"X-Lookup-Secret": secret}).content == PDF
        assert victim.get(path, headers=officer("reception", unit)).content == PDF
        # The claim stays with the upload: the dossier keeps the file's description, not the claim.
        assert mine["claim"] not in victim.get(f"/officer/dossiers/{dossier}", headers=officer("reception", unit)).text

        # Someone who learnt the file's hash cites it: without the uploader's claim, or with a forged one, refused.
        stolen = {k: v for k, v in mine.items() if k != "claim"}
        for scan in (stolen, {**stolen, "claim": "0" * 32}, {**mine, "claim": _upload(attacker, OTHER_PDF)["claim"]}):
            refused = _submit(attacker, code, scan)
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == ["body", "form", "scan"]
        # Nor as a supplement to a dossier of their own.
        own = _submit(attacker, code, _upload(attacker, OTHER_PDF)).json()
        supplemented = attacker.post(
            f"/dossiers/{own['dossier_code']}/supplements",
            json={"form": {"scan": stolen}},
            headers={"X-Lookup-Secret": own["lookup_secret"]},
        )
        assert supplemented.status_code == 422 and supplemented.json()["detail"][0]["loc"] == ["body", "form", "scan"]
        cited = f"/dossiers/{own['dossier_code']}/attachments/{mine['sha256']}"
        assert attacker.get(cited, headers={"X-Lookup-Secret": own["lookup_secret"]}).status_code == 404
        # And no file opens by its hash alone.
        assert attacker.get(f"/attachments/{mine['sha256']}").status_code in (404, 405)

        # Whoever holds the same bytes proves it by uploading them: that is no leak.
        again = _upload(attacker, PDF, "my-copy.pdf")
        assert _submit(attacker, code, again).status_code == 201
