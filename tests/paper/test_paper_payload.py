"""The signed QR payload: exact round trip, signatures, strict decoding, size budgets."""

from __future__ import annotations

import base64
import copy
import hashlib
import zlib

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from paper_samples import (
    EXP,
    IAT,
    ISS,
    KATSURAGI_IVS,
    VCT_JUMINHYO,
    VCT_SEAL,
    YOSHI,
    ThrowawaySigner,
    household,
    receipt,
    seal_certificate,
)

from civiccert.errors import PaperError, ReasonCode
from civiccert.paper import (
    ALNUM_CAPACITY_M,
    decode_qr_text,
    encode_paper,
    make_qr,
    min_version,
    qr_text,
    verify_paper_signature,
)
from civiccert.paper.sealphoto import phash


@pytest.fixture(scope="module")
def signer() -> ThrowawaySigner:
    return ThrowawaySigner()


def _encode(signer: ThrowawaySigner, claims: dict, vct: str = VCT_JUMINHYO, **kw: object) -> bytes:
    return encode_paper(vct, claims, signer, iss=ISS, iat=IAT, exp=EXP, **kw)  # type: ignore[arg-type]


def test_round_trip_is_exact_including_ext_b_and_ivs(signer: ThrowawaySigner) -> None:
    claims = household(6)
    cose = _encode(signer, claims, include_individual_number=True, nbf=IAT)
    payload = decode_qr_text(qr_text(cose))
    assert payload.claims == claims
    assert YOSHI in payload.claims["members"][0]["name"]
    assert payload.claims["members"][1]["name"].startswith(KATSURAGI_IVS)
    assert (payload.vct, payload.iss, payload.iat, payload.exp, payload.nbf) == (VCT_JUMINHYO, ISS, IAT, EXP, IAT)
    assert (payload.alg, payload.kid) == ("ES256", signer.kid)
    assert payload.cose == cose
    assert payload.credential_hash == hashlib.sha256(payload.sig_structure).digest()
    assert verify_paper_signature(payload, signer.public_key())


def test_individual_number_is_dropped_unless_requested(signer: ThrowawaySigner) -> None:
    claims = household(2)
    payload = decode_qr_text(qr_text(_encode(signer, claims)))
    assert all("individual_number" not in m for m in payload.claims["members"])
    expected = copy.deepcopy(claims)
    for m in expected["members"]:
        del m["individual_number"]
    assert payload.claims == expected


def test_seal_image_is_kept_only_when_requested(signer: ThrowawaySigner) -> None:
    claims = seal_certificate()
    without = decode_qr_text(qr_text(_encode(signer, claims, VCT_SEAL))).claims
    assert "image_png" not in without["seal"]
    assert without["seal"]["image_sha256"] == claims["seal"]["image_sha256"]
    # the 64-bit pHash a photo's impression is compared with is always added (paper.sealphoto)
    fingerprint = phash(base64.b64decode(claims["seal"]["image_png"]))
    assert without["seal"]["image_phash"] == fingerprint
    full = decode_qr_text(qr_text(_encode(signer, claims, VCT_SEAL, include_seal_image=True)))
    assert full.claims == {**claims, "seal": {**claims["seal"], "image_phash": fingerprint}}
    assert full.vct == VCT_SEAL


def test_odd_values_survive_unchanged(signer: ThrowawaySigner) -> None:
    claims = {
        "municipality": {"code": "131016", "name": "千代田区"},
        "certificate": {"serial": "X", "issued_at": "2026-11-26T01:00:00Z", "scope": "partial?"},
        "omitted": ["honseki", "some_future_item"],
        "members": [{"name": "明治　ハナ", "birth_date": "1899-12-31", "sex": "不明", "notified_on": "2026-2-1"}],
        "future_claim": {"nested": [1, 2.5, None, True]},
    }
    payload = decode_qr_text(qr_text(_encode(signer, claims, "urn:example:vct:other:1")))
    assert payload.claims == claims
    assert payload.vct == "urn:example:vct:other:1"


def test_eddsa_signature_verifies() -> None:
    class EdSigner(ThrowawaySigner):
        alg = "EdDSA"

        def __init__(self) -> None:
            super().__init__()
            self.ed = ed25519.Ed25519PrivateKey.generate()

        def sign(self, data: bytes) -> bytes:
            return self.ed.sign(data)

    ed = EdSigner()
    payload = decode_qr_text(qr_text(_encode(ed, household(1))))  # type: ignore[arg-type]
    assert payload.alg == "EdDSA"
    assert verify_paper_signature(payload, ed.ed.public_key())
    assert not verify_paper_signature(payload, ed25519.Ed25519PrivateKey.generate().public_key())
    assert not verify_paper_signature(payload, ed.public_key())  # an EC key for an EdDSA form


def test_wrong_key_fails(signer: ThrowawaySigner) -> None:
    payload = decode_qr_text(qr_text(_encode(signer, household(1))))
    assert not verify_paper_signature(payload, ec.generate_private_key(ec.SECP256R1()).public_key())
    assert not verify_paper_signature(payload, ec.generate_private_key(ec.SECP384R1()).public_key())


def test_edited_claim_byte_breaks_the_signature(signer: ThrowawaySigner) -> None:
    cose = _encode(signer, household(2))
    original, forged = "太郎".encode(), "次郎".encode()
    assert original in cose
    assert len(original) == len(forged)
    tampered = cose.replace(original, forged, 1)
    payload = decode_qr_text(qr_text(tampered))
    assert "次郎" in payload.claims["household"]["householder"]
    assert payload.credential_hash != decode_qr_text(qr_text(cose)).credential_hash
    assert not verify_paper_signature(payload, signer.public_key())


def test_qr_from_another_copy_carries_the_other_claims(signer: ThrowawaySigner) -> None:
    """A QR pasted onto another sheet still verifies, but its claims are those of the other copy."""
    mine, other = household(2), household(3)
    pasted = decode_qr_text(qr_text(_encode(signer, other, include_individual_number=True)))
    assert verify_paper_signature(pasted, signer.public_key())
    assert pasted.claims != mine  # the verifier shows these claims and compares them with the sheet
    assert pasted.claims == other


def test_receipt_round_trip_without_tx(signer: ThrowawaySigner) -> None:
    cose = _encode(signer, household(1))
    r = receipt(1000)
    decoded = decode_qr_text(qr_text(cose, r)).receipt
    assert decoded == {k: v for k, v in r.items() if k != "tx"}
    assert len(decoded["proof"]) == 10
    assert decode_qr_text(qr_text(cose)).receipt is None
    # the receipt is outside the signature: the credential hash does not change with it
    assert decode_qr_text(qr_text(cose, r)).credential_hash == decode_qr_text(qr_text(cose)).credential_hash


def test_receipt_with_wrong_sizes_is_rejected(signer: ThrowawaySigner) -> None:
    cose = _encode(signer, household(1))
    with pytest.raises(ValueError, match="registry"):
        qr_text(cose, {**receipt(4), "registry": "0x1234"})


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CC2:6BFOXN*TS0BI$ZD", ReasonCode.PAYLOAD_VERSION_UNSUPPORTED),
        ("CC10:6BFOXN", ReasonCode.PAYLOAD_VERSION_UNSUPPORTED),
        ("HC1:6BFOXN*TS0BI$ZD", ReasonCode.QR_PAYLOAD_INVALID),
        ("https://example.org/", ReasonCode.QR_PAYLOAD_INVALID),
        ("CC1:", ReasonCode.QR_PAYLOAD_INVALID),
        ("CC1:abc", ReasonCode.QR_PAYLOAD_INVALID),
        ("CC1:GGW", ReasonCode.QR_PAYLOAD_INVALID),  # base45 value out of range
        ("CC1:" + "A" * 5000, ReasonCode.QR_PAYLOAD_INVALID),
    ],
)
def test_bad_texts_are_rejected_with_a_code(text: str, code: ReasonCode) -> None:
    with pytest.raises(PaperError) as info:
        decode_qr_text(text)
    assert info.value.code is code


def test_truncated_payload_is_invalid(signer: ThrowawaySigner) -> None:
    text = qr_text(_encode(signer, household(2)))
    for cut in (len(text) - 1, len(text) - 3, len(text) // 2, 10):
        with pytest.raises(PaperError) as info:
            decode_qr_text(text[:cut])
        assert info.value.code is ReasonCode.QR_PAYLOAD_INVALID


def _wrap(raw: bytes) -> str:
    return "CC1:" + base45.b45encode(zlib.compress(raw, 9)).decode()


def test_zlib_bomb_is_capped() -> None:
    bomb = _wrap(b"\x00" * (2 * 1024 * 1024))
    assert len(bomb) < 4296  # fits a QR, inflates 2 MiB
    with pytest.raises(PaperError) as info:
        decode_qr_text(bomb)
    assert info.value.code is ReasonCode.QR_PAYLOAD_INVALID


def test_structural_garbage_is_invalid(signer: ThrowawaySigner) -> None:
    cose = _encode(signer, household(1))
    cases = [
        b"\xff\xfe",  # not CBOR
        cbor2.dumps([cose, None]) + b"\x00",  # trailing byte
        cbor2.dumps([cose]),  # wrong arity
        cbor2.dumps([b"\x01", None]),  # not a COSE_Sign1
        cbor2.dumps([cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])), None]),
        cbor2.dumps([cose, [1, 2, 3]]),  # malformed receipt
    ]
    tagged = cbor2.loads(cose)
    protected, _, payload, sig = tagged.value
    cwt = cbor2.loads(payload)
    cwt[-65537][0] = [99, 1]  # unknown claim-table version
    cases.append(cbor2.dumps([cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(cwt), sig])), None]))
    cases.append(cbor2.dumps([cbor2.dumps(cbor2.CBORTag(18, [protected, {4: b"x"}, payload, sig])), None]))
    for raw in cases:
        with pytest.raises(PaperError) as info:
            decode_qr_text(_wrap(raw))
        assert info.value.code is ReasonCode.QR_PAYLOAD_INVALID


def test_six_member_household_fits_version_29_with_receipt(signer: ThrowawaySigner) -> None:
    """Batches up to 2^14 credentials (14 proof hashes); docs/paper.md has the table."""
    text = qr_text(_encode(signer, household(6), include_individual_number=True), receipt(1 << 14))
    assert make_qr(text).version <= 29


def test_one_person_fits_version_22_with_receipt(signer: ThrowawaySigner) -> None:
    """Batches up to 64 credentials with a receipt; any batch size signature-only (receipt=None)."""
    cose = _encode(signer, household(1), include_individual_number=True)
    assert make_qr(qr_text(cose, receipt(64))).version <= 22
    assert make_qr(qr_text(cose)).version <= 16


def test_qr_uses_alphanumeric_mode_version(signer: ThrowawaySigner) -> None:
    for n in (1, 3, 6):
        text = qr_text(_encode(signer, household(n)), receipt(64))
        qr = make_qr(text)
        assert qr.version == min_version(len(text))
        assert qr.size == 17 + 4 * qr.version == len(qr.modules[0])


def test_record_that_cannot_fit_is_payload_too_large(signer: ThrowawaySigner) -> None:
    stream = b"".join(hashlib.sha512(i.to_bytes(2, "big")).digest() for i in range(72))
    noise = base64.b64encode(stream[:1536]).decode()  # incompressible, 2 KiB
    claims = {**household(1), "household": {"address": noise}}
    text = qr_text(_encode(signer, claims))
    with pytest.raises(PaperError) as info:
        make_qr(text, max_version=29)
    assert info.value.code is ReasonCode.PAYLOAD_TOO_LARGE
    huge = {**household(1), "household": {"address": base64.b64encode(stream).decode()}}
    with pytest.raises(PaperError) as info:
        qr_text(_encode(signer, huge))
    assert info.value.code is ReasonCode.PAYLOAD_TOO_LARGE


def test_capacity_table_matches_iso_endpoints() -> None:
    assert (ALNUM_CAPACITY_M[0], ALNUM_CAPACITY_M[21], ALNUM_CAPACITY_M[28], ALNUM_CAPACITY_M[39]) == (
        20,
        1134,
        1839,
        3391,
    )
    assert min_version(3392) is None


def test_paper_credential_hash_is_the_decoded_hash(signer: ThrowawaySigner) -> None:
    from civiccert.paper.payload import paper_credential_hash

    cose = _encode(signer, household(2))
    assert paper_credential_hash(cose) == decode_qr_text(qr_text(cose)).credential_hash
