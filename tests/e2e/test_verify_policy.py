"""Verifier rules found in review: compromised keys offline, revocation without the anchor check, bad receipts."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import civiccert as cc
from civiccert.verification.trust import TrustSnapshot

from worldkit import World


def _codes(result: cc.VerificationResult) -> dict[str, str]:
    return {c.name.value: c.code.value for c in result.checks}


def test_offline_a_revoked_key_cannot_vouch_for_an_unanchored_issuance_time(world: World) -> None:
    cred = world.issuer.issue(world.household())
    export = world.issuer.trust_export()
    [key] = export.keys.values()
    snapshot = TrustSnapshot(source="registry", generated_at=export.generated_at,
                             municipalities=export.municipalities,
                             # revoked, later than iat
                             keys={(key.municipality, key.kid): dataclasses.replace(key, revoked_at=2**40)})
    result = cc.Verifier(trust=snapshot).verify(cred)
    assert result.verdict is cc.Verdict.INDETERMINATE  # iat is the forger's word; no anchor was checked
    assert _codes(result)["issuer"] == "issuance_time_unverified"


def test_revocation_is_checked_even_when_the_anchor_check_is_not_requested(world: World) -> None:
    cred = world.issue_anchored()
    world.issuer.revoke(cred)
    result = world.online_verifier(check_anchor=False).verify(cred)
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["revocation"] == "revoked"
    assert _codes(result)["anchor"] == "not_checked"


@pytest.mark.parametrize("receipt", [{"chain_id": "abc"}, {"chain_id": None}, {"chain_id": 1, "root": 5},
                                     {"root": "zz", "proof": "x"}, {"registry": ["x"]}])
def test_malformed_receipts_are_findings_not_crashes(world: World, receipt: dict[str, Any]) -> None:
    cred = world.issue_anchored()
    result = world.online_verifier().verify(dataclasses.replace(cred, receipt=receipt))
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["anchor"] in {"receipt_mismatch", "proof_invalid"}


@pytest.mark.parametrize("receipt", ['"root"', '["root"]', "42"])
def test_receipts_that_are_not_objects_make_the_file_malformed(world: World, tmp_path: Path, receipt: str) -> None:
    cred = world.issue_anchored()
    text = cred.dumps().replace('"receipt": {', '"receipt": ' + receipt + ', "was": {', 1)
    result = world.online_verifier().verify(text)
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["format"] == "malformed"


def test_the_issuer_refuses_a_record_of_another_municipality(world: World) -> None:
    record = world.household()
    other = dataclasses.replace(record, municipality=dataclasses.replace(record.municipality, name="千代田区"))
    with pytest.raises(cc.RecordError) as info:
        world.issuer.issue(other)
    assert info.value.code is cc.ReasonCode.FIELD_INVALID
    assert info.value.field == "municipality"


def test_node_down_while_resolving_the_key_is_indeterminate(world: World) -> None:
    cred = world.issue_anchored()
    from civiccert.credentials import sdjwt

    bare = sdjwt.issue({"iss": "urn:civiccert:lg:122076", "iat": 1, "exp": 2**40, "vct": cc.VCT_RESIDENT_RECORD,
                        "municipality": {"code": "122076", "name": "松戸市"}}, world.issuer.key)  # no header JWK
    down = cc.OnlineRegistry.lazy(lambda: cc.connect("http://127.0.0.1:9", timeout=1), world.registry.address)
    for item in (bare, cred):
        result = cc.Verifier(registry=down).verify(item)
        assert result.verdict is cc.Verdict.INDETERMINATE, result.to_dict()["checks"]


def test_a_file_with_somebody_elses_id_cannot_revoke_their_credential(world: World) -> None:
    victim = world.issue_anchored()
    attacker = world.issue_anchored(world.seal())
    forged = dataclasses.replace(attacker, id=victim.id)
    with pytest.raises(cc.JournalError) as info:
        world.issuer.revoke(forged)
    assert info.value.code is cc.ReasonCode.CREDENTIAL_UNKNOWN
    assert world.online_verifier().verify(victim).verdict is cc.Verdict.VALID


def test_an_old_key_binding_jwt_is_refused(world: World) -> None:
    import time

    holder = cc.IssuerKey.generate()
    cred = world.issuer.issue(world.household(), holder_jwk=holder.public_jwk())
    policy = {"require_holder_binding": True, "aud": "https://bank.example", "nonce": "n-1"}
    stale = cc.present(cred, ["members[0].name"], holder_key=holder, aud="https://bank.example", nonce="n-1")
    later = cc.Verifier(trust=world.issuer.trust_export(), policy=cc.Policy(**policy),  # type: ignore[arg-type]
                        clock=lambda: time.time() + 3600)
    assert _codes(later.verify(stale))["holder_binding"] == "holder_binding_failed"


@pytest.mark.parametrize("kid", ["../../../../etc/passwd", "' OR 1=1 --", "%00", "k" * 5000])
def test_kid_injection_is_just_an_unknown_key(world: World, kid: str) -> None:
    from civiccert.credentials.b64url import b64url_encode
    from civiccert.credentials.strictjson import json_dumps

    attacker = cc.IssuerKey.generate()
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": kid, "jwk": attacker.public_jwk()}
    payload = {"iss": "urn:civiccert:lg:122076", "iat": 1, "exp": 2**40, "vct": cc.VCT_RESIDENT_RECORD,
               "municipality": {"code": "122076", "name": "松戸市"}}
    signing_input = b64url_encode(json_dumps(header)) + "." + b64url_encode(json_dumps(payload))
    token = signing_input + "." + b64url_encode(attacker.sign(signing_input.encode())) + "~"
    for verifier in (world.online_verifier(), world.offline_verifier()):
        result = verifier.verify(token)
        assert result.verdict is not cc.Verdict.VALID


def test_a_misbehaving_node_gives_indeterminate_never_a_crash_or_invalid(world: World) -> None:
    """A node answering HTTP 503 / JSON-RPC errors (rate limits, pruned state) is a node problem."""
    import http.server
    import threading

    class Broken(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cred = world.issue_anchored()
        from civiccert.paper.payload import qr_text

        assert cred.paper_cose is not None
        url = f"http://127.0.0.1:{server.server_address[1]}"
        broken = cc.OnlineRegistry.lazy(lambda: cc.connect(url, timeout=2), world.registry.address)
        for item in (cred, qr_text(cred.paper_cose, cred.paper_receipt)):
            for trust in (None, world.issuer.trust_export()):
                result = cc.Verifier(trust=trust, registry=broken).verify(item)
                assert result.verdict is cc.Verdict.INDETERMINATE, result.to_dict()["checks"]
    finally:
        server.shutdown()
        server.server_close()


def test_issuer_code_000000_is_not_a_municipality(world: World) -> None:
    from civiccert.credentials import sdjwt

    attacker = cc.IssuerKey.generate()
    token = sdjwt.issue({"iss": "urn:civiccert:lg:000000", "iat": 1, "exp": 2**40, "vct": cc.VCT_RESIDENT_RECORD,
                         "municipality": {"code": "000000", "name": "x"}}, attacker,
                        header={"jwk": attacker.public_jwk()})
    assert world.online_verifier().verify(token).verdict is cc.Verdict.INVALID


def test_a_long_running_verifier_sees_a_later_suspension(world: World) -> None:
    cred = world.issue_anchored()
    online = cc.OnlineRegistry(cc.Registry(world.chain, world.registry.address), max_state_age=0)
    verifier = cc.Verifier(registry=online)
    assert verifier.verify(cred).verdict is cc.Verdict.VALID
    world.registry.suspend(122076)
    assert _codes(verifier.verify(cred))["issuer"] == "municipality_suspended"
