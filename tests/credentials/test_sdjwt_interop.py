"""Interop with @sd-jwt/sd-jwt-vc 0.19.0 through tests/interop/sdjwt_interop.mjs (JSON over stdin/stdout)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey, public_key_from_jwk
from civiccert.credentials.sdjwt import Sd
from civiccert.errors import CredentialError, ReasonCode

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "interop" / "sdjwt_interop.mjs"
NOW = 1_800_000_000

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        shutil.which("node") is None or not (ROOT / "node_modules" / "@sd-jwt" / "sd-jwt-vc").is_dir(),
        reason="needs node and node_modules/@sd-jwt (run scripts/setup)",
    ),
]


@pytest.fixture(scope="module", params=["compiled", "python"])
def exchange(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Our side issues with the compiled builder and with the Python path (CIVICCERT_PURE_PYTHON=1's)."""
    if request.param == "compiled" and sdjwt._sdissue_c is None:
        pytest.skip("the compiled builder is not loaded (CIVICCERT_PURE_PYTHON=1, or not built: pip install -e .)")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "python":
            patch.setattr(sdjwt, "_sdissue_c", None)
        yield _exchange()


def _exchange() -> dict[str, Any]:
    issuer, holder = IssuerKey.generate(), IssuerKey.generate()
    claims = {
        "iss": "urn:civiccert:lg:122076",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "vct": "urn:civiccert:vct:juminhyo:1",
        "household": {Sd("address"): "千葉県松戸市小根本7番地の8"},
        "members": [Sd({Sd("name"): "山田太郎", Sd("birth_date"): "1980-01-01"}), Sd({Sd("name"): "山田花子"})],
        "odd": {Sd("name"): "𠮷野 葛\U000e0100 \u845b\ufe00 \"\\ \u2028\x00", Sd("n"): [Sd(-(10**20)), True, None]},
    }
    credential = sdjwt.issue(claims, issuer, holder_jwk=holder.public_jwk())
    presentation = sdjwt.present(
        credential,
        ["members[1].name", "household.address"],
        holder_key=holder,
        aud="https://bank.example",
        nonce="n-42",
        now=NOW,
    )
    request = {
        "issuer_jwk": issuer.public_jwk(),
        "credential": credential,
        "presentation": presentation,
        "aud": "https://bank.example",
        "nonce": "n-42",
        "now": NOW,
    }
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    result["expected"] = sdjwt.strip_sd(claims)
    return result


def test_they_verify_our_credential(exchange: dict[str, Any]) -> None:
    assert exchange["credential"]["ok"], exchange["credential"].get("error")
    got = exchange["credential"]["claims"]
    for name, value in exchange["expected"].items():
        assert got[name] == value


def test_they_verify_our_presentation_with_key_binding(exchange: dict[str, Any]) -> None:
    result = exchange["presentation"]
    assert result["ok"], result.get("error")
    assert result["claims"]["members"] == [{"name": "山田花子"}]
    assert result["claims"]["household"] == {"address": "千葉県松戸市小根本7番地の8"}
    assert result["kb"]["nonce"] == "n-42"


def test_we_verify_their_presentation_with_decoys_and_key_binding(exchange: dict[str, Any]) -> None:
    theirs = exchange["theirs"]
    key = public_key_from_jwk(theirs["issuer_jwk"])
    result = sdjwt.verify(
        theirs["token"],
        resolve_key=lambda _h, _p: key,
        now=NOW,
        require_key_binding=True,
        aud=theirs["aud"],
        nonce=theirs["nonce"],
    )
    assert result.claims["name"] == "山田花子"
    assert result.claims["address"] == {"locality": "松戸市", "street": "小根本7番地の8"}
    assert result.claims["nationalities"] == ["US"]
    assert "birth_date" not in result.claims
    assert result.key_binding is not None
    full = sdjwt.verify(theirs["issued"], resolve_key=lambda _h, _p: key, now=NOW)
    assert full.claims["nationalities"] == ["JP", "US"]


def test_their_presentation_with_a_duplicated_disclosure_is_refused_by_us(exchange: dict[str, Any]) -> None:
    """@sd-jwt 0.19.0 accepts a disclosure sent twice; RFC 9901 §7.1 says reject, and we do."""
    issued = exchange["theirs"]["issued"]
    first = issued.split("~")[1]
    key = public_key_from_jwk(exchange["theirs"]["issuer_jwk"])
    with pytest.raises(CredentialError) as exc:
        sdjwt.verify(issued + first + "~", resolve_key=lambda _h, _p: key, now=NOW)
    assert exc.value.code is ReasonCode.DISCLOSURE_DUPLICATE
