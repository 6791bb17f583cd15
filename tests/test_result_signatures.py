"""Unit keys and their certificates: generated once however many processes start together, provisioned by
operators in production, and checked against the configured root; documents rendered with Vietnamese text."""

from __future__ import annotations

import io
import json
import multiprocessing
import re
import subprocess
import sys
import time
import zlib
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fontTools.ttLib import TTFont

from infrastructure.settings import PROJECT_ROOT
from results.render import ResultRenderer
from results.signing import SigningAuthority, SigningUnavailable

UNIT = "H29.50.05.13"

_SIGN_AT = """
import hashlib, json, sys, time
from pathlib import Path
from results.signing import SigningAuthority
folder, start = Path(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    pass
signer = SigningAuthority(folder, generate=True).signer("H29.50.05.13")
print(json.dumps({"root": (folder / "root-ca.pem").read_text(), "unit": signer.chain_pem}))
"""


def test_processes_starting_together_agree_on_one_root_and_one_key_per_unit(tmp_path):
    start = time.time() + 2.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _SIGN_AT, str(tmp_path), str(start)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE
        )
        for _ in range(4)
    ]
    answers = [json.loads(p.communicate(timeout=60)[0]) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert len({a["root"] for a in answers}) == 1 and len({a["unit"] for a in answers}) == 1
    # Nothing half-written or left aside.
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        f"{UNIT}.pem",
        "root-ca.key.pem",
        "root-ca.pem",
    ]
    signer = SigningAuthority(tmp_path).signer(UNIT)
    assert signer.certificate.issuer == x509.load_pem_x509_certificate(answers[0]["root"].encode()).subject


def test_without_generation_missing_keys_make_signing_wait_for_an_operator(tmp_path):
    authority = SigningAuthority(tmp_path, generate=False)
    with pytest.raises(SigningUnavailable, match="no root certificate"):
        authority.signer(UNIT)
    SigningAuthority(tmp_path, generate=True).root()
    with pytest.raises(SigningUnavailable, match=f"no signing key for unit {UNIT}"):
        SigningAuthority(tmp_path, generate=False).signer(UNIT)


def test_operators_provision_their_own_ca_and_rsa_unit_keys(tmp_path):
    """An existing CA: its root certificate is the trust anchor; a unit's file holds its key and chain."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _certificate("Ban Cơ yếu Chính phủ (test)", root_key, root_key.public_key(), ca=True)
    unit_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unit = _certificate(UNIT, root_key, unit_key.public_key(), issuer=root)
    (tmp_path / "anchor.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "units").mkdir()
    (tmp_path / "units" / f"{UNIT}.pem").write_bytes(
        unit_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        + unit.public_bytes(serialization.Encoding.PEM)
    )
    authority = SigningAuthority(tmp_path, root_certificate=tmp_path / "anchor.pem", generate=False)
    signer = authority.signer(UNIT)
    assert signer.algorithm == "rsa-pkcs1v15-sha256"
    signature = signer.sign(b"manifest")
    assert authority.verify(b"manifest", signature, signer.chain_pem, datetime.now(UTC)) is None
    assert (
        authority.verify(b"manifest!", signature, signer.chain_pem, datetime.now(UTC)) == "the signature does not match"
    )
    # A certificate is judged at the moment of signing: before its validity it does not stand.
    early = datetime.now(UTC) - timedelta(days=30)
    assert "was not valid at" in (authority.verify(b"manifest", signature, signer.chain_pem, early) or "")
    # Another root's unit does not chain to this anchor.
    stranger = SigningAuthority(tmp_path / "elsewhere", generate=True).signer(UNIT)
    problem = authority.verify(b"x", stranger.sign(b"x"), stranger.chain_pem, datetime.now(UTC))
    assert problem is not None and "was not issued by" in problem


def test_generated_keys_can_be_encrypted_at_rest(tmp_path):
    SigningAuthority(tmp_path, generate=True, passphrase="s3cret").signer(UNIT)
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "units" / f"{UNIT}.pem").read_bytes()
    with pytest.raises(TypeError):  # no passphrase, no key
        SigningAuthority(tmp_path, generate=False).signer(UNIT)


def _document(text: str) -> dict:
    return {
        "result_id": "KQ-" + "A" * 16,
        "document": {"id": "certificate", "name": "Giấy xác nhận"},
        "dossier": {"code": "H29.50.05.13-261121-0001", "procedure_name": "Thủ tục", "received_at": datetime.now(UTC)},
        "applicant": {"full_name": text},
        "unit": {"code": UNIT, "name": "Phường Sài Gòn"},
        "issued_at": datetime.now(UTC),
        "particulars": [("Họ tên", text)],
    }


def test_documents_render_vietnamese_text_in_pdf_and_html(tmp_path):
    text = "Nguyễn Thị Ánh Tuyết, phường Bến Thành: Độc lập - Tự do - Hạnh phúc, ữ ỹ ặ ợ Đ"
    html, pdf = ResultRenderer(tmp_path).render(None, _document(text))
    assert text in html.decode()
    assert pdf.startswith(b"%PDF")
    # Every character was found in the embedded font: the font's character map (ToUnicode) names each one.
    cmaps = b"".join(s for s in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S) if b"begincmap" in s)
    assert cmaps
    for character in set(text) - {" "}:
        assert f"<{ord(character):04X}>".encode() in cmaps, character


def test_fonts_embedded_in_documents_keep_true_glyph_bounds(tmp_path):
    # The renderer trusts the bounds written when the font was cut instead of recomputing them for every document:
    # a viewer clips and positions glyphs by them, so each embedded glyph's must match its outline.
    _html, pdf = ResultRenderer(tmp_path).render(None, _document("Nguyễn Thị Ánh Tuyết, Độc lập - Tự do - Hạnh phúc"))
    embedded = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            continue
        if data[:4] == b"\x00\x01\x00\x00":  # a TrueType font program
            embedded.append(TTFont(io.BytesIO(data)))
    assert len(embedded) >= 2  # regular and bold at least
    for font in embedded:
        glyphs = font["glyf"]
        outlined = [name for name in font.getGlyphOrder() if glyphs[name].numberOfContours != 0]
        assert len(outlined) > 20
        for name in outlined:
            glyph = glyphs[name]
            written = (glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax)
            glyph.recalcBounds(glyphs)
            assert written == (glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax), name


def _mapped_characters(pdf: bytes) -> bytes:
    return b"".join(s for s in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S) if b"begincmap" in s)


def test_each_document_embeds_only_the_glyphs_it_uses(tmp_path):
    # A process parses the font once and gives every document a copy: what one document used must not leak into
    # the next one's embedded font, nor a later document miss a glyph of its own.
    renderer = ResultRenderer(tmp_path)
    _html, first = renderer.render(None, _document("Lý Thị Vỵ"))
    _html, second = renderer.render(None, _document("Trần Thị Ữ"))
    _html, third = renderer.render(None, _document("Lý Thị Vỵ"))
    assert b"<1EF5>" in _mapped_characters(first) and b"<1EEE>" not in _mapped_characters(first)  # ỵ, Ữ
    assert b"<1EEE>" in _mapped_characters(second) and b"<1EF5>" not in _mapped_characters(second)
    assert _mapped_characters(third) == _mapped_characters(first)


def _certificate(name: str, signing_key, public_key, *, ca: bool = False, issuer: x509.Certificate | None = None):  # type: ignore[no-untyped-def]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )


def test_a_rendering_process_that_dies_is_replaced(tmp_path):
    renderer = ResultRenderer(tmp_path, processes=1)
    try:
        _, pdf = renderer.render(None, _document("Lê Văn Tám"))
        assert pdf.startswith(b"%PDF")
        for child in multiprocessing.active_children():
            child.kill()
            child.join()
        with pytest.raises(BrokenProcessPool):  # the attempt under way fails, and is retried by its activity
            renderer.render(None, _document("Lê Văn Tám"))
        _, again = renderer.render(None, _document("Lê Văn Tám"))
        assert again.startswith(b"%PDF")
    finally:
        renderer.close()


RENDERING_WORKER = """
import multiprocessing, sys, time
from pathlib import Path
from tests.test_result_signatures import _document
from results.render import ResultRenderer
renderer = ResultRenderer(Path(sys.argv[1]), processes=1)
renderer.render(None, _document("Trần Hưng Đạo"))
print(*[child.pid for child in multiprocessing.active_children()], flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_rendering_processes_end_when_their_worker_is_killed(tmp_path):
    worker = subprocess.Popen(
        [sys.executable, "-c", RENDERING_WORKER, str(tmp_path)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        rendering = [int(pid) for pid in worker.stdout.readline().split()]  # type: ignore[union-attr]
        assert rendering and all(_alive(pid) for pid in rendering)
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in rendering) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in rendering), rendering
