"""Printed copies signed as PDFs (PAdES B-B with pyHanko) and the verifier's PDF_SIGNATURE check.

A TEST CA certifies 松戸市's key (and 千代田区's, for a PDF signed by another city); every tampering below is a
real edit of the signed file: a glyph changed inside the signed bytes, an image swapped, an annotation or a
content line added by an incremental update after signing, or the whole signature replaced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

import civiccert as cc
from civiccert.credential_file import CredentialFile
from civiccert.errors import ConfigError, ReasonCode
from civiccert.paper import payload as paper_payload
from civiccert.paper.pdf import render_pdf_bytes
from civiccert.paper.pdfsig import sign_pdf, validate_pdf
from civiccert.pki.home import home_chain, issue_test_leaf

PASSPHRASE = b"pades-test-passphrase"


@dataclass
class World:
    ca: cc.TestCA
    issuer: cc.Issuer
    other: cc.Issuer  # 千代田区, certified by the same TEST CA
    cred: CredentialFile
    signed: bytes
    root: Path
    _unsigned: bytes | None = None

    def verifier(self, *, anchors: bool = True) -> cc.Verifier:
        roots = cc.TrustAnchors.from_files(self.ca.directory / "root.pem") if anchors else None
        # with anchors, the published trust file must be the signed one (docs/trust.md)
        trust = cc.TrustSnapshot.parse(self.issuer.signed_trust_export()) if anchors else self.issuer.trust_export()
        return cc.Verifier(trust=trust, trust_anchors=roots)

    def unsigned(self) -> bytes:
        """The same page unsigned (as a forger re-saving or re-signing the copy would start from); rendered once."""
        if self._unsigned is None:
            claims = self.verifier().verify(self.cred).claims
            assert self.cred.paper_cose is not None
            self._unsigned = render_pdf_bytes(self.cred.vct, claims, paper_payload.qr_text(self.cred.paper_cose))
        return self._unsigned


def _certified_home(path: Path, ca: cc.TestCA, code: str, name: str) -> cc.Issuer:
    cc.Issuer.init(path, municipality_code=code, municipality_name=name, passphrase=PASSPHRASE).close()
    issue_test_leaf(path, ca)
    return cc.Issuer.open(path, passphrase=PASSPHRASE)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("pades")
    ca = cc.TestCA.create(root / "ca", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    issuer = _certified_home(root / "matsudo", ca, "122076", "松戸市")
    other = _certified_home(root / "chiyoda", ca, "131016", "千代田区")
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    cred = issuer.issue(record)
    pdf = issuer.print_pdf(cred, root / "copy.pdf", require_signed=True)
    yield World(ca, issuer, other, cred, pdf.read_bytes(), root)
    issuer.close()
    other.close()


def _verify(world: World, data: bytes, tmp_path: Path, *, anchors: bool = True) -> list[cc.VerificationResult]:
    path = tmp_path / "copy.pdf"
    path.write_bytes(data)
    results = world.verifier(anchors=anchors).verify_path(path)
    assert results
    return results


def _pdf_check(result: cc.VerificationResult) -> tuple[cc.Outcome, cc.ReasonCode]:
    check = result.check(cc.CheckName.PDF_SIGNATURE)
    assert check is not None, result.to_dict()
    return check.outcome, check.code


# --- pyHanko's own view ---------------------------------------------------------------------------------
def test_pyhanko_validates_our_pdf_to_the_test_root(world: World) -> None:
    root = asn1_x509.Certificate.load(world.ca.root.public_bytes(Encoding.DER))
    (sig,) = PdfFileReader(io.BytesIO(world.signed)).embedded_signatures
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[root], allow_fetching=False))
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.bottom_line
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES baseline
    embedded = {c.chosen.subject.human_friendly for c in sig.signed_data["certificates"]}
    assert len(embedded) == 2  # the leaf and the intermediate: the chain is in the file, the root is not
    assert status.signing_cert.subject.native["organization_name"] == "松戸市"


# --- genuine -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("anchors", [True, False], ids=["trust-anchors", "trust-file-only"])
def test_genuine_signed_copy_is_valid(world: World, tmp_path: Path, anchors: bool) -> None:
    for result in _verify(world, world.signed, tmp_path, anchors=anchors):
        assert result.verdict is cc.Verdict.VALID, result.to_dict()
        assert _pdf_check(result) == (cc.Outcome.PASSED, ReasonCode.OK)


# --- edits after signing --------------------------------------------------------------------------------
def _edit_a_glyph(data: bytes) -> bytes:
    """Change one character of the page text inside the signed bytes (content stream re-compressed)."""
    for m in re.finditer(rb"/Length (\d+)\n>>\nstream\n", data):
        start, length = m.end(), int(m.group(1))
        try:
            content = zlib.decompress(data[start:start + length])
        except zlib.error:
            continue
        if b"(\x00\x02) Tj" not in content:
            continue
        body = zlib.compress(content.replace(b"(\x00\x02) Tj", b"(\x00\x05) Tj", 1))
        head = data[:m.start()] + b"/Length %d\n>>\nstream\n" % len(body)
        return head + body + data[start + length:]
    raise AssertionError("no text content stream found")


def _break_the_cms(data: bytes) -> bytes:
    """Flip one bit of the signature value itself (inside the CMS, the one part of the file outside the signed
    byte range); the CMS stays well-formed and the same length, so only the signature check can catch it."""
    from asn1crypto import cms

    match = re.search(rb"/Contents <([0-9a-fA-F]+)>", data)
    assert match is not None
    hex_value = match.group(1)
    der = bytes.fromhex(hex_value.decode())
    info = cms.ContentInfo.load(der, strict=False)  # the hex is zero-padded after the DER
    encoded = info.dump()
    signature = info["content"]["signer_infos"][0]["signature"].native
    position = encoded.rindex(signature) + len(signature) // 2
    broken = encoded[:position] + bytes([encoded[position] ^ 0x01]) + encoded[position + 1:]
    padded = broken.hex().encode() + hex_value[len(broken) * 2:]
    assert len(padded) == len(hex_value)
    return data[:match.start(1)] + padded + data[match.end(1):]


def _incremental(data: bytes, change: str) -> bytes:
    """An update appended after the signed revision, as a PDF editor saves one."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    if change == "annotation":
        annot = generic.DictionaryObject({
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/FreeText"),
            generic.pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (60, 400, 300, 420)]),
            generic.pdf_name("/Contents"): generic.TextStringObject("世帯員 追加"),
            generic.pdf_name("/DA"): generic.pdf_string("/Helv 12 Tf 0 g"),
        })
        page["/Annots"] = generic.ArrayObject([writer.add_object(annot)])
        writer.update_container(page)
    elif change == "line":  # an added name line drawn over the page
        line = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 60 400 Td (\x00\x03) Tj ET"))
        contents = page.raw_get("/Contents")
        page["/Contents"] = generic.ArrayObject([*(contents if isinstance(contents, list) else [contents]), line])
        writer.update_container(page)
    elif change == "image":  # the 職印 / seal impression replaced by another picture
        xobjects = page["/Resources"]["/XObject"]
        name = next(n for n in xobjects if xobjects[n]["/Subtype"] == "/Image" and xobjects[n]["/Width"] < 600)
        original = xobjects[name]
        width, height = int(original["/Width"]), int(original["/Height"])
        xobjects[name] = writer.add_object(generic.StreamObject({
            generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Image"),
            generic.pdf_name("/Width"): generic.NumberObject(width),
            generic.pdf_name("/Height"): generic.NumberObject(height),
            generic.pdf_name("/ColorSpace"): generic.pdf_name("/DeviceGray"),
            generic.pdf_name("/BitsPerComponent"): generic.NumberObject(8),
        }, stream_data=bytes([128]) * (width * height)))
        writer.update_container(xobjects)
    elif change == "unsign":  # the signature field dropped from the form, the signed revision left below
        form = writer.root["/AcroForm"]
        form["/Fields"] = generic.ArrayObject()
        writer.update_container(form)
    elif change == "nothing":
        writer.update_container(writer.root)  # a re-save that adds no change
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("edit", "code"), [
    ("glyph", ReasonCode.PDF_SIGNATURE_INVALID),
    ("cms", ReasonCode.PDF_SIGNATURE_INVALID),
    ("annotation", ReasonCode.PDF_MODIFIED_AFTER_SIGNING),
    ("line", ReasonCode.PDF_MODIFIED_AFTER_SIGNING),
    ("image", ReasonCode.PDF_MODIFIED_AFTER_SIGNING),
])
def test_every_edit_after_signing_is_invalid_with_its_reason(world: World, tmp_path: Path, edit: str,
                                                             code: ReasonCode) -> None:
    edits = {"glyph": _edit_a_glyph, "cms": _break_the_cms}
    data = edits[edit](world.signed) if edit in edits else _incremental(world.signed, edit)
    assert data != world.signed
    for result in _verify(world, data, tmp_path):
        assert result.verdict is cc.Verdict.INVALID, result.to_dict()
        assert _pdf_check(result) == (cc.Outcome.FAILED, code)


def test_a_signature_dropped_by_a_later_update_leaves_an_unsigned_copy(world: World, tmp_path: Path) -> None:
    for result in _verify(world, _incremental(world.signed, "unsign"), tmp_path):
        assert result.verdict is cc.Verdict.INVALID
        assert _pdf_check(result) == (cc.Outcome.FAILED, ReasonCode.PDF_UNSIGNED)


def test_an_update_that_changes_nothing_keeps_the_copy_valid(world: World, tmp_path: Path) -> None:
    data = _incremental(world.signed, "nothing")
    assert len(data) > len(world.signed)
    for result in _verify(world, data, tmp_path):
        assert _pdf_check(result)[0] is cc.Outcome.PASSED, result.to_dict()


def test_a_copy_signed_by_another_city_is_invalid(world: World, tmp_path: Path) -> None:
    chain = home_chain(world.other.home, world.other.config)
    assert chain is not None
    forged = sign_pdf(world.unsigned(), world.other.key, chain)
    for result in _verify(world, forged, tmp_path):
        assert result.verdict is cc.Verdict.INVALID
        assert _pdf_check(result) == (cc.Outcome.FAILED, ReasonCode.PDF_SIGNER_NOT_ISSUER)


def test_signing_works_from_inside_an_event_loop(world: World) -> None:
    """The HTTP service prints from its event loop; pyHanko's own asyncio.run must not collide with it."""
    chain = home_chain(world.issuer.home, world.issuer.config)
    assert chain is not None

    async def inside() -> bytes:
        return sign_pdf(world.unsigned(), world.issuer.key, chain)

    found = validate_pdf(asyncio.run(inside()), roots=[world.ca.root])
    assert found.code is ReasonCode.OK
    assert found.trusted


def test_an_unsigned_copy_of_a_certified_issuer_is_invalid(world: World, tmp_path: Path) -> None:
    for result in _verify(world, world.unsigned(), tmp_path):
        assert result.verdict is cc.Verdict.INVALID
        assert _pdf_check(result) == (cc.Outcome.FAILED, ReasonCode.PDF_UNSIGNED)


def test_a_scan_of_the_paper_has_no_pdf_signature_to_check(world: World, tmp_path: Path) -> None:
    """A PDF made of page images (an office scanner's) is judged like a photo: the check is skipped."""
    document = pdfium.PdfDocument(world.signed)
    image = document[0].render(scale=200 / 72, grayscale=True).to_pil()
    document.close()
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=200)
    (result,) = _verify(world, out.getvalue(), tmp_path)
    assert _pdf_check(result) == (cc.Outcome.SKIPPED, ReasonCode.NOT_CHECKED)
    assert result.verdict is cc.Verdict.VALID, result.to_dict()


# --- a home without a certificate ----------------------------------------------------------------------
def test_a_home_without_certificate_prints_unsigned_or_refuses(tmp_path: Path) -> None:
    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=PASSPHRASE)
    try:
        assert not issuer.signs_pdf
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")))
        with pytest.raises(ConfigError) as refused:
            issuer.print_pdf(cred, tmp_path / "refused.pdf", require_signed=True)
        assert refused.value.code is ReasonCode.PDF_SIGNING_UNAVAILABLE
        assert not (tmp_path / "refused.pdf").exists()
        pdf = issuer.print_pdf(cred, tmp_path / "copy.pdf")
        assert not PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_signatures
        (result,) = cc.Verifier(trust=issuer.trust_export()).verify_path(pdf)
        assert _pdf_check(result) == (cc.Outcome.SKIPPED, ReasonCode.NOT_CHECKED)
        assert result.verdict is cc.Verdict.VALID, result.to_dict()
    finally:
        issuer.close()


# --- a key on a token ----------------------------------------------------------------------------------
MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.mark.hsm
def test_a_pdf_signed_on_a_softhsm_token_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkcs11 = pytest.importorskip("pkcs11", reason="python-pkcs11 not installed (pip install 'civiccert[hsm]')")
    if shutil.which("softhsm2-util") is None or not MODULE.exists():
        pytest.skip("SoftHSM2 not installed (scripts/setup installs the Debian package softhsm2)")
    from civiccert.credentials.pkcs11 import Pkcs11Uri, generate_key

    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "pades", "--pin", "1234",
                    "--so-pin", "5678"], check=True, capture_output=True)
    pkcs11.lib(str(MODULE)).reinitialize()
    with generate_key(str(Pkcs11Uri(str(MODULE), "pades", "issuer")), b"1234") as signer:
        uri = str(signer.uri)
    ca = cc.TestCA.create(tmp_path / "ca", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    home = tmp_path / "home"
    cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE,
                   key_uri=uri, pin=b"1234").close()
    issue_test_leaf(home, ca)
    issuer = cc.Issuer.open(home, passphrase=PASSPHRASE, pin=b"1234")
    try:
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")))
        pdf = issuer.print_pdf(cred, tmp_path / "copy.pdf", require_signed=True)
        verifier = cc.Verifier(trust=cc.TrustSnapshot.parse(issuer.signed_trust_export()),  # signed on the token
                               trust_anchors=cc.TrustAnchors.from_files(ca.directory / "root.pem"))
        for result in verifier.verify_path(pdf):
            assert result.verdict is cc.Verdict.VALID, result.to_dict()
            assert _pdf_check(result) == (cc.Outcome.PASSED, ReasonCode.OK)
    finally:
        issuer.close()


# --- the command line ----------------------------------------------------------------------------------
def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    from civiccert.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_print_signs_with_a_certificate_and_refuses_without(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", "pades-cli-passphrase")
    home, ca, cred, pdf = tmp_path / "city", tmp_path / "ca", tmp_path / "cred.json", tmp_path / "copy.pdf"
    assert _run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市")[0] == 0
    assert _run(capsys, "--home", home, "issue", "resident-record",
                cc.sample_record_path("household-matsudo.json"), "-o", cred)[0] == 0
    code, _, err = _run(capsys, "--home", home, "print", cred, "-o", pdf, "--require-signed")
    assert code == 78
    assert ReasonCode.PDF_SIGNING_UNAVAILABLE.value in err
    assert not pdf.exists()
    assert _run(capsys, "pki", "init-test-ca", ca)[0] == 0
    assert _run(capsys, "--home", home, "pki", "issue-leaf", "--ca", ca)[0] == 0
    assert _run(capsys, "--home", home, "issue", "resident-record",
                cc.sample_record_path("household-matsudo.json"), "-o", cred)[0] == 0
    assert _run(capsys, "--home", home, "print", cred, "-o", pdf, "--require-signed")[0] == 0
    trust = tmp_path / "trust.json"
    assert _run(capsys, "--home", home, "trust", "export", "-o", trust, "--sign")[0] == 0
    code, out, _ = _run(capsys, "verify", pdf, "--trust", trust, "--trust-anchors", ca / "root.pem", "--offline",
                        "--json")
    assert code == 0, out
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert checks["pdf_signature"]["outcome"] == "passed"
    pdf.write_bytes(_incremental(pdf.read_bytes(), "annotation"))
    code, out, err = _run(capsys, "verify", pdf, "--trust", trust, "--trust-anchors", ca / "root.pem", "--offline",
                          "--json")
    assert code == 1
    assert ReasonCode.PDF_MODIFIED_AFTER_SIGNING.value in json.loads(out)["reasons"]
    assert "Traceback" not in err
