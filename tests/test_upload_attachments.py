"""Attachments: uploaded once, checked (size, media type, what the bytes are), kept by content hash, and
opened only by those who may see a dossier that names them."""

from __future__ import annotations

import hashlib

import httpx

from tests.support import VALID_FORM, deploy, officer, submit, three_step_procedure, unique_codes

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _procedure_with_a_scan(code: str, unit: str) -> dict:
    definition = three_step_procedure(code, unit)
    definition["components"] = [
        {"id": "scan", "name": "Bản chụp", "accepted_types": ["application/pdf"], "max_size_mb": 1}
    ]
    definition["form"]["fields"].append(
        {"name": "scan", "label": "Bản chụp", "type": "attachment", "component": "scan"}
    )
    return definition


def test_an_upload_answers_the_descriptor_and_keeps_the_file_once(api, stack):
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as anyone:
        first = anyone.post("/attachments", files={"file": ("giấy tờ/../đơn.pdf", PDF, "application/pdf")})
        assert first.status_code == 201, first.text
        descriptor = first.json()
        claim = descriptor.pop("claim")  # cited with the file, it proves the submitter uploaded it
        assert descriptor == {
            "name": "đơn.pdf", "media_type": "application/pdf", "size_bytes": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
        }  # fmt: skip
        again = anyone.post("/attachments", files={"file": ("copy.pdf", PDF, "application/pdf")})
        assert again.json()["sha256"] == descriptor["sha256"] and again.json()["claim"] == claim
        stored = list((stack.config.data_dir / "attachments").rglob(descriptor["sha256"]))
        assert len(stored) == 1 and stored[0].read_bytes() == PDF
        # A type guessed from the name when the browser says nothing precise.
        guessed = anyone.post("/attachments", files={"file": ("scan.png", PNG, "application/octet-stream")})
        assert guessed.status_code == 201 and guessed.json()["media_type"] == "image/png"


def test_an_upload_is_refused_when_too_large_of_another_type_or_not_what_it_says(stack):
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as anyone:
        too_large = anyone.post(
            "/attachments", files={"file": ("big.pdf", b"%PDF-" + b"0" * (11 * 1024 * 1024), "application/pdf")}
        )
        assert too_large.status_code == 413
        other_type = anyone.post(
            "/attachments", files={"file": ("page.html", b"<script>alert(1)</script>", "text/html")}
        )
        assert other_type.status_code == 415
        disguised = anyone.post(
            "/attachments", files={"file": ("scan.pdf", b"<html>not a pdf</html>", "application/pdf")}
        )
        assert disguised.status_code == 422 and "not application/pdf" in disguised.json()["detail"][0]["msg"]
        assert disguised.json()["detail"][0]["loc"] == ["body", "file"]
        empty = anyone.post("/attachments", files={"file": ("empty.pdf", b"", "application/pdf")})
        assert empty.status_code == 422
        assert anyone.post("/attachments", data={"nothing": "here"}).status_code == 422


def test_the_files_of_a_dossier_open_for_those_who_may_see_it(api, stack):
    code, unit = unique_codes()
    deploy(api, _procedure_with_a_scan(code, unit))
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as anyone:
        descriptor = anyone.post("/attachments", files={"file": ("scan.pdf", PDF, "application/pdf")}).json()
        other = anyone.post("/attachments", files={"file": ("other.png", PNG, "image/png")}).json()
        receipt = submit(api, code, {**VALID_FORM, "scan": descriptor})
        dossier, secret = receipt["dossier_code"], receipt["lookup_secret"]
        path = f"/dossiers/{dossier}/attachments/{descriptor['sha256']}"

        opened = anyone.get(path, headers={"X-Lookup-Secret": secret})
        assert opened.status_code == 200 and opened.content == PDF
        assert opened.headers["content-type"] == "application/pdf"
        assert opened.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in opened.headers["content-security-policy"]
        assert anyone.get(path, headers=officer("reception", unit)).status_code == 200
        # Nobody else, and no file the dossier does not name (even one that was uploaded).
        assert anyone.get(path).status_code == 401
        assert anyone.get(path, headers=officer("reception", "T9998.00.00")).status_code == 404
        assert anyone.get(path, headers={"X-Lookup-Secret": "AAAAAAAAAA"}).status_code == 404
        elsewhere = f"/dossiers/{dossier}/attachments/{other['sha256']}"
        assert anyone.get(elsewhere, headers={"X-Lookup-Secret": secret}).status_code == 404
        assert (
            anyone.get(f"/dossiers/{dossier}/attachments/not-a-hash", headers={"X-Lookup-Secret": secret}).status_code
            == 422
        )

    # The eForm still judges the file against its component: another media type is refused at submission.
    wrong = api.post("/dossiers", json={"procedure_code": code, "applicant": {"full_name": "A"},
                                        "form": {**VALID_FORM, "scan": other}})  # fmt: skip
    assert wrong.status_code == 422 and "is not accepted" in wrong.text
