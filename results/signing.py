"""Digital signatures of results: one key per unit, each unit's certificate issued by a root CA.

A result is signed by the unit whose leader approved it. The signature covers a small manifest (the
result id, the issuing unit, the signer, the issue time and the SHA-256 of the PDF and HTML renderings),
so neither the documents nor what is said about them can change unnoticed.
The PDF also carries the unit's PAdES signature by the same key, which PDF readers check (results.pades).

Keys and certificates are files. Operators provision them (`units/<agency code>.pem`: the unit's private
key followed by its certificate chain; `root-ca.pem`: the trust anchor). In development and tests they
are generated on first use; every file is published complete and only once (written aside, then
hard-linked into place), so processes starting together agree on one root and one key per unit.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from infrastructure.atomic_files import publish_once

if TYPE_CHECKING:
    from infrastructure.settings import Settings

log = logging.getLogger(__name__)

UNIT_CODE = re.compile(r"^[A-Z0-9]{1,10}(\.[A-Z0-9]{1,10}){0,6}$")
ROOT_NAME = "motcua Root CA (development)"
SignedKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class SigningUnavailable(Exception):
    """Retryable: a unit's key or the root is missing and may not be generated here (an operator provisions it)."""


@dataclass(frozen=True)
class UnitSigner:
    unit_code: str
    key: SignedKey
    chain: list[x509.Certificate]  # the unit's certificate first, then any intermediates (never the root)

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def algorithm(self) -> str:
        return "ecdsa-sha256" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "rsa-pkcs1v15-sha256"

    @property
    def chain_pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain)

    def sign(self, data: bytes) -> str:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        else:
            signature = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


class SigningAuthority:
    def __init__(
        self,
        folder: Path,
        *,
        root_certificate: Path | None = None,
        root_key: Path | None = None,
        generate: bool = False,
        passphrase: str | None = None,
    ) -> None:
        self._folder = folder
        self._root_certificate_path = root_certificate or folder / "root-ca.pem"
        self._root_key_path = root_key or folder / "root-ca.key.pem"
        self._generate = generate
        self._passphrase = passphrase.encode() if passphrase else None
        self._lock = threading.Lock()
        self._root: x509.Certificate | None = None
        self._signers: dict[str, UnitSigner] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> SigningAuthority:
        return cls(
            settings.signing_folder,
            root_certificate=settings.signing_root_certificate,
            root_key=settings.signing_root_key,
            generate=settings.generates_signing_keys,
            passphrase=settings.signing_key_passphrase.get_secret_value() if settings.signing_key_passphrase else None,
        )

    # ------------------------------------------------------------------------------ keys

    def root(self) -> x509.Certificate:
        """The trust anchor every unit certificate must chain to."""
        with self._lock:
            if self._root is None:
                if not self._root_certificate_path.exists():
                    if not self._generate:
                        raise SigningUnavailable(f"no root certificate at {self._root_certificate_path}")
                    self._ensure_generated_root()
                self._root = x509.load_pem_x509_certificate(self._root_certificate_path.read_bytes())
            return self._root

    def signer(self, unit_code: str, unit_name: str | None = None) -> UnitSigner:
        """The unit's key and certificate chain, generated (and certified by the root) on first use where allowed."""
        if not UNIT_CODE.match(unit_code):
            raise ValueError(f"not an agency code: {unit_code!r}")
        root = self._root_checked()
        with self._lock:
            cached = self._signers.get(unit_code)
            if cached is not None and cached.certificate.not_valid_after_utc <= datetime.now(UTC):
                del self._signers[
                    unit_code
                ]  # expired while we ran: read the file again, an operator may have renewed it
            if unit_code not in self._signers:
                path = self._folder / "units" / f"{unit_code}.pem"
                if not path.exists():
                    if not self._generate:
                        raise SigningUnavailable(f"no signing key for unit {unit_code} at {path}")
                    publish_once(path, self._new_unit_bundle(unit_code, unit_name or unit_code, root))
                key, chain = self._load_bundle(path.read_bytes())
                if not chain:
                    raise SigningUnavailable(f"{path} holds no certificate")
                problem = verify_chain(chain, root, datetime.now(UTC))
                if problem:
                    raise SigningUnavailable(f"the certificate of {unit_code} does not chain to the root: {problem}")
                self._signers[unit_code] = UnitSigner(unit_code, key, chain)
            return self._signers[unit_code]

    def _root_checked(self) -> x509.Certificate:
        root = self.root()
        if root.not_valid_after_utc <= datetime.now(UTC):
            raise SigningUnavailable(f"the root certificate {root.subject.rfc4514_string()} has expired")
        return root

    def verify(self, data: bytes, signature_b64: str, chain_pem: str, at: datetime) -> str | None:
        """None when the signature over `data` is good and its certificate chains to our root; else why not."""
        try:
            chain = x509.load_pem_x509_certificates(chain_pem.encode())
            signature = base64.b64decode(signature_b64, validate=True)
        except ValueError as exc:
            return f"unreadable signature or certificate: {exc}"
        public_key = chain[0].public_key()
        try:
            if isinstance(public_key, ec.EllipticCurvePublicKey):
                public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            elif isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                return "unsupported key type"
        except InvalidSignature:
            return "the signature does not match"
        return verify_chain(chain, self.root(), at)

    # --------------------------------------------------------------------------- helpers

    def _ensure_generated_root(self) -> None:
        if not self._root_key_path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "motcua"),
                    x509.NameAttribute(NameOID.COMMON_NAME, ROOT_NAME),
                ]
            )
            now = datetime.now(UTC)
            certificate = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256())
            )
            publish_once(self._root_key_path, self._key_pem(key) + _pem(certificate))
        # Whichever process won, the anchor is derived from the one root bundle.
        _, chain = self._load_bundle(self._root_key_path.read_bytes())
        if not chain:
            raise SigningUnavailable(f"{self._root_key_path} holds no root certificate")
        publish_once(self._root_certificate_path, _pem(chain[0]), mode=0o644)

    def _new_unit_bundle(self, unit_code: str, unit_name: str, root: x509.Certificate) -> bytes:
        if not self._root_key_path.exists():
            raise SigningUnavailable(f"no root key at {self._root_key_path} to certify unit {unit_code}")
        root_key, _ = self._load_bundle(self._root_key_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name[:64]),
                        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit_code),
                        x509.NameAttribute(NameOID.COMMON_NAME, f"{unit_code} result signing"),
                    ]
                )
            )
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_signing_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
            .sign(root_key, hashes.SHA256())
        )
        log.info("generated the signing key and certificate of unit %s", unit_code)
        return self._key_pem(key) + _pem(certificate)

    def _key_pem(self, key: SignedKey) -> bytes:
        encryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase
            else serialization.NoEncryption()
        )
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def _load_bundle(self, content: bytes) -> tuple[SignedKey, list[x509.Certificate]]:
        match = re.search(
            rb"-----BEGIN (?:ENCRYPTED |EC |RSA )?PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", content, re.S
        )
        if match is None:
            raise SigningUnavailable("a signing bundle holds no private key")
        key = serialization.load_pem_private_key(match.group(0), password=self._passphrase)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SigningUnavailable("signing keys are ECDSA or RSA keys")
        certificates = x509.load_pem_x509_certificates(content) if b"CERTIFICATE" in content else []
        return key, certificates


def verify_chain(chain: list[x509.Certificate], root: x509.Certificate, at: datetime) -> str | None:
    """None when each certificate was issued by the next and the last by `root`, all valid at `at`."""
    if not chain:
        return "no certificate"
    path = list(chain)
    if path[-1] != root:
        path.append(root)
    for subject, issuer in zip(path, path[1:], strict=False):
        try:
            subject.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            return f"{subject.subject.rfc4514_string()} was not issued by {issuer.subject.rfc4514_string()}"
        try:
            constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            return f"{issuer.subject.rfc4514_string()} is not a certification authority"
        if not constraints.ca:
            return f"{issuer.subject.rfc4514_string()} is not a certification authority"
    for certificate in path:
        if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
            return f"{certificate.subject.rfc4514_string()} was not valid at {at.isoformat()}"
    return None


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _signing_key_usage() -> x509.KeyUsage:
    # content_commitment (non-repudiation): the unit stands by what it signs.
    return x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )  # fmt: skip
