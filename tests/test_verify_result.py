"""Anyone verifies a result document with the file in hand: valid, tampered or unknown; the public metadata
of a result id shows nothing personal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session

from readmodel.db import engine_for
from readmodel.tables import IssuedResultRow
from results.issuing import manifest
from results.signing import SigningAuthority
from tests.support import APPLICANT, approved_dossier


@pytest.fixture(scope="module")
def issued(api: httpx.Client) -> dict[str, Any]:
    """A returned dossier's result, with its PDF and HTML as the citizen downloaded them."""
    dossier, unit = approved_dossier(api)
    [result] = api.get(f"/dossiers/{dossier}/results").json()
    return {
        **result,
        "unit": unit,
        "pdf": api.get(result["pdf_url"]).content,
        "html": api.get(result["html_url"]).content,
    }


def _verify(api: httpx.Client, content: bytes, name: str = "document.pdf", **form: str) -> httpx.Response:
    return api.post("/results/verify", files={"file": (name, content)}, data=form)


def _one_byte_changed(content: bytes, at: float = 0.5) -> bytes:
    i = int(len(content) * at)
    return content[:i] + bytes([content[i] ^ 0x01]) + content[i + 1 :]


def test_the_original_pdf_and_html_are_valid(api, issued):
    for content, kind in ((issued["pdf"], "PDF"), (issued["html"], "HTML")):
        answer = _verify(api, content)
        assert answer.status_code == 200, answer.text
        verdict = answer.json()
        assert (verdict["verdict"], verdict["result_id"]) == ("valid", issued["result_id"])
        assert verdict["issuer_unit_code"] == issued["unit"] and kind in verdict["reason"]
    # Naming the right result id changes nothing.
    assert _verify(api, issued["pdf"], result_id=issued["result_id"]).json()["verdict"] == "valid"


def test_a_one_byte_change_is_tampered(api, issued):
    for content in (issued["pdf"], issued["html"]):
        changed = _one_byte_changed(content)
        # The altered file still names its result id (printed in it), so the verdict needs no id given…
        verdict = _verify(api, changed).json()
        assert (verdict["verdict"], verdict["result_id"]) == ("tampered", issued["result_id"]), verdict
        # …and with the id given, too.
        assert _verify(api, changed, result_id=issued["result_id"]).json()["verdict"] == "tampered"


def test_a_document_presented_as_another_result_is_tampered(api, issued):
    other = "KQ-" + "A" * 16
    verdict = _verify(api, issued["pdf"], result_id=other).json()
    assert verdict["verdict"] == "tampered" and other in verdict["reason"]


def test_an_unrelated_file_is_unknown(api, issued):
    verdict = _verify(api, b"%PDF-1.4\n% a file motcua never issued\n%%EOF\n").json()
    assert verdict == {**verdict, "verdict": "unknown", "result_id": None}
    # A result id nobody issued, with a file nobody issued: unknown as well.
    assert _verify(api, b"hello", result_id="KQ-" + "B" * 16).json()["verdict"] == "unknown"


def test_a_stored_result_whose_signature_fails_is_tampered(api, issued, stack, tmp_path):
    """Someone with write access to the database re-signs a result under a certificate of their own making:
    the signature verifies against their certificate, but that certificate does not chain to our root."""
    engine = engine_for(stack.config.sqlalchemy_url)
    with Session(engine) as session:
        row = session.get(IssuedResultRow, issued["result_id"])
        assert row is not None
        original = (row.signature, row.certificate_chain_pem)
        impostor = SigningAuthority(tmp_path / "impostor", generate=True).signer(issued["unit"])
        forged = impostor.sign(manifest(row))
    try:
        _store_signature(engine, issued["result_id"], forged, impostor.chain_pem)
        verdict = _verify(api, issued["pdf"]).json()
        assert verdict["verdict"] == "tampered" and "not issued by" in verdict["reason"], verdict
        assert api.get(f"/results/{issued['result_id']}").json()["signature_valid"] is False
        # A signature that does not match the manifest at all.
        _store_signature(engine, issued["result_id"], original[0][::-1], original[1])
        assert _verify(api, issued["pdf"]).json()["verdict"] == "tampered"
    finally:
        _store_signature(engine, issued["result_id"], *original)
    assert _verify(api, issued["pdf"]).json()["verdict"] == "valid"


def _store_signature(engine, result_id: str, signature: str, chain_pem: str) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        session.execute(
            update(IssuedResultRow)
            .where(IssuedResultRow.id == result_id)  # type: ignore[arg-type]
            .values(signature=signature, certificate_chain_pem=chain_pem)
        )
        session.commit()


def test_public_metadata_of_a_result_shows_nothing_personal(api, issued):
    answer = api.get(f"/results/{issued['result_id']}")
    assert answer.status_code == 200
    public = answer.json()
    assert public["sha256"] == issued["sha256"] and public["issuer_unit_code"] == issued["unit"]
    assert public["signature_valid"] is True and f"OU={issued['unit']}" in public["certificate_subject"]
    assert datetime.fromisoformat(public["issued_at"]) <= datetime.now(UTC)
    for personal in (issued["dossier_code"], APPLICANT["full_name"], APPLICANT["citizen_id"], issued["signer"]):
        assert personal not in answer.text
    assert api.get("/results/KQ-" + "C" * 16).status_code == 404
    assert api.get("/results/not-a-result-id").status_code == 422


def test_bad_verification_requests_are_refused_with_their_field(api, issued):
    missing = api.post("/results/verify", data={"result_id": issued["result_id"]})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "file"]
    bad_id = _verify(api, issued["pdf"], result_id="KQ-lowercase")
    assert bad_id.status_code == 422 and bad_id.json()["detail"][0]["loc"] == ["body", "result_id"]
    too_large = _verify(api, b"0" * (10 * 1024 * 1024 + 1))
    assert too_large.status_code == 413
    assert api.post("/results/verify", content=b"not a form", headers={"Content-Type": "text/plain"}).status_code == 422
