"""A citizen hands the result PDF to a bank or a court: its PAdES signature, by the issuing unit under the
installation's root, is checked by any PDF reader (pyHanko's validator on its own, Poppler's pdfsig), a byte
changed inside what was signed breaks it, and motcua's verify endpoint says the same. HTML renderings and the
results issued before PDFs were signed verify by their signed manifest, as they always did."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import warnings
from typing import Any

import httpx
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from sqlmodel import Session

from infrastructure.settings import Settings
from readmodel.db import engine_for
from readmodel.tables import IssuedResultRow
from results.issuing import manifest, new_result_id
from results.signing import SigningAuthority
from tests.support import approved_dossier

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pyHanko imports cryptography's deprecated DSA types
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext


@pytest.fixture(scope="module")
def authority(stack) -> SigningAuthority:  # type: ignore[no-untyped-def]
    """The installation's signing keys, as the worker and the API read them."""
    return SigningAuthority.from_settings(Settings(data_dir=stack.config.data_dir))


@pytest.fixture(scope="module")
def issued(api: httpx.Client) -> dict[str, Any]:
    dossier, unit = approved_dossier(api)
    [result] = api.get(f"/dossiers/{dossier}/results").json()
    return {
        **result,
        "unit": unit,
        "pdf": api.get(result["pdf_url"]).content,
        "html": api.get(result["html_url"]).content,
        "certificate_subject": api.get(f"/results/{result['result_id']}").json()["certificate_subject"],
    }


def _validate(content: bytes, authority: SigningAuthority):  # type: ignore[no-untyped-def]
    """pyHanko on its own, trusting the installation's root and nothing else."""
    root = asn1_x509.Certificate.load(authority.root().public_bytes(serialization.Encoding.DER))
    reader = PdfFileReader(io.BytesIO(content))
    [signature] = reader.embedded_signatures
    context = ValidationContext(trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail")
    return signature, validate_pdf_signature(signature, context)


def _flipped_inside_the_signed_range(content: bytes) -> bytes:
    """One byte changed inside the first signed range, in the document's keywords (the file still parses)."""
    start, length = (int(n) for n in re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", content).groups())  # type: ignore[union-attr]
    at = content.index(b"motcua-result-id:") + 1
    assert start <= at < start + length
    return content[:at] + bytes([content[at] ^ 0x01]) + content[at + 1 :]


def _verify(api: httpx.Client, content: bytes, name: str, **form: str) -> dict[str, Any]:
    answer = api.post("/results/verify", files={"file": (name, content)}, data=form)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_issued_pdf_carries_a_pades_signature_of_the_unit_chaining_to_the_root(issued, authority):
    signature, status = _validate(issued["pdf"], authority)
    assert (status.intact, status.valid, status.trusted) == (True, True, True), status.pretty_print_details()
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE  # nothing added after the signature
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES, not the older adbe.pkcs7
    signer = status.signing_cert
    assert f"OU={issued['unit']}" in issued["certificate_subject"]
    unit_certificate = authority.signer(issued["unit"]).certificate
    assert signer.dump() == unit_certificate.public_bytes(serialization.Encoding.DER)
    # The chain travels with the signature: the unit's certificate and the root that issued it.
    embedded = {c.chosen.subject.human_friendly for c in signature.signed_data["certificates"]}
    assert {signer.subject.human_friendly, signer.issuer.human_friendly} <= embedded
    assert [c.subject.human_friendly for c in status.validation_path] == [
        signer.issuer.human_friendly,
        signer.subject.human_friendly,
    ]
    # The signature is PAdES-B-B's: the signing-certificate attribute binds the certificate into what is signed.
    attributes = {a["type"].native for a in signature.signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in attributes


def test_a_byte_changed_inside_the_signed_range_breaks_the_signature(api, issued, authority):
    changed = _flipped_inside_the_signed_range(issued["pdf"])
    _, status = _validate(changed, authority)
    assert status.intact is False and status.bottom_line is False

    verdict = _verify(api, changed, "altered.pdf")
    assert (verdict["verdict"], verdict["result_id"]) == ("tampered", issued["result_id"]), verdict
    assert verdict["pdf_signature"]["intact"] is False and "altered after it was signed" in verdict["reason"]


def test_the_verify_endpoint_checks_the_embedded_signature_of_the_genuine_pdf(api, issued):
    verdict = _verify(api, issued["pdf"], "result.pdf")
    assert (verdict["verdict"], verdict["result_id"]) == ("valid", issued["result_id"]), verdict
    assert verdict["pdf_signature"] == {
        **verdict["pdf_signature"],
        "signer_subject": issued["certificate_subject"],
        "intact": True,
        "valid": True,
        "trusted": True,
        "covers_whole_file": True,
    }


def test_the_html_rendering_still_verifies_by_its_signed_manifest(api, issued):
    verdict = _verify(api, issued["html"], "result.html")
    assert (verdict["verdict"], verdict["result_id"]) == ("valid", issued["result_id"]), verdict
    assert "HTML" in verdict["reason"] and verdict["pdf_signature"] is None
    changed = issued["html"].replace(b"</body>", b"<p>x</p></body>")
    assert _verify(api, changed, "result.html")["verdict"] == "tampered"


def test_a_result_issued_before_pdfs_were_signed_verifies_as_before(api, issued, authority, stack):
    """A result stored before this change: an unsigned PDF, vouched for by the unit's signed manifest only."""
    engine = engine_for(stack.config.sqlalchemy_url)
    with Session(engine) as session:
        current = session.get(IssuedResultRow, issued["result_id"])
        assert current is not None
        session.expunge(current)
    rendered = issued["pdf"][: issued["pdf"].index(b"%%EOF") + len(b"%%EOF")]  # the document before signing
    assert b"/ByteRange" not in rendered
    html = current.html + b"<!-- issued before -->"
    legacy = IssuedResultRow(
        **{
            **current.model_dump(),
            "id": new_result_id(),
            "document_id": "issued_before",
            "pdf": rendered,
            "html": html,
            "sha256": hashlib.sha256(rendered).hexdigest(),
            "html_sha256": hashlib.sha256(html).hexdigest(),
        }
    )
    signer = authority.signer(issued["unit"])
    legacy.manifest = manifest(legacy).decode()
    legacy.signature = signer.sign(legacy.manifest.encode())
    legacy_id = legacy.id
    with Session(engine) as session:
        session.add(legacy)
        session.commit()

    verdict = _verify(api, rendered, "old.pdf")
    assert (verdict["verdict"], verdict["result_id"]) == ("valid", legacy_id), verdict
    assert verdict["pdf_signature"] is None
    assert _verify(api, html, "old.html")["verdict"] == "valid"
    assert api.get(f"/results/{legacy_id}").json()["signature_valid"] is True
    altered = rendered[:100] + bytes([rendered[100] ^ 0x01]) + rendered[101:]
    assert _verify(api, altered, "old.pdf", result_id=legacy_id)["verdict"] == "tampered"


def test_pdfsig_a_pdf_readers_verifier_finds_the_signature_valid(issued, tmp_path):
    pdfsig = shutil.which("pdfsig")
    if pdfsig is None:
        pytest.skip("Poppler's pdfsig is not installed (`make pdfsig` installs Debian's poppler-utils)")
    document = tmp_path / "result.pdf"
    document.write_bytes(issued["pdf"])
    report = subprocess.run([pdfsig, str(document)], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Total document signed" in report and "ETSI.CAdES.detached" in report
    assert f"OU={issued['unit']}" in report  # who signed, as the reader shows it
    # The root is the installation's own, so the reader's trust in it is not asked here.

    altered = tmp_path / "altered.pdf"
    altered.write_bytes(_flipped_inside_the_signed_range(issued["pdf"]))
    report = subprocess.run([pdfsig, str(altered)], capture_output=True, text=True, timeout=60).stdout
    assert "Signature Validation: Signature is Valid." not in report, report
