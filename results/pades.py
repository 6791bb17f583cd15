"""PDF signatures any PDF reader checks: PAdES (ETSI EN 319 142) with pyHanko, by a unit's key and certificate.

`sign_pdf` signs any PDF bytes (a result today, an official letter tomorrow) as PAdES baseline B-B: a CMS
signature (ETSI.CAdES.detached) over the whole file, with the signing-certificate attribute, embedding the
unit's certificate chain up to and including the root, so a reader (Acrobat, Okular, pdfsig…) shows who
signed and that nothing changed since; trust follows once the reader trusts the root. It is added as an
incremental update: the bytes before it are the document as rendered.

B-T (a signature timestamp from a timestamp authority) is one argument away (`timestamper`), for an
installation that has one; the development stack has none.

`check_pdf` validates the embedded signatures with pyHanko's validator, trusting only the given root.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

with warnings.catch_warnings():
    # pyHanko imports cryptography's DSA types (deprecated there), which we never use.
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*DSA.*")
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

from results.signing import UnitSigner

SIGNATURE_FIELD = "motcua-signature"


def sign_pdf(
    content: bytes,
    signer: UnitSigner,
    root: x509.Certificate,
    *,
    reason: str | None = None,
    location: str | None = None,
    field_name: str = SIGNATURE_FIELD,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """`content` signed by the unit as PAdES B-B (B-T with a `timestamper`), its chain and the root embedded."""
    chain = [c for c in signer.chain if c != root]
    pdf_signer = signers.SimpleSigner(
        signing_cert=_asn1(chain[0]),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            signer.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in [*chain[1:], root]]),
        embed_roots=True,
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        name=chain[0].subject.rfc4514_string(),
        reason=reason,
        location=location,
        # The unit stands by what it signs (the certificate's non-repudiation bit).
        signer_key_usage={"non_repudiation"},
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(content), strict=False)
    signed = signers.sign_pdf(writer, metadata, signer=pdf_signer, timestamper=timestamper)
    return signed.getvalue()


@dataclass(frozen=True)
class PdfSignatureCheck:
    """What pyHanko found of one embedded signature: `intact` (the signed bytes hash to the signed digest),
    `valid` (the signature over them holds), `trusted` (its certificate chains to the root), and whether it
    covers the whole file (nothing added after it)."""

    field_name: str
    signer_subject: str
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool
    signed_at: datetime | None
    problem: str | None

    @property
    def holds(self) -> bool:
        return self.problem is None


def has_signature(content: bytes) -> bool:
    """Whether the bytes look like a PDF carrying a signature (cheap: no parsing)."""
    return content.startswith(b"%PDF") and b"/ByteRange" in content


def check_pdf(content: bytes, root: x509.Certificate) -> list[PdfSignatureCheck]:
    """Each signature embedded in the PDF, validated against `root` alone (no fetching: nothing leaves here).

    An unreadable file or signature is reported as a check that does not hold, never raised."""
    try:
        reader = PdfFileReader(io.BytesIO(content), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # noqa: BLE001  (pyHanko raises many kinds on a damaged file)
        return [_broken("", f"the PDF cannot be read: {exc}")]
    context = ValidationContext(trust_roots=[_asn1(root)], allow_fetching=False, revocation_mode="soft-fail")
    checks = []
    for signature in embedded:
        try:
            status = validate_pdf_signature(signature, context)
        except Exception as exc:  # noqa: BLE001
            checks.append(_broken(signature.field_name, f"the signature cannot be validated: {exc}"))
            continue
        whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        problem = None
        if not status.intact:
            problem = "the PDF was altered after it was signed"
        elif not status.valid:
            problem = "the PDF's signature does not match"
        elif not status.trusted:
            problem = "the PDF's signing certificate does not chain to our root"
        elif not whole:
            problem = "the PDF was changed after it was signed"
        checks.append(
            PdfSignatureCheck(
                field_name=signature.field_name,
                signer_subject=x509.load_der_x509_certificate(status.signing_cert.dump()).subject.rfc4514_string(),
                intact=status.intact,
                valid=status.valid,
                trusted=status.trusted,
                covers_whole_file=whole,
                signed_at=status.signer_reported_dt,
                problem=problem,
            )
        )
    return checks


def _broken(field_name: str, problem: str) -> PdfSignatureCheck:
    return PdfSignatureCheck(field_name, "", False, False, False, False, None, problem)


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
