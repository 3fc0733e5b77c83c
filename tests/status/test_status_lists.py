"""Token Status Lists: the draft's examples decode, our lists round-trip, and the verifier's status decisions."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import civiccert as cc
from civiccert.credentials.keys import public_key_from_jwk
from civiccert.errors import JournalError, ReasonCode
from civiccert.paper.payload import decode_qr_text, qr_text
from civiccert.paper.qr import make_qr
from civiccert.status import Status, StatusList, StatusListSource, parse_token, verify_token
from civiccert.status.token import CWT_STATUS_CLAIM
from civiccert.verification.result import CheckName, Outcome

from worldkit import World, make_world

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "ietf-token-status-list"


def _hex(name: str) -> bytes:
    return bytes.fromhex((VECTORS / name).read_text().split("encoded:")[-1].strip().replace("\n", ""))


def _example_key() -> object:
    jwk = json.loads((VECTORS / "static_vectors.json").read_text())["status_list_token_jwt"]["public_jwk"]
    return public_key_from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y")})


def test_draft_examples_decode_and_verify() -> None:
    data = json.loads((VECTORS / "static_vectors.json").read_text())
    jwt = parse_token((VECTORS / "status_list_jwt_raw.md").read_text().replace("\n", ""))
    verify_token(jwt, _example_key())
    assert [jwt.status(i) for i in range(16)] == data["status_list_token_jwt"]["expected"]["status_0_to_15"]
    cwt = parse_token(_hex("status_list_cwt.md"))
    verify_token(cwt, _example_key())
    assert (cwt.sub, cwt.ttl, cwt.statuses.data) == (jwt.sub, 43200, bytes.fromhex("b9a3"))
    two = data["status_list_2bit"]
    lst = StatusList.decompress(2, cc.credentials.b64url.b64url_decode(two["lst"]))
    assert [lst[i] for i in range(12)] == two["status_0_to_11"]
    assert CWT_STATUS_CLAIM == 65535
    assert b"\x19\xff\xff" in _hex("referenced_token_cwt.md")


def test_packing_round_trips_and_refuses_bombs() -> None:
    lst = StatusList(1000, 2)
    for i, v in ((0, 1), (3, 2), (999, 3)):
        lst[i] = v
    back = StatusList.decompress(2, lst.compress())
    assert [back[i] for i in (0, 1, 3, 999)] == [1, 0, 2, 3]
    with pytest.raises(cc.CredentialError) as info:
        StatusList.decompress(2, bytes(StatusList(40_000_000, 1).compress()), max_inflated=1024)
    assert info.value.code is ReasonCode.INPUT_TOO_LARGE


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _one(world: World) -> cc.ResidentRecord:
    h = world.household()
    return dataclasses.replace(h, request=dataclasses.replace(h.request, members=(0,)))


def _revocation(result: cc.VerificationResult) -> tuple[Outcome, ReasonCode]:
    check = next(c for c in result.checks if c.name is CheckName.REVOCATION)
    return check.outcome, check.code


def _offline(world: World, lists: Path, *, clock: float | None = None) -> cc.Verifier:
    kwargs = {} if clock is None else {"clock": lambda: clock}
    return cc.Verifier(trust=world.issuer.trust_export(), status_lists=StatusListSource(directory=lists), **kwargs)


def _online(world: World, lists: Path) -> cc.Verifier:
    return cc.Verifier(trust=world.issuer.trust_export(), registry=cc.OnlineRegistry.of(world.chain,
                       world.registry.address), status_lists=StatusListSource(directory=lists))


def test_both_forms_carry_the_same_reference_and_the_paper_qr_stays_in_budget(world: World) -> None:
    cred = world.issue_anchored(_one(world))
    paper = decode_qr_text(qr_text(cred.paper_cose or b""))
    status = world.issuer.credential_status(cred)
    assert paper.status == {"status_list": {"idx": status.idx, "uri": status.uri}}
    assert make_qr(qr_text(cred.paper_cose or b"", cred.paper_receipt)).version <= 22


def test_revoked_suspended_reinstated_superseded_offline(world: World, tmp_path: Path) -> None:
    a, b = world.issuer.issue(_one(world)), world.issuer.issue(world.seal())
    world.issuer.publish_status(tmp_path / "p0", anchor=False)
    assert _revocation(_offline(world, tmp_path / "p0").verify(a)) == (Outcome.PASSED, ReasonCode.OK)
    world.issuer.suspend(a)
    world.issuer.revoke_in_list(b)
    world.issuer.publish_status(tmp_path / "p1", anchor=False)
    verifier = _offline(world, tmp_path / "p1")
    assert _revocation(verifier.verify(a)) == (Outcome.FAILED, ReasonCode.SUSPENDED)
    assert _revocation(verifier.verify(qr_text(a.paper_cose or b""))) == (Outcome.FAILED, ReasonCode.SUSPENDED)
    assert verifier.verify(b).verdict is cc.Verdict.INVALID
    assert _revocation(verifier.verify(b)) == (Outcome.FAILED, ReasonCode.REVOKED)
    world.issuer.reinstate(a)
    world.issuer.publish_status(tmp_path / "p2", anchor=False)
    assert _revocation(_offline(world, tmp_path / "p2").verify(a)) == (Outcome.PASSED, ReasonCode.OK)
    world.issuer.supersede(a)
    with pytest.raises(JournalError) as info:
        world.issuer.reinstate(b)  # revocation is final
    assert info.value.code is ReasonCode.JOURNAL_CONFLICT
    world.issuer.publish_status(tmp_path / "p3", anchor=False)
    assert _revocation(_offline(world, tmp_path / "p3").verify(a)) == (Outcome.FAILED, ReasonCode.SUPERSEDED)


def test_expired_wrong_sub_out_of_range_and_no_list(world: World, tmp_path: Path) -> None:
    cred = world.issuer.issue(_one(world))
    world.issuer.publish_status(tmp_path / "p", anchor=False, valid_seconds=60)
    now = world.issuer.config.key_created_at or 0
    late = _offline(world, tmp_path / "p", clock=float(now + 3600 * 24))
    result = late.verify(cred)
    assert _revocation(result)[1] in {ReasonCode.STATUS_LIST_EXPIRED}
    assert _revocation(_offline(world, tmp_path / "empty").verify(cred)) == (
        Outcome.UNKNOWN, ReasonCode.STATUS_LIST_UNAVAILABLE)
    # a list published under another uri but served for ours: sub mismatch
    uri = world.issuer.status_list_uri
    token = parse_token((tmp_path / "p" / "1").read_bytes())
    source = StatusListSource()
    source._by_uri = {uri: (dataclasses.replace(token, sub=uri + "x"), None)}  # what a wrong file would give
    source.directory = tmp_path
    v = cc.Verifier(trust=world.issuer.trust_export(), status_lists=source)
    assert _revocation(v.verify(cred)) == (Outcome.UNKNOWN, ReasonCode.STATUS_LIST_SUB_MISMATCH)
    small = StatusList(16, 2)
    short = cc.status.sign_jwt(small, world.issuer.key, sub=uri, iat=now, exp=now + 10**9, ttl=60,
                               iss="urn:civiccert:lg:122076")
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "1").write_text(short)
    assert _revocation(_offline(world, tmp_path / "short").verify(cred)) == (
        Outcome.FAILED, ReasonCode.STATUS_INDEX_OUT_OF_RANGE)


def test_list_signed_by_another_city_is_not_trusted(world: World, tmp_path: Path) -> None:
    cred = world.issuer.issue(_one(world))
    other = make_world(tmp_path / "o", code="131016", name="千代田区", chain=world.chain, registry=world.registry)
    forged = StatusList(world.issuer._status.list_size, 2)
    forged[world.issuer.credential_status(cred).idx] = Status.INVALID
    now = int(other.issuer.config.key_created_at or 0)
    for iss in ("urn:civiccert:lg:131016", "urn:civiccert:lg:122076"):
        (tmp_path / iss[-6:]).mkdir()
        (tmp_path / iss[-6:] / "1").write_text(cc.status.sign_jwt(
            forged, other.issuer.key, sub=world.issuer.status_list_uri, iat=now, exp=now + 10**6, ttl=60, iss=iss))
    trust = world.issuer.trust_export().merged(other.issuer.trust_export())
    for folder, code in (("131016", ReasonCode.ISSUER_MISMATCH), ("122076", ReasonCode.KEY_UNKNOWN)):
        v = cc.Verifier(trust=trust, status_lists=StatusListSource(directory=tmp_path / folder))
        assert _revocation(v.verify(cred)) == (Outcome.UNKNOWN, code)


def test_anchored_publication_rolled_back_and_unanchored(world: World, tmp_path: Path) -> None:
    cred = world.issue_anchored(_one(world))
    _, error = world.issuer.publish_status(tmp_path / "p0")
    assert error is None
    assert _revocation(_online(world, tmp_path / "p0").verify(cred)) == (Outcome.PASSED, ReasonCode.OK)
    world.issuer.suspend(cred)  # list only: no on-chain fast path hides the list's answer
    world.issuer.publish_status(tmp_path / "p1")
    assert _revocation(_online(world, tmp_path / "p1").verify(cred)) == (Outcome.FAILED, ReasonCode.SUSPENDED)
    assert _revocation(_online(world, tmp_path / "p0").verify(cred)) == (
        Outcome.UNKNOWN, ReasonCode.STATUS_LIST_ROLLED_BACK)
    world.issuer.publish_status(tmp_path / "fork", anchor=False)  # signed, never anchored
    assert _revocation(_online(world, tmp_path / "fork").verify(cred)) == (
        Outcome.UNKNOWN, ReasonCode.STATUS_LIST_UNANCHORED)


def test_publication_costs_one_transaction_under_50k_gas(world: World, tmp_path: Path) -> None:
    creds = list(world.issuer.issue_many(_one(world) for _ in range(20)))
    for cred in creds[:10]:
        world.issuer.revoke_in_list(cred)
    publication, _ = world.issuer.publish_status(tmp_path / "p")
    registry = world.issuer.registry
    assert registry is not None
    assert registry.status_lists_root(world.issuer.config.municipality_code) == publication.root
    outcome = registry.publish_status_lists(b"\x01" * 32)
    assert outcome.gas_used <= 50_000


@pytest.mark.skipif(shutil.which("node") is None
                    or not (ROOT / "node_modules" / "@sd-jwt" / "jwt-status-list").is_dir(),
                    reason="needs node and node_modules/@sd-jwt/jwt-status-list (run scripts/setup)")
def test_interop_with_sd_jwt_jwt_status_list(world: World, tmp_path: Path) -> None:
    creds = [world.issuer.issue(_one(world)) for _ in range(3)]
    world.issuer.revoke_in_list(creds[0])
    world.issuer.suspend(creds[1])
    world.issuer.publish_status(tmp_path / "p", anchor=False)
    script = ROOT / "tests" / "interop" / "status_list_interop.mjs"
    idx = [world.issuer.credential_status(c).idx for c in creds]
    out = subprocess.run(["node", str(script), "read", str(tmp_path / "p" / "1"), *map(str, idx)],
                         capture_output=True, text=True, check=True, timeout=60, cwd=ROOT)
    assert json.loads(out.stdout)["statuses"] == [1, 2, 0]
    made = subprocess.run(["node", str(script), "create", "2", "1,2,0,3,0,1,0,1,1,2,3,3"],
                          capture_output=True, text=True, check=True, timeout=60, cwd=ROOT)
    theirs = json.loads(made.stdout)
    lst = StatusList.decompress(2, cc.credentials.b64url.b64url_decode(theirs["lst"]))
    assert [lst[i] for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_bulk_run_asks_the_node_about_a_list_once(world: World, tmp_path: Path) -> None:
    """Many credentials on one list: its anchoring is read from the chain once per run, with the same answer
    for each (a rolled-back publication stays UNKNOWN for every credential of the run)."""
    creds = [world.issue_anchored(_one(world)) for _ in range(3)]
    world.issuer.publish_status(tmp_path / "p0")
    verifier = _online(world, tmp_path / "p0")
    chain = verifier._registry.registry  # type: ignore[union-attr]
    calls: list[str] = []
    real = chain.status_lists_root

    def counted(code: str) -> bytes | None:
        calls.append(code)
        return real(code)

    chain.status_lists_root = counted
    assert [_revocation(r) for r in verifier.verify_many(creds * 2)] == [(Outcome.PASSED, ReasonCode.OK)] * 6
    assert len(calls) == 1
    world.issuer.publish_status(tmp_path / "p1")
    assert [_revocation(r) for r in verifier.verify_many(creds)] == [
        (Outcome.UNKNOWN, ReasonCode.STATUS_LIST_ROLLED_BACK)] * 3
    assert len(calls) == 2
